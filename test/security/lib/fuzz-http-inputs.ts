// Input number i of a run, deterministic per (seed, i): a few known crash
// inputs, mutations of recorded honest requests, and fast-check specs.

import fc from 'fast-check';
import { type HttpInput, type RequestSpec, render, requestSpecArb } from './fuzz-http-gen.ts';
import { mutateSeed } from './fuzz-http-mutate.ts';
import type { HttpFuzzTarget } from './fuzz-http-target.ts';
import { Prng } from './mutate.ts';

/** The crash inputs issue 12 names, sent now and then so every run tries them. */
export const KNOWN = [
  'GET //[ HTTP/1.1\r\nHost: x\r\n\r\n',
  'POST /demo/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 4\r\n\r\nnull',
  'GET /demo/constructor HTTP/1.1\r\nHost: x\r\n\r\n',
];

export class Inputs {
  #buf = new Map<number, RequestSpec[]>();
  readonly #arb: fc.Arbitrary<RequestSpec>;
  private readonly t: HttpFuzzTarget;
  private readonly seed: number;
  constructor(t: HttpFuzzTarget, seed: number) {
    this.t = t;
    this.seed = seed;
    this.#arb = requestSpecArb(t.tokens);
  }

  /** fast-check samples in batches of 64, deterministic per (seed, batch). */
  #spec(i: number): RequestSpec {
    const batch = Math.floor(i / 64);
    let b = this.#buf.get(batch);
    if (!b) {
      if (this.#buf.size > 64) this.#buf.clear();
      b = fc.sample(this.#arb, { seed: this.seed + 7919 * batch, numRuns: 64 });
      this.#buf.set(batch, b);
    }
    return b[i % 64] as RequestSpec;
  }

  at(i: number): { input: HttpInput; source: 'known' | 'mutated' | 'generated' } {
    const r = new Prng((this.seed * 2654435761 + i * 40503) >>> 0);
    const k = r.int(100);
    if (k < 2) {
      const bytes = Buffer.from(r.pick(KNOWN));
      const [method = '', target = ''] = bytes.toString('latin1').split(/ +/);
      return { source: 'known', input: { listener: 'public', method, target, cred: 'none', tokens: [], short: false, bytes } };
    }
    if (k < 25) return { source: 'mutated', input: mutateSeed(r.pick(this.t.seeds), this.t.seeds, this.t.tokens, r) };
    const spec = this.#spec(i);
    const port = spec.listener === 'admin' ? this.t.adminPort : this.t.port;
    return { source: 'generated', input: render(spec, `127.0.0.1:${port}`) };
  }
}
