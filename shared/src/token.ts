/**
 * PQ claims in LiveKit access tokens (docs/PROTOCOL.md, "Tokens"):
 *   video.pqPublicKey   base64url of the client's KEM public key
 *   video.pqAlgorithm   "ML-KEM-768" | "X-Wing"
 *   video.pqKeyExpiry   unix seconds after which the key must not be used
 * and, independent of those three, the pins of server authentication:
 *   video.pqServerKeys  base64url of the proxy's ML-DSA-65 public keys (a list)
 * and the pins of volly-pq.v2's static KEM keys:
 *   video.pqServerKemKeys  base64url of 16-byte v2 key ids (a list)
 * The claims live in the `video` grant so that livekit-server-sdk's
 * AccessToken.addGrant carries them without changes, and LiveKit, which
 * ignores unknown grant fields, never sees them anyway: the proxy strips them.
 */
import { fromBase64Url, fromUtf8, toBase64Url } from './bytes.js';
import { KeyFormatError, TokenError } from './errors.js';
import type { KemAlgorithm } from './kem/types.js';
import { isKemAlgorithm } from './messages.js';
import { KEM_PUBLIC_KEY_LENGTH as PUBLIC_KEY_LENGTH } from './protocol.js';
import { type ServerKey, type ServerKeyPin, serverKeys } from './sig/server-auth.js';
import { tokenExpiry } from './token-ttl.js';
import { KEY_ID_LENGTH } from './v2/constants.js';

export const PQ_CLAIMS = ['pqPublicKey', 'pqAlgorithm', 'pqKeyExpiry'] as const;
/** The server-key pins claim (docs/PROTOCOL.md, "Server authentication"); not a binding claim. */
export const SERVER_KEYS_CLAIM = 'pqServerKeys';
/** volly-pq.v2: the key ids of the proxy's static KEM keys a client may use (docs/PROTOCOL.md, v2.1). */
export const SERVER_KEM_KEYS_CLAIM = 'pqServerKemKeys';
const MAX_KEM_KEY_PINS = 16;

export interface PqClaims {
  readonly algorithm: KemAlgorithm;
  readonly publicKey: Uint8Array;
  /** Unix seconds. */
  readonly keyExpiry: number;
}

type Payload = Record<string, unknown>;

/** The JWT payload's claims, unverified (a client only looks for its own PQ binding and pins); null when malformed. */
export function peekTokenPayload(token: string): Payload | null {
  const part = token.split('.')[1];
  const bytes = part ? fromBase64Url(part) : null;
  if (!bytes) return null;
  try {
    const v: unknown = JSON.parse(fromUtf8(bytes));
    return v && typeof v === 'object' ? (v as Payload) : null;
  } catch {
    return null;
  }
}

const videoOf = (p: Payload): Payload | undefined => (p.video && typeof p.video === 'object' ? (p.video as Payload) : undefined);

/** True when the payload carries any PQ claim (complete or not). */
export function hasPqClaims(payload: Payload): boolean {
  const v = videoOf(payload);
  return !!v && PQ_CLAIMS.some((c) => c in v);
}

/**
 * Reads and validates the PQ claims; null when there are none. All three must
 * be present and well formed, and the key must not be expired at `now`.
 */
export function readPqClaims(payload: Payload, now = Math.floor(Date.now() / 1000)): PqClaims | null {
  if (!hasPqClaims(payload)) return null;
  const v = videoOf(payload) as Payload;
  const { pqPublicKey, pqAlgorithm, pqKeyExpiry } = v;
  if (typeof pqAlgorithm !== 'string' || !isKemAlgorithm(pqAlgorithm))
    throw new TokenError('ERR_TOKEN_CLAIMS', 'video.pqAlgorithm is missing or not a known KEM');
  if (typeof pqKeyExpiry !== 'number' || !Number.isSafeInteger(pqKeyExpiry))
    throw new TokenError('ERR_TOKEN_CLAIMS', 'video.pqKeyExpiry is missing or not an integer');
  const publicKey = typeof pqPublicKey === 'string' ? fromBase64Url(pqPublicKey) : null;
  if (!publicKey || publicKey.length !== PUBLIC_KEY_LENGTH[pqAlgorithm]) {
    throw new TokenError('ERR_TOKEN_CLAIMS', `video.pqPublicKey is not a base64url ${pqAlgorithm} public key`);
  }
  if (pqKeyExpiry <= now) throw new TokenError('ERR_TOKEN_PQ_EXPIRED', 'video.pqKeyExpiry has passed');
  return { algorithm: pqAlgorithm, publicKey, keyExpiry: pqKeyExpiry };
}

