/**
 * Property tests (fast-check): whatever bytes a peer sends, the decoders, the
 * frame opener and the client state machine answer with a typed VollyError
 * or a valid result — never another exception. Inputs are bounded (a little
 * past each size limit), both raw random bytes and mutations of valid
 * messages, which get past the protobuf parser far more often.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { getAead, getKem, randomBytes } from '../src/backend/node.js';
import { equalBytes } from '../src/bytes.js';
import { type ClientOutput, ClientSession } from '../src/client/session.js';
import { FrameError, VollyError } from '../src/errors.js';
import { FrameKind, FrameOpener, FrameSealer } from '../src/frame.js';
import type { Kem } from '../src/kem/types.js';
import {
  decodeControl,
  decodeHandshake,
  decodeResponse,
  encodeControl,
  encodeHandshake,
  encodeResponse,
  MAX_CONTROL_BYTES,
  MAX_HANDSHAKE_BYTES,
} from '../src/messages.js';
import { deriveKeys, transcriptHash } from '../src/schedule.js';

const RUNS = 2000;
const aead = getAead();
const kem = getKem('ML-KEM-768');
const SID = 'fuzz-session-id-0123456789';
const KEY = new Uint8Array(32).fill(0x11);

/** Runs fn; a VollyError is an acceptable answer, anything else thrown fails the property. */
function typed<T>(fn: () => T): { ok: true; value: T } | { ok: false; error: VollyError } {
  try {
    return { ok: true, value: fn() };
  } catch (error) {
    if (error instanceof VollyError) return { ok: false, error };
    throw error;
  }
}

/** Valid message bytes with 1-6 random byte edits and an optional truncation or extension. */
function mutationsOf(valid: readonly Uint8Array[]): fc.Arbitrary<Uint8Array> {
  return fc
    .record({
      base: fc.constantFrom(...valid),
      edits: fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
      cut: fc.option(fc.nat(), { nil: undefined }),
      tail: fc.uint8Array({ maxLength: 8 }),
    })
    .map(({ base, edits, cut, tail }) => {
      const out = new Uint8Array(base.length + tail.length);
      out.set(base);
      out.set(tail, base.length);
      for (const [i, v] of edits) out[i % out.length] = v;
      return cut === undefined ? out : out.subarray(0, cut % (out.length + 1));
    });
}

const bytesUpTo = (n: number) => fc.uint8Array({ maxLength: n });
/** Mostly short random inputs (where parsers branch), some around `limit`: a random head repeated to that length. */
const randomInput = (limit: number) =>
  fc.oneof(
    { arbitrary: bytesUpTo(256), weight: 8 },
    {
      arbitrary: fc
        .tuple(fc.integer({ min: limit - 64, max: limit + 64 }), fc.uint8Array({ minLength: 1, maxLength: 64 }))
        .map(([n, head]) => Uint8Array.from({ length: n }, (_, i) => head[i % head.length] as number)),
      weight: 1,
    },
  );

const pk = kem.keygen(new Uint8Array(64).fill(7)).publicKey;
const validHandshakes = [
  encodeHandshake({ algorithm: 'ML-KEM-768', publicKey: pk, sessionId: SID }),
  encodeHandshake({ algorithm: 'X-Wing', publicKey: new Uint8Array(3), sessionId: 'a'.repeat(64) }),
];
const validResponses = [
  encodeResponse({ success: true, algorithm: 'ML-KEM-768', sessionId: SID, ciphertext: new Uint8Array(1088).fill(3) }),
  encodeResponse({ success: false, error: 'refused' }),
];
const validControls = [
  encodeControl({ case: 'connect', accessToken: 'eyJ.a.b', query: 'join_request=x&reconnect=1' }),
  encodeControl({ case: 'error', code: 4401, message: 'token' }),
];

