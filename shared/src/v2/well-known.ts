/**
 * Server static keys and the well-known document of volly-pq.v2
 * (docs/PROTOCOL.md, "Server keys"):
 *
 *   key_id = SHA-256(lp("volly-pq.v2 key id") ‖ lp(algorithm) ‖ lp(public_key))[0..16]
 *
 *   GET /.well-known/volly-pq →
 *   { "protocol": "volly-pq.v2",
 *     "keys": [ { "id": b64url(key_id), "algorithm": "X-Wing" | "ML-KEM-768",
 *                 "publicKey": b64url(pk), "notAfter": unix seconds }, … ] }
 *
 * The first key is current. The parser checks everything and recomputes each
 * id, so a document cannot name a key under another key's id.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, copyBytes, equalBytes, fromBase64Url, toBase64Url } from '../bytes.js';
import { KEM_ALGORITHMS, type KemAlgorithm } from '../kem/types.js';
import { KEM_SIZES, KEY_ID_LENGTH, LABEL_KEY_ID, PROTOCOL_V2 } from './constants.js';
import { V2Error } from './errors.js';
import { lp } from './wire.js';

export interface ServerStaticKey {
  readonly id: Uint8Array;
  readonly algorithm: KemAlgorithm;
  readonly publicKey: Uint8Array;
  /** Unix seconds after which clients must not start sessions with this key. */
  readonly notAfter: number;
}

/** Largest document accepted (bytes of JSON): room for 16 keys. */
export const MAX_DOCUMENT_BYTES = 64 * 1024;
export const MAX_DOCUMENT_KEYS = 16;

export function keyId(algorithm: KemAlgorithm, publicKey: Uint8Array): Uint8Array {
  return sha256(concatBytes(lp(LABEL_KEY_ID), lp(algorithm), lp(publicKey))).slice(0, KEY_ID_LENGTH);
}

const fail = (m: string): never => {
  throw new V2Error('ERR_V2_DOCUMENT', `well-known document: ${m}`);
};

function checkKey(algorithm: KemAlgorithm, publicKey: Uint8Array, notAfter: number, at: string): void {
  if (publicKey.length !== KEM_SIZES[algorithm].publicKey) fail(`${at}.publicKey is not a ${algorithm} public key`);
  if (!Number.isSafeInteger(notAfter) || notAfter <= 0) fail(`${at}.notAfter must be a positive integer`);
}

export function staticKey(algorithm: KemAlgorithm, publicKey: Uint8Array, notAfter: number): ServerStaticKey {
  checkKey(algorithm, publicKey, notAfter, 'key');
  return { id: keyId(algorithm, publicKey), algorithm, publicKey: copyBytes(publicKey), notAfter };
}

/** The JSON the proxy serves (the first key is current). */
export function wellKnownDocument(keys: readonly ServerStaticKey[]): string {
  if (keys.length === 0 || keys.length > MAX_DOCUMENT_KEYS) fail(`must list 1..${MAX_DOCUMENT_KEYS} keys`);
  const doc = {
    protocol: PROTOCOL_V2,
    keys: keys.map((k) => ({ id: toBase64Url(k.id), algorithm: k.algorithm, publicKey: toBase64Url(k.publicKey), notAfter: k.notAfter })),
  };
  return JSON.stringify(doc);
}

const FIELDS = ['id', 'algorithm', 'publicKey', 'notAfter'];
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * Parses and checks a document: size, exact top-level and key fields (no
 * others: a field this version does not know could change meaning), known
 * algorithms, key lengths, ids recomputed, no duplicates. Returns every key,
 * expired ones included; pick one with currentKey().
 */
export function parseWellKnownDocument(text: string): ServerStaticKey[] {
  if (text.length > MAX_DOCUMENT_BYTES) fail(`longer than ${MAX_DOCUMENT_BYTES} bytes`);
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return fail('not JSON');
  }
  if (!isObject(doc) || Object.keys(doc).sort().join() !== 'keys,protocol') fail('must be an object with exactly "protocol" and "keys"');
  const { protocol, keys } = doc as Record<string, unknown>;
  if (protocol !== PROTOCOL_V2) fail(`protocol must be "${PROTOCOL_V2}"`);
  if (!Array.isArray(keys) || keys.length === 0 || keys.length > MAX_DOCUMENT_KEYS) fail(`keys must be an array of 1..${MAX_DOCUMENT_KEYS}`);
  const out = (keys as unknown[]).map((k, i) => {
    const at = `keys[${i}]`;
    if (!isObject(k) || Object.keys(k).sort().join() !== [...FIELDS].sort().join()) fail(`${at} must have exactly ${FIELDS.join(', ')}`);
    const { id, algorithm, publicKey, notAfter } = k as Record<string, unknown>;
    if (typeof algorithm !== 'string' || !(KEM_ALGORITHMS as readonly string[]).includes(algorithm)) fail(`${at}.algorithm is not a known KEM`);
    const alg = algorithm as KemAlgorithm;
    const pk = typeof publicKey === 'string' ? fromBase64Url(publicKey) : null;
    if (pk === null) return fail(`${at}.publicKey is not base64url`);
    checkKey(alg, pk, notAfter as number, at);
    const rawId = typeof id === 'string' ? fromBase64Url(id) : null;
    const computed = keyId(alg, pk);
    if (rawId === null || !equalBytes(rawId, computed)) fail(`${at}.id does not match its algorithm and public key`);
    return { id: computed, algorithm: alg, publicKey: pk, notAfter: notAfter as number };
  });
  const ids = new Set(out.map((k) => toBase64Url(k.id)));
  if (ids.size !== out.length) fail('lists a key twice');
  return out;
}

/** The first key, in document order, that is unexpired at `nowSeconds` and of an allowed algorithm. */
export function currentKey(
  keys: readonly ServerStaticKey[],
  nowSeconds: number,
  allowed: readonly KemAlgorithm[] = KEM_ALGORITHMS,
): ServerStaticKey | undefined {
  return keys.find((k) => k.notAfter > nowSeconds && allowed.includes(k.algorithm));
}
