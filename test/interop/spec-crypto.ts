// The primitives an independent volly-pq client needs, written from
// docs/PROTOCOL.md and shared/proto alone (no @volly/shared): the two KEMs,
// the v1 and v2 key schedules, the sealed frame (section 5) and the few
// protobuf messages, encoded by hand.

import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';

import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';

export { sha256 };

export type Alg = 'ML-KEM-768' | 'X-Wing';
export const ALGS: readonly Alg[] = ['ML-KEM-768', 'X-Wing'];

/** Section 2's table: sizes per algorithm. */
export const SIZES = {
  'ML-KEM-768': { pk: 1184, ct: 1088, seed: 64, code: 0x01 },
  'X-Wing': { pk: 1216, ct: 1120, seed: 32, code: 0x02 },
} as const;

export interface KeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

const impl = (alg: Alg) => (alg === 'X-Wing' ? ml_kem768_x25519 : ml_kem768);

/** Key pair from a seed (ML-KEM-768 `d‖z`, X-Wing the 32-byte seed). */
export function keygen(alg: Alg, seed: Uint8Array): KeyPair {
  if (seed.length !== SIZES[alg].seed) throw new Error(`${alg} seed must be ${SIZES[alg].seed} bytes`);
  return impl(alg).keygen(seed);
}

export function encapsulate(alg: Alg, pk: Uint8Array, rand?: Uint8Array): { ct: Uint8Array; ss: Uint8Array } {
  const { cipherText, sharedSecret } = impl(alg).encapsulate(pk, rand);
  return { ct: cipherText, ss: sharedSecret };
}

export function decapsulate(alg: Alg, ct: Uint8Array, sk: Uint8Array): Uint8Array {
  if (ct.length !== SIZES[alg].ct) throw new Error(`${alg} ciphertext must be ${SIZES[alg].ct} bytes`);
  return impl(alg).decapsulate(ct, sk);
}

// ---- bytes ----

export const utf8 = (s: string) => new TextEncoder().encode(s);
export const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
export const unhex = (s: string) => new Uint8Array(Buffer.from(s, 'hex'));
export const b64u = (b: Uint8Array) => Buffer.from(b).toString('base64url');
export function concat(...parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}
export const u16 = (n: number) => new Uint8Array([n >> 8, n & 0xff]);
export function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
}
/** v2's `lp(x) = u16(len x) ‖ x`. */
export const lp = (x: Uint8Array | string) => {
  const b = typeof x === 'string' ? utf8(x) : x;
  return concat(u16(b.length), b);
};

/** Strict base64url (section 7): canonical, unpadded, unused bits zero. */
export function fromB64u(s: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(s) || s.length % 4 === 1) throw new Error('not strict base64url');
  const out = new Uint8Array(Buffer.from(s, 'base64url'));
  if (b64u(out) !== s) throw new Error('not canonical base64url');
  return out;
}

// ---- section 5: frames ----

export const nonce = (counter: number) => concat(new Uint8Array(4), u64(counter));

export function seal(key: Uint8Array, counter: number, kind: number, plaintext: Uint8Array): Uint8Array {
  const aad = new Uint8Array([kind]);
  return concat(aad, chacha20poly1305(key, nonce(counter), aad).encrypt(plaintext));
}

export function open(key: Uint8Array, counter: number, frame: Uint8Array): { kind: number; payload: Uint8Array } {
  if (frame.length < 17) throw new Error('frame shorter than 17 bytes');
  const kind = frame[0] as number;
  if (kind < 1 || kind > 3) throw new Error('unknown kind');
  return { kind, payload: chacha20poly1305(key, nonce(counter), frame.subarray(0, 1)).decrypt(frame.subarray(1)) };
}

// ---- section 4: v1 key schedule ----

export function v1Transcript(alg: string, sid: string, pk: Uint8Array, ct: Uint8Array): Uint8Array {
  const a = utf8(alg);
  const s = utf8(sid);
  return concat(utf8('volly-pq.v1'), u16(a.length), a, u16(s.length), s, pk, ct);
}

export interface SessionKeys {
  th: Uint8Array;
  c2s: Uint8Array;
  s2c: Uint8Array;
}

export function v1Keys(ss: Uint8Array, transcriptInput: Uint8Array): SessionKeys {
  const th = sha256(transcriptInput);
  return {
    th,
    c2s: hkdf(sha256, ss, th, utf8('volly-pq.v1 c2s'), 32),
    s2c: hkdf(sha256, ss, th, utf8('volly-pq.v1 s2c'), 32),
  };
}

// ---- v2.1, v2.3: v2 key ids and key schedule ----

export const v2KeyId = (alg: Alg, pk: Uint8Array) => sha256(concat(lp('volly-pq.v2 key id'), lp(alg), lp(pk))).subarray(0, 16);

export function th1Input(alg: Alg, pkS: Uint8Array, sid: Uint8Array, ctS: Uint8Array, pkE: Uint8Array): Uint8Array {
  return concat(lp('volly-pq.v2'), lp(alg), lp(sha256(pkS)), lp(sid), lp(ctS), lp(pkE));
}

export const earlyKey = (ssS: Uint8Array, th1: Uint8Array) => hkdf(sha256, ssS, th1, utf8('volly-pq.v2 early'), 32);

export interface BoundPart {
  alg: Alg;
  pk: Uint8Array;
  ct: Uint8Array;
  ss: Uint8Array;
}

export function th2Input(th1: Uint8Array, earlyFrame: Uint8Array, ctE: Uint8Array, bound?: BoundPart): Uint8Array {
  const base = concat(lp(th1), lp(earlyFrame), lp(ctE));
  return bound ? concat(base, lp(bound.alg), lp(sha256(bound.pk)), lp(bound.ct)) : base;
}

export function v2Keys(ssS: Uint8Array, ssE: Uint8Array, input: Uint8Array, ssB?: Uint8Array): SessionKeys {
  const th = sha256(input);
  const ikm = ssB ? concat(ssS, ssE, ssB) : concat(ssS, ssE);
  return {
    th,
    c2s: hkdf(sha256, ikm, th, utf8('volly-pq.v2 c2s'), 32),
    s2c: hkdf(sha256, ikm, th, utf8('volly-pq.v2 s2c'), 32),
  };
}

export function earlyPlaintext(timestampMs: number, path: string, query: string, token: string): Uint8Array {
  return concat(u64(timestampMs), lp(path), lp(query), lp(token));
}

export function clientHello(alg: Alg, keyId: Uint8Array, sid: Uint8Array, ctS: Uint8Array, pkE: Uint8Array): Uint8Array {
  return concat(new Uint8Array([0x02, SIZES[alg].code]), keyId, sid, ctS, pkE);
}