/** The claims as they go into a `video` grant. */
export function pqGrant(c: PqClaims): { pqPublicKey: string; pqAlgorithm: KemAlgorithm; pqKeyExpiry: number } {
  return { pqPublicKey: toBase64Url(c.publicKey), pqAlgorithm: c.algorithm, pqKeyExpiry: c.keyExpiry };
}

/**
 * The server keys a token pins (`video.pqServerKeys`), read without verifying
 * the token; null when the claim is absent. A claim that is present but not a
 * list of base64url ML-DSA-65 public keys throws TokenError (ERR_TOKEN_CLAIMS):
 * a client must then fail closed, not connect unauthenticated.
 */
export function readServerKeyClaims(payload: Payload): ServerKey[] | null {
  const v = videoOf(payload);
  if (!v || !(SERVER_KEYS_CLAIM in v)) return null;
  const pins = v[SERVER_KEYS_CLAIM];
  if (!Array.isArray(pins) || pins.length === 0 || !pins.every((p) => typeof p === 'string')) {
    throw new TokenError('ERR_TOKEN_CLAIMS', `video.${SERVER_KEYS_CLAIM} is not a non-empty list of base64url public keys`);
  }
  try {
    return serverKeys(pins as string[]);
  } catch (err) {
    if (err instanceof KeyFormatError) throw new TokenError('ERR_TOKEN_CLAIMS', `video.${SERVER_KEYS_CLAIM}: ${err.message}`);
    throw err;
  }
}

/** The pins as they go into a `video` grant. */
export function serverKeysGrant(pins: readonly ServerKeyPin[]): { pqServerKeys: string[] } {
  const keys = serverKeys(pins);
  if (keys.length === 0) throw new TokenError('ERR_TOKEN_CLAIMS', 'at least one server key is required');
  return { [SERVER_KEYS_CLAIM]: keys.map((k) => toBase64Url(k.publicKey)) } as { pqServerKeys: string[] };
}

/**
 * The v2 key ids a token pins (`video.pqServerKemKeys`), read without
 * verifying the token; null when the claim is absent. Present but not a list
 * of 1..16 base64url 16-byte ids: TokenError (ERR_TOKEN_CLAIMS), and the
 * client fails closed.
 */
export function readServerKemKeyPins(payload: Payload): Uint8Array[] | null {
  const v = videoOf(payload);
  if (!v || !(SERVER_KEM_KEYS_CLAIM in v)) return null;
  const pins = v[SERVER_KEM_KEYS_CLAIM];
  const ids =
    Array.isArray(pins) && pins.length > 0 && pins.length <= MAX_KEM_KEY_PINS ? pins.map((p) => (typeof p === 'string' ? fromBase64Url(p) : null)) : [null];
  if (!ids.every((id) => id?.length === KEY_ID_LENGTH))
    throw new TokenError('ERR_TOKEN_CLAIMS', `video.${SERVER_KEM_KEYS_CLAIM} is not a list of 1..${MAX_KEM_KEY_PINS} base64url key ids`);
  return ids as Uint8Array[];
}

/** A v2 key pin: a key id (raw or base64url) or a key from the well-known document (its id is taken). */
export type ServerKemKeyPin = Uint8Array | string | { readonly id: Uint8Array };

/** The v2 pins as they go into a `video` grant. */
export function serverKemKeysGrant(pins: readonly ServerKemKeyPin[]): { pqServerKemKeys: string[] } {
  const ids = pins.map((p) => (typeof p === 'string' ? fromBase64Url(p) : p instanceof Uint8Array ? p : p.id));
  if (ids.length === 0 || ids.length > MAX_KEM_KEY_PINS || !ids.every((id) => id?.length === KEY_ID_LENGTH))
    throw new TokenError('ERR_TOKEN_CLAIMS', `v2 pins must be 1..${MAX_KEM_KEY_PINS} key ids of ${KEY_ID_LENGTH} bytes`);
  return { pqServerKemKeys: (ids as Uint8Array[]).map((id) => toBase64Url(id)) };
}

/**
 * Pins the proxy's v2 static KEM keys in a livekit-server-sdk AccessToken:
 * `addServerKemKeys(at, keys)` with the keys (or their ids) from the proxy's
 * well-known document as the token server knows it. The client then uses only
 * a key with one of these ids and never falls back to v1.
 */
export function addServerKemKeys<T extends GrantableToken>(token: T, pins: readonly ServerKemKeyPin[]): T {
  token.addGrant(serverKemKeysGrant(pins));
  return token;
}

