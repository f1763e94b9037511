/**
 * The volly-pq.v2 known-answer vectors (shared/test-vectors/v2/*.json, written
 * by shared/scripts/make-vectors-v2.mjs), recomputed through the public API on
 * every KEM backend (keygen from the seeds and every decapsulation) and every
 * AEAD backend (every frame), and compared byte for byte. Encapsulation is
 * random by design: it runs with the vector's fixed randomness through noble.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { describe, expect, test } from 'vitest';
import { aeadBackends, FrameKind, FrameSealer, fromHex, getAead, getKem, type Kem, type KemAlgorithm, kemBackends, toHex, v2 } from '../src/index.js';

interface Vector {
  protocol: string;
  name: string;
  algorithm: KemAlgorithm;
  bound: KemAlgorithm | null;
  inputs: {
    server_keys: { algorithm: KemAlgorithm; seed: string; not_after: number }[];
    server_key_used: number;
    ephemeral_seed: string;
    session_id: string;
    ct_s_randomness: string;
    ct_e_randomness: string;
    bound_key_seed?: string;
    ct_b_randomness?: string;
    connect: { path: string; query: string; access_token: string };
    timestamp_ms: number;
    server_now_ms: number;
    server_payload: string;
  };
  outputs: Record<string, string> & { server_public_keys: string[]; key_ids: string[]; subprotocols: string[]; retry?: v2.RetryHint };
  decisions: { type: string; code?: string; close_code?: number }[];
}

const DIR = new URL('../test-vectors/v2/', import.meta.url);
const vectors = readdirSync(DIR)
  .filter((f) => f.endsWith('.json'))
  .sort()
  .map((file) => ({ file, v: JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as Vector }));

test('the set: both algorithms unbound and bound, a rotation, a refused replay, a stale clock', () => {
  expect(vectors.map(({ file }) => file)).toEqual([
    'ml-kem-768-bound.json',
    'ml-kem-768-unbound.json',
    'replay.json',
    'rotation.json',
    'stale-clock.json',
    'x-wing-bound.json',
    'x-wing-unbound.json',
  ]);
  for (const { v } of vectors) expect(v.protocol).toBe('volly-pq.v2');
});

const NOBLE = { 'ML-KEM-768': ml_kem768, 'X-Wing': ml_kem768_x25519 };
/** The backend's KEM, encapsulating with the given randomness in order. */
function fixedKem(kem: Kem, randomness: string[]): Kem {
  const queue = [...randomness];
  return {
    ...kem,
    encapsulate: (publicKey) => {
      const r = queue.shift();
      if (r === undefined) throw new Error('no encapsulation randomness left');
      const e = NOBLE[kem.algorithm].encapsulate(publicKey, fromHex(r));
      return { ciphertext: e.cipherText, sharedSecret: e.sharedSecret };
    },
  };
}

const matrix = kemBackends().flatMap((kemBackend) => aeadBackends().map((aeadBackend) => ({ kemBackend, aeadBackend })));

