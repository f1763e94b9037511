// Live fuzzing of the volly-pq proxy in front of a real LiveKit: generated
// (fast-check) and mutated (seeded from recorded real sessions) upgrades,
// handshakes, tokens and sealed frames, many connections at once, with two
// independent leak oracles (fuzz-live-oracle.ts):
//   - the proxy's own counters: upstream dials and client_to_upstream frames
//     must grow only by what honest traffic (seed sessions, canaries, inputs
//     whose frames did open) accounts for;
//   - LiveKit's side: its log ("starting RTC session" per participant, by
//     identity) and a watcher participant that would see metadata that only a
//     fuzzed frame could set.
// Honest canary joins run alongside to show the proxy keeps serving.
// Used by fuzz-live.test.ts (short) and test/scripts/fuzz-live.ts (long runs).
// The rest: fuzz-live-types (vocabulary), -target (LiveKit, proxy, seeds),
// -exec (one input per class), -attacks and -session (what it sends and how
// a connection is judged), -report (the verdict).

import type { KemAlgorithm } from '@volly/shared';
import { openRawPq } from '../../harness/raw-pq.ts';
import { keepFinding } from './findings.ts';
import { type InputContext, makeGens } from './fuzz-live-attacks.ts';
import { runInput } from './fuzz-live-exec.ts';
import { liveKitJoins, metricsSnapshot, Watcher } from './fuzz-live-oracle.ts';
import { withTimeout } from './fuzz-live-session.ts';
import { mint } from './fuzz-live-target.ts';
import {
  ALGS,
  ALLOWED,
  DEFAULT_MIX,
  type Finding,
  type FuzzClass,
  type FuzzStats,
  type FuzzTarget,
  type InputResult,
  type LeakReport,
  type RunOptions,
} from './fuzz-live-types.ts';
import { Prng } from './mutate.ts';

class Runner {
  readonly stats: FuzzStats;
  #index = 0;
  readonly #inFlight = new Map<number, { cls: FuzzClass; at: number }>();
  readonly #ctx: InputContext;
  readonly #mix: Array<[FuzzClass, number]>;
  readonly #mixTotal: number;

  private readonly t: FuzzTarget;
  private readonly opts: RunOptions;
  constructor(t: FuzzTarget, opts: RunOptions) {
    this.t = t;
    this.opts = opts;
    this.stats = {
      inputs: 0,
      perClass: {},
      outcomes: {},
      byCode: {},
      findings: [],
      findingCount: 0,
      crashes: 0,
      proxyCrashes: [],
      canaries: { ok: 0, failed: 0, maxMs: 0, failures: [] },
      observedDials: 0,
      observedForwarded: 0,
      meanMs: {},
      cpuMs: 0,
      durationMs: 0,
      leaks: undefined as unknown as LeakReport,
    };
    this.#ctx = { t, gen: makeGens(t, opts.seed), expected: { frames: 0, dials: 0, joins: 0 } };
    this.#mix = Object.entries({ ...DEFAULT_MIX, ...opts.mix }).filter(([, w]) => w > 0) as Array<[FuzzClass, number]>;
    this.#mixTotal = this.#mix.reduce((a, [, w]) => a + w, 0);
  }

  #classOf(r: Prng): FuzzClass {
    let x = r.int(this.#mixTotal);
    for (const [c, w] of this.#mix) {
      if (x < w) return c;
      x -= w;
    }
    return 'hello-mutated';
  }