/** A copy of the payload without the PQ claims and the server-key pins; every other claim is kept as it was. */
export function downgradeClaims<T extends Payload>(payload: T): T {
  const v = videoOf(payload);
  if (!v) return { ...payload };
  const video = { ...v };
  for (const c of PQ_CLAIMS) delete video[c];
  delete video[SERVER_KEYS_CLAIM];
  delete video[SERVER_KEM_KEYS_CLAIM];
  return { ...payload, video };
}

/**
 * A copy of `payload` carrying the server-key pins of `from` (a session's own
 * token), unchanged; `payload` as it is when `from` pins nothing. The proxy
 * keeps the pins in the tokens it rewrites, so a reconnect with a refreshed
 * token stays as authenticated as the session that delivered it.
 */
export function withServerKeyClaims<T extends Payload>(payload: T, from: Payload): T {
  const source = videoOf(from) ?? {};
  const pins = Object.fromEntries([SERVER_KEYS_CLAIM, SERVER_KEM_KEYS_CLAIM].filter((c) => source[c] !== undefined).map((c) => [c, source[c]]));
  if (Object.keys(pins).length === 0) return payload;
  return { ...payload, video: { ...(videoOf(payload) ?? {}), ...pins } };
}

/** A copy of the payload with the given PQ claims set (used to rewrite refreshed tokens). */
export function withPqClaims<T extends Payload>(payload: T, claims: PqClaims): T {
  return { ...payload, video: { ...(videoOf(payload) ?? {}), ...pqGrant(claims) } };
}

/** The part of livekit-server-sdk's AccessToken this helper needs (no runtime dependency on it). */
export interface GrantableToken {
  addGrant(grant: object): void;
  /** AccessToken's lifetime as its toJwt reads it (a time span such as "6h"); the default key expiry follows it. */
  readonly ttl?: number | string;
}

/**
 * Binds a livekit-server-sdk AccessToken to a client's KEM public key:
 * `addPqClaims(at, { algorithm: 'ML-KEM-768', publicKey })` before `at.toJwt()`.
 * `keyExpiry` (unix seconds) defaults to the token's own exp (its ttl from
 * now, livekit-server-sdk's 6h without one), so the key never expires before
 * the token does and the proxy carries it into LiveKit's refreshed tokens; an
 * explicit one is kept as given. `serverKeys` also pins the proxy's server
 * keys (as `addServerKeys`).
 */
export function addPqClaims<T extends GrantableToken>(
  token: T,
  c: { algorithm: KemAlgorithm; publicKey: Uint8Array; keyExpiry?: number; serverKeys?: readonly ServerKeyPin[] },
): T {
  if (c.publicKey.length !== PUBLIC_KEY_LENGTH[c.algorithm]) throw new TokenError('ERR_TOKEN_CLAIMS', `public key is not a ${c.algorithm} public key`);
  const claims: PqClaims = { algorithm: c.algorithm, publicKey: c.publicKey, keyExpiry: c.keyExpiry ?? tokenExpiry(token.ttl) };
  const pins = c.serverKeys?.length ? serverKeysGrant(c.serverKeys) : {};
  token.addGrant({ ...pqGrant(claims), ...pins });
  return token;
}

/**
 * The PQ claims a token LiveKit refreshed (exp `refreshedExp`) carries for a
 * session whose token expired at `sessionExp`. A key that lives with its token
 * (expiry at or after the token's exp: addPqClaims' default) moves on to the
 * refreshed exp, so a reconnect after the first token's exp still works; a
 * shorter, explicit expiry stays as the app set it.
 */
export function refreshedPqClaims(claims: PqClaims, sessionExp: unknown, refreshedExp: unknown): PqClaims {
  if (typeof sessionExp !== 'number' || typeof refreshedExp !== 'number' || claims.keyExpiry < sessionExp) return claims;
  return { ...claims, keyExpiry: Math.max(claims.keyExpiry, refreshedExp) };
}

/**
 * Pins the proxy's server keys in a livekit-server-sdk AccessToken (bound or
 * not): `addServerKeys(at, keys)` with the keys from the proxy's admin
 * `GET /server-keys` (the JSON objects, base64url strings or raw bytes). The
 * client then refuses any proxy that cannot sign with one of them.
 */
export function addServerKeys<T extends GrantableToken>(token: T, pins: readonly ServerKeyPin[]): T {
  token.addGrant(serverKeysGrant(pins));
  return token;
}
