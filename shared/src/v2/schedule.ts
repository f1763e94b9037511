/**
 * Key schedule of volly-pq.v2 (docs/PROTOCOL.md, "Key schedule"). Every
 * transcript field is written lp(x) = u16(len x) ‖ x:
 *
 *   th1     = SHA-256(lp("volly-pq.v2") ‖ lp(alg) ‖ lp(SHA-256(pk_S)) ‖ lp(session_id) ‖ lp(ct_s) ‖ lp(pk_e))
 *   k_early = HKDF-SHA256(ikm = ss_s, salt = th1, info = "volly-pq.v2 early", 32)
 *   th2     = SHA-256(lp(th1) ‖ lp(early_frame) ‖ lp(ct_e) [‖ lp(alg_b) ‖ lp(SHA-256(pk_b)) ‖ lp(ct_b)])
 *   ikm     = ss_s ‖ ss_e [‖ ss_b]
 *   k_c2s   = HKDF-SHA256(ikm, salt = th2, info = "volly-pq.v2 c2s", 32)
 *   k_s2c   = HKDF-SHA256(ikm, salt = th2, info = "volly-pq.v2 s2c", 32)
 *
 * The bracketed parts are present exactly for a bound token. Callers own the
 * shared secrets; deriveSessionKeys wipes its concatenated ikm. The
 * transcripts are hashed as parts, never concatenated, with the runtime's
 * fastest SHA-256; SHA-256(pk_S) is computed once per static key; k_c2s and
 * k_s2c share one HKDF-Extract (the same bytes as two full HKDFs).
 */
import { expand, extract, hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { concatBytes, utf8 } from '../bytes.js';
import type { KemAlgorithm } from '../kem/types.js';
import type { DirectionKeys } from '../schedule.js';
import { sha256OfPublic, sha256Parts } from '../sha256.js';
import type { ClientHello } from './client-hello.js';
import { INFO_C2S, INFO_EARLY, INFO_S2C, PROTOCOL_V2 } from './constants.js';
import { V2Error } from './errors.js';
import { lpParts } from './wire.js';

const EARLY = utf8(INFO_EARLY);
const C2S = utf8(INFO_C2S);
const S2C = utf8(INFO_S2C);

const th1Parts = (hello: ClientHello, serverPublicKey: Uint8Array): Uint8Array[] =>
  lpParts(PROTOCOL_V2, hello.algorithm, sha256OfPublic(serverPublicKey), hello.sessionId, hello.ctS, hello.pkE);

/** The bytes hashed into th1 (exposed for the vectors). */
export const th1Input = (hello: ClientHello, serverPublicKey: Uint8Array): Uint8Array => concatBytes(...th1Parts(hello, serverPublicKey));

export const transcriptHash1 = (hello: ClientHello, serverPublicKey: Uint8Array): Uint8Array => sha256Parts(th1Parts(hello, serverPublicKey));

function check32(what: string, b: Uint8Array): void {
  if (b.length !== 32) throw new V2Error('ERR_V2_PROTOCOL', `${what} must be 32 bytes`);
}

export function deriveEarlyKey(ssS: Uint8Array, th1: Uint8Array): Uint8Array {
  check32('ss_s', ssS);
  check32('th1', th1);
  return hkdf(sha256, ssS, th1, EARLY, 32);
}

/** The client's bound key as the transcript sees it. */
export interface BoundKey {
  readonly algorithm: KemAlgorithm;
  readonly publicKey: Uint8Array;
}

type Th2Args = [th1: Uint8Array, earlyFrame: Uint8Array, ctE: Uint8Array, bound?: { key: BoundKey; ctB: Uint8Array }];

function th2Parts(...[th1, earlyFrame, ctE, bound]: Th2Args): Uint8Array[] {
  const base = lpParts(th1, earlyFrame, ctE);
  // A bound key differs per client: hashed each time, not cached.
  return bound === undefined ? base : [...base, ...lpParts(bound.key.algorithm, sha256(bound.key.publicKey), bound.ctB)];
}

/** The bytes hashed into th2 (exposed for the vectors). */
export const th2Input = (...args: Th2Args): Uint8Array => concatBytes(...th2Parts(...args));

export const transcriptHash2 = (...args: Th2Args): Uint8Array => sha256Parts(th2Parts(...args));

/** k_c2s and k_s2c from ss_s, ss_e and (bound) ss_b. */
export function deriveSessionKeys(th2: Uint8Array, ssS: Uint8Array, ssE: Uint8Array, ssB?: Uint8Array): DirectionKeys {
  check32('th2', th2);
  for (const [what, ss] of [['ss_s', ssS], ['ss_e', ssE], ...(ssB ? [['ss_b', ssB] as const] : [])] as const) check32(what, ss);
  const ikm = ssB === undefined ? concatBytes(ssS, ssE) : concatBytes(ssS, ssE, ssB);
  const prk = extract(sha256, ikm, th2);
  ikm.fill(0);
  const keys = { c2s: expand(sha256, prk, C2S, 32), s2c: expand(sha256, prk, S2C, 32) };
  prk.fill(0);
  return keys;
}