describe('decoders', () => {
  // Predicates return booleans (fast-check reports the counterexample); expect() per run costs more than the decode.
  const protocolError = (r: ReturnType<typeof typed>) => !r.ok && r.error.code === 'ERR_PROTOCOL';
  const isString = (...v: unknown[]) => v.every((x) => typeof x === 'string');
  const checkHandshake = (bytes: Uint8Array) => {
    const r = typed(() => decodeHandshake(bytes));
    return r.ok ? /^[A-Za-z0-9_-]{16,64}$/.test(r.value.sessionId) && r.value.publicKey instanceof Uint8Array && isString(r.value.algorithm) : protocolError(r);
  };
  const checkResponse = (bytes: Uint8Array) => {
    const r = typed(() => decodeResponse(bytes));
    return r.ok
      ? typeof r.value.success === 'boolean' && r.value.ciphertext instanceof Uint8Array && isString(r.value.algorithm, r.value.sessionId, r.value.error)
      : protocolError(r);
  };
  const checkControl = (bytes: Uint8Array) => {
    const r = typed(() => decodeControl(bytes));
    if (!r.ok) return protocolError(r);
    const c = r.value;
    return c.case === 'connect'
      ? isString(c.accessToken, c.query)
      : c.case === 'error' && Number.isInteger(c.code) && c.code >= 0 && c.code <= 0xffffffff && isString(c.message);
  };

  test('decodeHandshake on random bytes and on mutated handshakes', () => {
    fc.assert(fc.property(randomInput(MAX_HANDSHAKE_BYTES), checkHandshake), { numRuns: RUNS });
    fc.assert(fc.property(mutationsOf(validHandshakes), checkHandshake), { numRuns: RUNS });
  });

  test('decodeResponse on random bytes and on mutated responses', () => {
    fc.assert(fc.property(randomInput(MAX_HANDSHAKE_BYTES), checkResponse), { numRuns: RUNS });
    fc.assert(fc.property(mutationsOf(validResponses), checkResponse), { numRuns: RUNS });
  });

  test('decodeControl on random bytes and on mutated controls', () => {
    fc.assert(fc.property(randomInput(2048), checkControl), { numRuns: RUNS });
    fc.assert(fc.property(mutationsOf(validControls), checkControl), { numRuns: RUNS });
  });

  test('deeply nested groups and huge length claims stay typed errors', () => {
    const startGroups = new Uint8Array(MAX_HANDSHAKE_BYTES).fill(0x0b); // field 1, wire type 3, nested
    const controlGroups = new Uint8Array(MAX_CONTROL_BYTES).fill(0x1b); // field 3, wire type 3, 256 Ki deep
    for (const decode of [decodeHandshake, decodeResponse]) expect(typed(() => decode(startGroups)).ok).toBe(false);
    expect(typed(() => decodeControl(controlGroups)).ok).toBe(false);
    const claim = Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f); // field 1 claims 4 GiB
    for (const decode of [decodeHandshake, decodeResponse, decodeControl]) expect(typed(() => decode(claim)).ok).toBe(false);
  });

  test('inputs past the bound are refused by length alone', () => {
    const t0 = performance.now();
    expect(typed(() => decodeHandshake(new Uint8Array(8 * 1024 * 1024))).ok).toBe(false);
    expect(typed(() => decodeControl(new Uint8Array(MAX_CONTROL_BYTES + 1))).ok).toBe(false);
    expect(performance.now() - t0).toBeLessThan(1000);
  });
});

