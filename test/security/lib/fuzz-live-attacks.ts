// What the live fuzzer sends once it has keys: replayed, reflected, spliced
// and malformed VollyConnect frames, attacks on a joined session's sealed
// frames, and the fast-check samples (tokens, handshakes, protobuf, control
// messages) the input classes draw from, deterministic per seed.

import { SignalRequest } from '@livekit/protocol';
import { encodeControl, FrameKind, FrameSealer, getAead, randomBytes } from '@volly/shared';
import fc from 'fast-check';
import { openRawPq, type RawPq } from '../../harness/raw-pq.ts';
import { waitClosed } from './fuzz-live-session.ts';
import { mint } from './fuzz-live-target.ts';
import { ALGS, type FuzzTarget, type InputResult, type Keyed } from './fuzz-live-types.ts';
import { type ControlSpec, controlArb, handshakeArb, hugeProtobufArb, protobufArb } from './generators.ts';
import { mutate, mutateToken, type Prng } from './mutate.ts';
import { tokenArb } from './token-arbs.ts';

const aead = getAead();

/** Batches of fast-check samples, deterministic per (seed, batch). */
class Samples<T> {
  #buf: T[] = [];
  #batch = 0;
  private readonly arb: fc.Arbitrary<T>;
  private readonly seed: number;
  constructor(arb: fc.Arbitrary<T>, seed: number) {
    this.arb = arb;
    this.seed = seed;
  }
  next(): T {
    // small batches: a batch is generated synchronously, and the proxy shares this event loop
    if (this.#buf.length === 0) this.#buf = fc.sample(this.arb, { seed: this.seed + 7919 * this.#batch++, numRuns: 32 });
    return this.#buf.pop() as T;
  }
}

/** The samples each input class draws from. */
export interface Gens {
  token: Samples<{ token: string; mayVerify: boolean }>;
  hello: Samples<Uint8Array>;
  pb: Samples<Uint8Array>;
  huge: Samples<Uint8Array>;
  control: Samples<ControlSpec>;
}

export function makeGens(t: FuzzTarget, s: number): Gens {
  return {
    token: new Samples(tokenArb(t.keys), s + 1),
    hello: new Samples(handshakeArb({ 'ML-KEM-768': t.bound['ML-KEM-768'].keyPair.publicKey, 'X-Wing': t.bound['X-Wing'].keyPair.publicKey }), s + 2),
    pb: new Samples(protobufArb, s + 3),
    huge: new Samples(hugeProtobufArb, s + 4),
    control: new Samples(controlArb(t.keys, t.openToken), s + 5),
  };
}

/** What an input runs with: the target, the samples, and the honest traffic the leak oracles must expect. */
export interface InputContext {
  readonly t: FuzzTarget;
  readonly gen: Gens;
  readonly expected: { frames: number; dials: number; joins: number };
}

/**
 * A mutation of a token's signed part (header.payload), so the signature cannot verify. (A change
 * confined to the signature segment may decode to the same signature bytes: base64url's unused
 * trailing bits, whitespace. That is the same token re-encoded, not a forgery.)
 */
export function claimsMutation(token: string, r: Prng): string {
  for (;;) {
    const m = mutateToken(token, r);
    const signed = (x: string) => x.split('.').slice(0, 2).join('.');
    if (signed(m) !== signed(token)) return m;
  }
}

export function attackFrames(t: FuzzTarget, h: Keyed, attack: number, r: Prng): Array<Uint8Array | string> {
  switch (attack) {
    case 0: {
      // counter skipped: the frame sealed as number 1 (frame 0 dropped)
      const s = new FrameSealer(h.c2s, aead);
      s.seal(FrameKind.Control, new Uint8Array(1));
      return [s.seal(FrameKind.Control, encodeControl({ case: 'connect', accessToken: t.victimToken, query: t.query }))];
    }
    case 1:
      // reflection: sealed with the server-to-client key
      return [new FrameSealer(h.s2c, aead).seal(FrameKind.Control, encodeControl({ case: 'connect', accessToken: t.victimToken, query: t.query }))];
    case 2:
      // replay of a recorded session's VollyConnect
      return [r.pick(t.seeds.connects)];
    case 3:
      // replay of a recorded sealed LiveKit frame or a recorded server frame
      return [r.pick(r.chance(0.5) ? t.seeds.sealedLiveKit : t.seeds.received)];
    case 4: {
      // kind byte swapped (the AAD no longer matches)
      const f = h.genuine.slice();
      f[0] = r.pick([0x00, 0x01, 0x02, 0x04, 0xff]);
      return [f];
    }
    case 5:
      return [r.pick(['', 'connect', JSON.stringify({ accessToken: t.victimToken })])];
    case 6:
      return [r.pick([new Uint8Array(0), Uint8Array.of(0x03), h.genuine.subarray(0, 17), h.genuine.subarray(0, h.genuine.length - 1)])];
    case 7:
      // a second handshake instead of the VollyConnect
      return [r.pick(t.seeds.handshakes)];
    case 8: {
      // the genuine frame's ciphertext under another session's keys (splice)
      const other = new FrameSealer(randomBytes(32), aead);
      return [other.seal(FrameKind.Control, encodeControl({ case: 'connect', accessToken: t.victimToken, query: t.query }))];
    }
    case 9: {
      // tag moved / ciphertext and tag swapped around
      const f = h.genuine.slice();
      const tag = f.slice(f.length - 16);
      f.copyWithin(17, 1, f.length - 16);
      f.set(tag, 1);
      return [f];
    }
    default: {
      // genuine frame with a 1-byte extension or one byte fewer in the middle
      const f = h.genuine;
      const i = 1 + r.int(f.length - 1);
      return [
        r.chance(0.5) ? Buffer.concat([f.subarray(0, i), Uint8Array.of(r.next() & 0xff), f.subarray(i)]) : Buffer.concat([f.subarray(0, i), f.subarray(i + 1)]),
      ];
    }
  }
}

export async function postJoin(ctx: InputContext, r: Prng, note: (d: string) => void): Promise<InputResult> {
  const t = ctx.t;
  const id = `fz-post-${r.next().toString(36)}`;
  const token = await mint(t.proxy, id, 'fz-post-room', '10m');
  const alg = r.pick(ALGS);
  ctx.expected.dials++;
  ctx.expected.joins++;
  let raw: RawPq;
  try {
    raw = await openRawPq(t.proxy.wsUrl, token, { algorithm: alg });
  } catch (err) {
    return { outcome: `honest join failed: ${(err as Error).message.slice(0, 60)}` };
  }
  const metadata = { case: 'updateMetadata', value: { metadata: `LEAK-${id}` } as never } as SignalRequest['message'];
  const attack = r.int(9);
  note(`post-join ${alg} attack ${attack}`);
  const seal = () => raw.session.seal(new SignalRequest({ message: metadata }).toBinary());
  switch (attack) {
    case 0: // mutated sealed frame
    case 1:
      raw.sendRaw(mutate(seal(), r, t.seeds.all));
      break;
    case 2: {
      // reorder: frames 1 then 0
      const a = seal();
      const b = seal();
      raw.sendRaw(b);
      raw.sendRaw(a);
      break;
    }
    case 3:
      // drop: frame 0 never sent
      seal();
      raw.sendRaw(seal());
      break;
    case 4:
      // replay: this session's own VollyConnect again
      raw.sendRaw(raw.sent[1] ?? (raw.sent[0] as Uint8Array));
      break;
    case 5:
      // splice: a sealed LiveKit frame recorded from another session
      raw.sendRaw(r.pick(t.seeds.sealedLiveKit));
      break;
    case 6: {
      // kind swapped to VollyControl
      const f = seal();
      f[0] = FrameKind.Control;
      raw.sendRaw(f);
      break;
    }
    case 7: {
      // duplicate: the genuine frame twice (the first opens and is forwarded; it sets no LEAK: harmless metadata)
      const f = raw.session.seal(new SignalRequest({ message: { case: 'ping', value: 1n } }).toBinary());
      raw.sendRaw(f);
      raw.sendRaw(f);
      ctx.expected.frames++;
      const code = await waitClosed(raw, 5000);
      return { outcome: code === null ? 'stuck: no close' : `close ${code}`, dialed: false };
    }
    default: {
      // sealed correctly, hostile LiveKit message: forwarded, LiveKit judges
      const f = raw.session.seal(r.chance(0.5) ? ctx.gen.pb.next() : ctx.gen.huge.next());
      raw.sendRaw(f);
      ctx.expected.frames++;
      const code = await waitClosed(raw, 1500);
      if (code === null) raw.ws.close(1000);
      await raw.closed;
      return { outcome: code === null ? 'forwarded, still open' : `forwarded, livekit closed ${code}` };
    }
  }
  const code = await waitClosed(raw, 5000);
  return { outcome: code === null ? 'stuck: no close' : `close ${code}` };
}