describe.each(vectors)('$file', ({ v }) => {
  const { inputs: i, outputs: o } = v;
  const hex = (s: string | undefined) => fromHex(s as string);

  test.each(matrix)('replays byte for byte on $kemBackend / $aeadBackend', async ({ kemBackend, aeadBackend }) => {
    const aead = getAead(aeadBackend);
    const kemOf = (a: KemAlgorithm) => getKem(a, kemBackend);
    // Server keys and the well-known document.
    const pairs = i.server_keys.map((k) => {
      const { publicKey } = kemOf(k.algorithm).keygen(fromHex(k.seed));
      return { key: v2.staticKey(k.algorithm, publicKey, k.not_after), secretKey: fromHex(k.seed) };
    });
    expect(pairs.map((p) => toHex(p.key.publicKey))).toEqual(o.server_public_keys);
    expect(pairs.map((p) => toHex(p.key.id))).toEqual(o.key_ids);
    expect(v2.wellKnownDocument(pairs.map((p) => p.key))).toBe(o.well_known);
    const target = (pairs[i.server_key_used] as v2.ServerKeyPair).key;

    // Client first flight.
    const bound = v.bound ? { kem: kemOf(v.bound), keyPair: kemOf(v.bound).keygen(hex(i.bound_key_seed)) } : undefined;
    if (bound) expect(toHex(bound.keyPair.publicKey)).toBe(o.bound_public_key);
    const draws = [hex(i.ephemeral_seed), hex(i.session_id)];
    const client = new v2.ClientV2({
      kem: fixedKem(kemOf(v.algorithm), [i.ct_s_randomness]),
      aead,
      serverKey: target,
      connect: { path: i.connect.path, query: i.connect.query, accessToken: i.connect.access_token },
      now: () => i.timestamp_ms,
      randomBytes: () => draws.shift() as Uint8Array,
      ...(bound ? { bound: { kem: bound.kem, keyPair: { publicKey: bound.keyPair.publicKey, secretKey: hex(i.bound_key_seed) } } } : {}),
    });
    const flight = client.start();
    expect([...flight.protocols]).toEqual(o.subprotocols);
    expect(flight.query).toBe(o.url_query);
    expect(flight.protocols[1]).toBe(`volly-pq.v2.${Buffer.from(hex(o.client_hello)).toString('base64url')}`);
    expect(flight.query).toBe(`volly_early=${Buffer.from(hex(o.early_frame)).toString('base64url')}`);

    // Key schedule, step by step.
    const hello = v2.decodeClientHello(hex(o.client_hello));
    expect([toHex(hello.ctS), toHex(hello.pkE), toHex(hello.sessionId), toHex(hello.keyId)]).toEqual([
      o.ct_s,
      o.ephemeral_public_key,
      i.session_id,
      toHex(target.id),
    ]);
    expect(toHex(kemOf(v.algorithm).decapsulate(hex(o.ct_s), (pairs[i.server_key_used] as v2.ServerKeyPair).secretKey))).toBe(o.ss_s);
    expect(toHex(v2.th1Input(hello, target.publicKey))).toBe(o.th1_input);
    const th1 = v2.transcriptHash1(hello, target.publicKey);
    expect(toHex(th1)).toBe(o.th1);
    expect(toHex(v2.deriveEarlyKey(hex(o.ss_s), th1))).toBe(o.k_early);
    expect(
      toHex(v2.encodeEarlyConnect({ ...{ path: i.connect.path, query: i.connect.query, accessToken: i.connect.access_token }, timestampMs: i.timestamp_ms })),
    ).toBe(o.early_plaintext);
    expect(toHex(new FrameSealer(hex(o.k_early), aead).seal(FrameKind.Control, hex(o.early_plaintext)))).toBe(o.early_frame);
    expect(toHex(kemOf(v.algorithm).decapsulate(hex(o.ct_e), hex(i.ephemeral_seed)))).toBe(o.ss_e);
    if (v.bound) expect(toHex(kemOf(v.bound).decapsulate(hex(o.ct_b), hex(i.bound_key_seed)))).toBe(o.ss_b);

    // Server decisions, in order of presentation.
    const serverKems: Partial<Record<KemAlgorithm, Kem>> = {};
    const options: v2.ServerV2Options = {
      keys: pairs,
      getKem: (a) => {
        serverKems[a] ??= fixedKem(kemOf(a), [...(a === v.algorithm ? [i.ct_e_randomness] : []), ...(a === v.bound ? [i.ct_b_randomness as string] : [])]);
        return serverKems[a];
      },
      aead,
      now: () => i.server_now_ms,
    };
    const register = new v2.MemorySessionRegister(() => i.server_now_ms);
    const input = { protocols: flight.protocols, urlPath: i.connect.path, query: flight.query };
    const decisions: v2.ServerDecision[] = [];
    for (let n = 0; n < v.decisions.length; n++) decisions.push(await v2.acceptFirstFlight(options, register, input));
    expect(decisions.map((d) => (d.type === 'refuse' ? { type: d.type, code: d.error.code, close_code: d.error.closeCode } : { type: d.type }))).toEqual(
      v.decisions,
    );
    const first = decisions[0] as v2.ServerDecision;

    if (first.type === 'stale') {
      expect(first.frames.map(toHex)).toEqual([o.server_hello, o.stale_frame]);
      client.receive(hex(o.server_hello));
      expect(client.receive(hex(o.stale_frame))).toMatchObject([{ type: 'failed', failure: { closeCode: 4425, retry: o.retry } }]);
      return;
    }
    if (first.type !== 'fresh') throw new Error(first.type);
    const boundKey = bound ? { algorithm: bound.kem.algorithm, publicKey: bound.keyPair.publicKey } : undefined;
    const { serverHello, session } = first.flight.accept(boundKey);
    expect(toHex(serverHello)).toBe(o.server_hello);
    expect(toHex(v2.th2Input(th1, hex(o.early_frame), hex(o.ct_e), boundKey ? { key: boundKey, ctB: hex(o.ct_b) } : undefined))).toBe(o.th2_input);
    expect(toHex(session.transcriptHash)).toBe(o.th2);
    const keys = v2.deriveSessionKeys(hex(o.th2), hex(o.ss_s), hex(o.ss_e), v.bound ? hex(o.ss_b) : undefined);
    expect([toHex(keys.c2s), toHex(keys.s2c)]).toEqual([o.k_c2s, o.k_s2c]);

    // Client keys, confirms; server proves, seals LiveKit's first frame.
    expect(client.receive(serverHello).map((out) => (out.type === 'send' ? toHex(out.frame) : out.type))).toEqual(['keyed', o.confirmation_frame]);
    expect(session.mayDial).toBe(!v.bound);
    expect(session.open(hex(o.confirmation_frame))).toEqual({ type: 'confirmed' });
    expect(session.mayDial).toBe(true);
    expect(toHex(session.seal(FrameKind.LiveKitBinary, hex(i.server_payload)))).toBe(o.server_first_frame);
    expect(client.receive(hex(o.server_first_frame))).toEqual([{ type: 'message', kind: FrameKind.LiveKitBinary, payload: hex(i.server_payload) }]);
  });
});

test('the rotation vector refuses the old key once it is removed (4421)', async () => {
  const rotation = vectors.find(({ file }) => file === 'rotation.json')?.v as Vector;
  const current = rotation.inputs.server_keys[0] as Vector['inputs']['server_keys'][number];
  const pair = {
    key: v2.staticKey(current.algorithm, fromHex(rotation.outputs.server_public_keys[0] as string), current.not_after),
    secretKey: fromHex(current.seed),
  };
  const options = { keys: [pair], getKem: (a: KemAlgorithm) => getKem(a), aead: getAead(), now: () => rotation.inputs.server_now_ms };
  const input = { protocols: rotation.outputs.subprotocols, urlPath: rotation.inputs.connect.path, query: rotation.outputs.url_query as string };
  expect(await v2.acceptFirstFlight(options, new v2.MemorySessionRegister(), input)).toMatchObject({ type: 'refuse', error: { closeCode: 4421 } });
});