describe('FrameOpener.open', () => {
  const sealer = new FrameSealer(KEY, aead);
  const validFrames = [sealer.seal(FrameKind.LiveKitBinary, Uint8Array.of(1, 2, 3))];
  const CODES = ['ERR_FRAME_SHORT', 'ERR_FRAME_KIND', 'ERR_FRAME_AUTH', 'ERR_FRAME_SIZE'];

  const frameError = (r: ReturnType<typeof typed>) => !r.ok && r.error instanceof FrameError && CODES.includes(r.error.code);

  test('random bytes: always a FrameError with a known code', () => {
    fc.assert(
      fc.property(randomInput(1024), (bytes) => frameError(typed(() => new FrameOpener(KEY, aead, 1024).open(bytes)))),
      { numRuns: RUNS },
    );
  });

  test('mutated genuine frame: opens only when the bytes are unchanged, else FrameError', () => {
    const genuine = validFrames[0] as Uint8Array;
    fc.assert(
      fc.property(mutationsOf(validFrames), (bytes) => {
        const r = typed(() => new FrameOpener(KEY, aead, 1024).open(bytes));
        return r.ok ? equalBytes(bytes, genuine) : frameError(r);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('ClientSession.receive', () => {
  const keyPair = kem.keygen(new Uint8Array(64).fill(9));
  // One genuine server answer for this key pair and session id, reused by every run.
  const { ciphertext, sharedSecret } = kem.encapsulate(keyPair.publicKey);
  const response = encodeResponse({ success: true, algorithm: kem.algorithm, sessionId: SID, ciphertext });
  const s2c = deriveKeys(sharedSecret, transcriptHash(kem.algorithm, SID, keyPair.publicKey, ciphertext)).s2c;
  // Runs past the handshake test the state machine, not the KEM: decapsulation is replayed.
  const replayKem: Kem = { ...kem, decapsulate: () => sharedSecret.slice() };
  const genuine = [
    new FrameSealer(s2c, aead).seal(FrameKind.LiveKitBinary, Uint8Array.of(0x0a, 0)),
    new FrameSealer(s2c, aead).seal(FrameKind.Control, encodeControl({ case: 'error', code: 401, message: 'no' })),
  ];
  const TYPES = ['send', 'keyed', 'message', 'failed'];

  const fresh = (sessionKem: Kem = kem) => {
    const s = new ClientSession({ kem: sessionKem, aead, mode: 'in-band', keyPair, sessionId: SID, accessToken: 't', query: '', randomBytes });
    s.start();
    return s;
  };
  /** Outputs are of known types; a failure comes alone, with an integer close code, and leaves the session failed. */
  const valid = (session: ClientSession, out: ClientOutput[]) => {
    if (!out.every((o) => TYPES.includes(o.type))) return false;
    const failed = out.find((o) => o.type === 'failed');
    return !failed || (failed.type === 'failed' && out.length === 1 && session.state === 'failed' && Number.isInteger(failed.failure.closeCode));
  };

  test('the genuine response keys the session (sanity for the runs below)', () => {
    const s = fresh();
    expect(s.receive(response).map((o) => o.type)).toEqual(['keyed', 'send']);
    expect(s.receive(genuine[0] as Uint8Array).map((o) => o.type)).toEqual(['message']);
    const replayed = fresh(replayKem);
    replayed.receive(response);
    expect(replayed.receive(genuine[0] as Uint8Array).map((o) => o.type)).toEqual(['message']);
  });

  test('while handshaking: random bytes and mutated responses', () => {
    const prop = (bytes: Uint8Array) => {
      const s = fresh();
      return valid(s, s.receive(bytes));
    };
    fc.assert(fc.property(randomInput(MAX_HANDSHAKE_BYTES), prop), { numRuns: RUNS });
    fc.assert(fc.property(mutationsOf([response, ...validResponses]), prop), { numRuns: 1000 });
  });

  test('once keyed: random bytes and mutated sealed frames, several in a row', () => {
    const prop = (frames: Uint8Array[]) => {
      const s = fresh(replayKem);
      s.receive(response);
      return frames.every((f) => valid(s, s.receive(f)));
    };
    const frame = fc.oneof(bytesUpTo(600), mutationsOf(genuine), fc.constantFrom(...genuine));
    fc.assert(fc.property(fc.array(frame, { minLength: 1, maxLength: 4 }), prop), { numRuns: 1000 });
  });
});
