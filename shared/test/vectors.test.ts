/**
 * Whole-handshake known-answer vectors (shared/test-vectors/*.json, written by
 * shared/scripts/make-vectors.mjs): every value is recomputed from the
 * vector's inputs through the public API, with every KEM backend (keygen and
 * decapsulation) and every AEAD backend (frames), and compared byte for byte.
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { describe, expect, test } from 'vitest';
import {
  aeadBackends,
  ClientSession,
  decodeResponse,
  deriveKeys,
  encodeControl,
  encodeHandshake,
  FrameKind,
  FrameOpener,
  FrameSealer,
  fromHex,
  getAead,
  getKem,
  type Kem,
  type KemAlgorithm,
  kemBackends,
  pqGrant,
  randomBytes,
  readPqClaims,
  serverHandshake,
  toHex,
  transcriptHash,
} from '../src/index.js';

interface Vector {
  protocol: string;
  algorithm: KemAlgorithm;
  mode: 'in-band' | 'token-bound';
  inputs: {
    keygen_seed: string;
    encapsulation_randomness: string;
    session_id: string;
    connect: { access_token: string; query: string };
    server_payload: string;
    server_text: string;
    pq_key_expiry?: number;
  };
  outputs: {
    client_public_key: string;
    pq_grant?: Record<string, unknown>;
    handshake_frame: string | null;
    kem_ciphertext: string;
    shared_secret: string;
    response_frame: string;
    transcript_input: string;
    transcript_hash: string;
    fingerprint: string;
    k_c2s: string;
    k_s2c: string;
    connect_plaintext: string;
    client_first_frame: string;
    server_first_frame: string;
    server_second_frame: string;
  };
}

const DIR = new URL('../test-vectors/', import.meta.url);
// server-auth-*.json sign these handshakes; shared/test/server-auth.test.ts checks them.
const files = readdirSync(DIR)
  .filter((f) => f.endsWith('.json') && !f.startsWith('server-auth-'))
  .sort();
const vectors = files.map((file) => ({ file, v: JSON.parse(readFileSync(new URL(file, DIR), 'utf8')) as Vector }));

test('one vector per algorithm and mode', () => {
  expect(vectors.map(({ v }) => `${v.algorithm} ${v.mode}`).sort()).toEqual([
    'ML-KEM-768 in-band',
    'ML-KEM-768 token-bound',
    'X-Wing in-band',
    'X-Wing token-bound',
  ]);
  for (const { v } of vectors) expect(v.protocol).toBe('volly-pq.v1');
});

describe.each(vectors)('$file', ({ v }) => {
  const { inputs: i, outputs: o } = v;
  const seed = fromHex(i.keygen_seed);
  const pk = fromHex(o.client_public_key);
  const ct = fromHex(o.kem_ciphertext);
  const th = fromHex(o.transcript_hash);
  const noble = v.algorithm === 'ML-KEM-768' ? ml_kem768 : ml_kem768_x25519;
  /** The server's KEM with the vector's encapsulation randomness (ML-KEM m / X-Wing eseed). */
  const fixedKem = (kem: Kem): Kem => ({
    ...kem,
    encapsulate: (publicKey) => {
      const e = noble.encapsulate(publicKey, fromHex(i.encapsulation_randomness));
      return { ciphertext: e.cipherText, sharedSecret: e.sharedSecret };
    },
  });

  test.each(kemBackends())('keygen from the seed and decapsulation agree on %s', (backend) => {
    const kem = getKem(v.algorithm, backend);
    expect(toHex(kem.keygen(seed).publicKey)).toBe(o.client_public_key);
    expect(toHex(kem.decapsulate(ct, seed))).toBe(o.shared_secret);
  });

  test('encapsulation with the fixed randomness gives the ciphertext and shared secret', () => {
    const { ciphertext, sharedSecret } = fixedKem(getKem(v.algorithm)).encapsulate(pk);
    expect([toHex(ciphertext), toHex(sharedSecret)]).toEqual([o.kem_ciphertext, o.shared_secret]);
  });

  test('transcript hash, direction keys and fingerprint', () => {
    expect(createHash('sha256').update(fromHex(o.transcript_input)).digest('hex')).toBe(o.transcript_hash);
    expect(toHex(transcriptHash(v.algorithm, i.session_id, pk, ct))).toBe(o.transcript_hash);
    const keys = deriveKeys(fromHex(o.shared_secret), th);
    expect([toHex(keys.c2s), toHex(keys.s2c)]).toEqual([o.k_c2s, o.k_s2c]);
    expect(o.fingerprint).toBe(o.transcript_hash.slice(0, 16));
  });

  test('handshake and response frames', () => {
    const hello = v.mode === 'in-band' ? toHex(encodeHandshake({ algorithm: v.algorithm, publicKey: pk, sessionId: i.session_id })) : null;
    expect(hello).toBe(o.handshake_frame);
    const { response, result } = serverHandshake(fixedKem(getKem(v.algorithm)), i.session_id, pk);
    expect(toHex(response)).toBe(o.response_frame);
    expect([toHex(result.transcriptHash), toHex(result.keys.c2s), toHex(result.keys.s2c)]).toEqual([o.transcript_hash, o.k_c2s, o.k_s2c]);
    expect(decodeResponse(response)).toMatchObject({ success: true, algorithm: v.algorithm, sessionId: i.session_id });
  });

  test.each(aeadBackends())('server frames sealed and client frame opened with %s', (backend) => {
    const aead = getAead(backend);
    const sealer = new FrameSealer(fromHex(o.k_s2c), aead);
    expect(toHex(sealer.seal(FrameKind.LiveKitBinary, fromHex(i.server_payload)))).toBe(o.server_first_frame);
    expect(toHex(sealer.seal(FrameKind.LiveKitText, new TextEncoder().encode(i.server_text)))).toBe(o.server_second_frame);
    expect(toHex(encodeControl({ case: 'connect', accessToken: i.connect.access_token, query: i.connect.query }))).toBe(o.connect_plaintext);
    const opened = new FrameOpener(fromHex(o.k_c2s), aead).open(fromHex(o.client_first_frame));
    expect([opened.kind, toHex(opened.payload)]).toEqual([FrameKind.Control, o.connect_plaintext]);
  });

  const clients = kemBackends().flatMap((kemBackend) => aeadBackends().map((aeadBackend) => ({ kemBackend, aeadBackend })));
  test.each(clients)('ClientSession on $kemBackend / $aeadBackend replays the exchange', ({ kemBackend, aeadBackend }) => {
    const kem = getKem(v.algorithm, kemBackend);
    const session = new ClientSession({
      kem,
      aead: getAead(aeadBackend),
      mode: v.mode,
      keyPair: kem.keygen(seed),
      accessToken: i.connect.access_token,
      query: i.connect.query,
      randomBytes,
      ...(v.mode === 'in-band' ? { sessionId: i.session_id } : {}),
    });
    const hello = session.start();
    expect(hello.map((out) => (out.type === 'send' ? toHex(out.frame) : out.type))).toEqual(o.handshake_frame ? [o.handshake_frame] : []);
    const keyed = session.receive(fromHex(o.response_frame));
    expect(keyed.map((out) => (out.type === 'send' ? toHex(out.frame) : out.type))).toEqual(['keyed', o.client_first_frame]);
    expect(session.result?.sessionId).toBe(i.session_id);
    expect(toHex(session.result?.transcriptHash ?? new Uint8Array(0))).toBe(o.transcript_hash);
    expect(session.receive(fromHex(o.server_first_frame))).toEqual([{ type: 'message', kind: FrameKind.LiveKitBinary, payload: fromHex(i.server_payload) }]);
    expect(session.receive(fromHex(o.server_second_frame))).toEqual([
      { type: 'message', kind: FrameKind.LiveKitText, payload: new TextEncoder().encode(i.server_text) },
    ]);
  });

  test(v.mode === 'token-bound' ? 'token claims bind the public key' : 'in-band vectors carry no token claims', () => {
    if (v.mode === 'in-band') return expect([i.pq_key_expiry, o.pq_grant]).toEqual([undefined, undefined]);
    const expiry = i.pq_key_expiry as number;
    expect(pqGrant({ algorithm: v.algorithm, publicKey: pk, keyExpiry: expiry })).toEqual(o.pq_grant);
    expect(readPqClaims({ video: o.pq_grant }, expiry - 1)?.publicKey).toEqual(pk);
  });
});