  async run(): Promise<FuzzStats> {
    const { opts, t } = this;
    const before = await metricsSnapshot(t.proxy);
    const joinsBefore = liveKitJoins(t.livekit);
    const watcher = new Watcher(t);
    await watcher.start();
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    const deadline = started + opts.timeLimitMs;
    const onCrash = () => this.stats.crashes++;
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    let stop = false;
    const canary = (async () => {
      let n = 0;
      while (!stop) {
        await this.#canary(n++);
        await new Promise((r) => setTimeout(r, opts.canaryEveryMs ?? 2000));
      }
    })();
    // a timer, not the lanes, reports progress: a silent report means a blocked event loop
    const progress = setInterval(() => {
      const now = performance.now();
      let oldest: string | undefined;
      let age = 0;
      for (const [i, f] of this.#inFlight)
        if (now - f.at > age) {
          age = now - f.at;
          oldest = `#${i} ${f.cls} for ${(age / 1000).toFixed(0)} s`;
        }
      opts.onProgress?.({ done: this.stats.inputs, elapsedMs: now - started, findings: this.stats.findingCount, ...(oldest ? { oldest } : {}) });
    }, opts.progressEveryMs ?? 10_000);
    const lane = async () => {
      while (!stop) {
        const i = this.#index++;
        if (i >= opts.inputs || performance.now() > deadline) break;
        await this.#one(i);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, lane));
    clearInterval(progress);
    stop = true;
    await canary;
    await this.#canary(-1); // one more honest join after the storm
    this.stats.durationMs = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    this.stats.cpuMs = (cpu.user + cpu.system) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    await watcher.stop();
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    this.stats.crashes += t.proxy.crashes.length + (t.proxy.exited() ? 1 : 0);
    this.stats.proxyCrashes = [...t.proxy.crashes];
    const after = await metricsSnapshot(t.proxy);
    const joinsAfter = liveKitJoins(t.livekit);
    const victim = (m: Map<string, number>) => (m.get('fz-victim') ?? 0) + (m.get('fz-victim-bound') ?? 0);
    const dialsDelta = { pq: after.dialsPq - before.dialsPq, classical: after.dialsClassical - before.dialsClassical };
    this.stats.leaks = {
      observedByClient: this.stats.findings.filter((f) => f.kind === 'leak').length,
      dialsDelta,
      dialsExpected: this.#ctx.expected.dials,
      dialsUnaccounted: dialsDelta.pq + dialsDelta.classical - this.#ctx.expected.dials,
      framesToUpstreamDelta: after.c2u - before.c2u,
      framesToUpstreamExpected: this.#ctx.expected.frames,
      framesUnaccounted: after.c2u - before.c2u - this.#ctx.expected.frames,
      liveKitJoinsForVictim: victim(joinsAfter.byIdentity) - victim(joinsBefore.byIdentity),
      liveKitJoinsTotal: joinsAfter.total - joinsBefore.total,
      liveKitJoinsExpectedMax: this.#ctx.expected.joins + 1 + watcher.reconnects,
      watcherSawLeakedMetadata: watcher.leaked,
      watcherReconnects: watcher.reconnects,
    };
    return this.stats;
  }

  async #canary(n: number): Promise<void> {
    const t0 = performance.now();
    const alg = ALGS[Math.abs(n) % 2] as KemAlgorithm;
    this.#ctx.expected.dials++;
    this.#ctx.expected.joins++;
    try {
      const token = await mint(this.t.proxy, `canary-${n}`, 'fz-canary-room', '5m');
      const raw = await openRawPq(this.t.proxy.wsUrl, token, { algorithm: alg });
      raw.send({ case: 'ping', value: BigInt(Date.now()) });
      this.#ctx.expected.frames++;
      await raw.waitFor((m) => m.message.case === 'pong', 10_000);
      raw.ws.close(1000);
      await raw.closed;
      this.stats.canaries.ok++;
      this.stats.canaries.maxMs = Math.max(this.stats.canaries.maxMs, performance.now() - t0);
    } catch (err) {
      this.stats.canaries.failed++;
      if (this.stats.canaries.failures.length < 20) this.stats.canaries.failures.push(String((err as Error).message).slice(0, 200));
    }
  }

  async #one(i: number): Promise<void> {
    const r = new Prng((this.opts.seed * 2654435761 + i * 40503) >>> 0);
    const cls = this.#classOf(r);
    let res: InputResult;
    const t0 = performance.now();
    this.#inFlight.set(i, { cls, at: t0 });
    let detail = '';
    const note = (d: string) => {
      detail = d;
    };
    try {
      res = await withTimeout(runInput(this.#ctx, cls, r, note), 30_000);
    } catch (err) {
      res = { outcome: `stuck: ${(err as Error).message.slice(0, 60)}` };
    }
    this.#inFlight.delete(i);
    const s = this.stats;
    s.inputs++;
    s.perClass[cls] = (s.perClass[cls] ?? 0) + 1;
    const n = s.perClass[cls] as number;
    s.meanMs[cls] = (s.meanMs[cls] ?? 0) + (performance.now() - t0 - (s.meanMs[cls] ?? 0)) / n;
    if (!s.outcomes[cls]) s.outcomes[cls] = {};
    const oc = s.outcomes[cls];
    oc[res.outcome] = (oc[res.outcome] ?? 0) + 1;
    const code = /^(http \d+|close \d+)/.exec(res.outcome)?.[1] ?? res.outcome;
    s.byCode[code] = (s.byCode[code] ?? 0) + 1;
    if (res.dialed) {
      s.observedDials++;
      this.#ctx.expected.dials++;
      this.#ctx.expected.joins++;
    }
    if (res.forwarded) {
      s.observedForwarded += res.forwarded;
      this.#ctx.expected.frames += res.forwarded;
    }
    const push = (kind: Finding['kind']) => {
      const f: Finding = { index: i, cls, kind, outcome: res.outcome, detail: (res.leak ? `${res.leak}; ` : '') + detail.slice(0, 600) };
      if (keepFinding(s, f, 500)) this.opts.onFinding?.(f);
    };
    if (res.leak) push('leak');
    else if (res.outcome.startsWith('stuck')) push('stuck');
    else if (/close 1011/.test(res.outcome)) push('internal-error');
    else if (!ALLOWED[cls].test(res.outcome)) push('unexpected-outcome');
  }
}

export function runFuzz(target: FuzzTarget, opts: RunOptions): Promise<FuzzStats> {
  return new Runner(target, opts).run();
}
