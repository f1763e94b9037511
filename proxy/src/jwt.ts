/**
 * HS256 JWS on node:crypto, synchronous: the proxy does four HMACs per
 * session (verify the client token, sign its upstream copy, verify LiveKit's
 * refresh token, sign its client-facing copy), and jose's WebCrypto path ran
 * each as an async crypto job with a key import (docs/reports/bench.md).
 * Parsing stays jose's (decodeProtectedHeader / decodeJwt); the claim checks
 * below are jose's jwtVerify rules for the options the proxy used (issuer,
 * clockTolerance, currentDate), with failures thrown as jose's error classes
 * so callers map them to the same TokenError codes as before.
 *
 * Stricter than jose in one way: the signature must be the canonical base64url
 * of the HMAC (43 characters, no padding, zero unused bits), compared in
 * constant time as text, so no second encoding of a signature verifies.
 */
import { createHmac, createSecretKey, type KeyObject, timingSafeEqual } from 'node:crypto';
import { decodeJwt, decodeProtectedHeader, errors, type JWTPayload } from 'jose';

/** A secret made into a KeyObject once: no per-call key import. */
export const hmacKey = (secret: string): KeyObject => createSecretKey(Buffer.from(secret, 'utf8'));

/** base64url('{"alg":"HS256","typ":"JWT"}'): the header every token the proxy signs carries (as jose's SignJWT wrote it). */
const SIGNED_HEADER = Buffer.from(JSON.stringify({ alg: 'HS256', typ: 'JWT' })).toString('base64url');

const mac = (key: KeyObject, signingInput: string): string => createHmac('sha256', key).update(signingInput).digest('base64url');

/** Compact HS256 JWS of `payload`: the same bytes jose's SignJWT produced for it. */
export function signHs256(payload: Record<string, unknown>, key: KeyObject): string {
  const input = `${SIGNED_HEADER}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
  return `${input}.${mac(key, input)}`;
}

/** The header and payload of a compact JWS, parsed by jose; throws on anything that is not a three-part JWT. */
export function parseJwt(token: string): { alg: unknown; crit: unknown; payload: JWTPayload } {
  const { alg, crit } = decodeProtectedHeader(token);
  return { alg, crit, payload: decodeJwt(token) };
}

/** Constant-time check of the HMAC over `header.payload`; throws jose's JWSSignatureVerificationFailed. */
export function checkSignature(token: string, key: KeyObject): void {
  const dot = token.lastIndexOf('.');
  const expected = Buffer.from(mac(key, token.slice(0, dot)));
  const given = Buffer.from(token.slice(dot + 1));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw new errors.JWSSignatureVerificationFailed();
}

export interface ClaimRules {
  /** Required `iss`; omitted: any or none. */
  readonly issuer?: string;
  /** Seconds of clock skew tolerated on exp and nbf. */
  readonly leeway: number;
  readonly now: Date;
}

function numericDate(payload: JWTPayload, claim: 'iat' | 'nbf' | 'exp'): number | undefined {
  const value = payload[claim];
  if (value === undefined) return undefined;
  if (typeof value !== 'number') throw new errors.JWTClaimValidationFailed(`"${claim}" claim must be a number`, payload, claim, 'invalid');
  return value;
}

/** jose's jwtVerify claim rules: iss present and equal, iat/nbf/exp numbers when present, nbf and exp against now ± leeway. */
export function checkClaims(payload: JWTPayload, rules: ClaimRules): void {
  if (rules.issuer !== undefined) {
    if (!Object.hasOwn(payload, 'iss')) throw new errors.JWTClaimValidationFailed('missing required "iss" claim', payload, 'iss', 'missing');
    if (payload.iss !== rules.issuer) throw new errors.JWTClaimValidationFailed('unexpected "iss" claim value', payload, 'iss', 'check_failed');
  }
  const now = Math.floor(rules.now.getTime() / 1000);
  numericDate(payload, 'iat');
  const nbf = numericDate(payload, 'nbf');
  if (nbf !== undefined && nbf > now + rules.leeway)
    throw new errors.JWTClaimValidationFailed('"nbf" claim timestamp check failed', payload, 'nbf', 'check_failed');
  const exp = numericDate(payload, 'exp');
  if (exp !== undefined && exp <= now - rules.leeway) throw new errors.JWTExpired('"exp" claim timestamp check failed', payload, 'exp', 'check_failed');
}

export type ParsedJwt = ReturnType<typeof parseJwt>;

/**
 * Checks a parsed HS256 JWT: no `crit` header (jose knew only b64, which JWTs
 * must not use, and refused every other), the signature, then the claims.
 * Throws jose's errors (JOSENotSupported, JWSSignatureVerificationFailed,
 * JWTClaimValidationFailed, JWTExpired).
 */
export function checkParsed(token: string, { crit, payload }: ParsedJwt, key: KeyObject, rules: ClaimRules): JWTPayload {
  if (crit !== undefined) throw new errors.JOSENotSupported('"crit" Header Parameter is not supported');
  checkSignature(token, key);
  checkClaims(payload, rules);
  return payload;
}

/** Parses and verifies a compact HS256 JWT; anything but HS256 throws JOSEAlgNotAllowed. */
export function verifyHs256(token: string, key: KeyObject, rules: ClaimRules): JWTPayload {
  const parsed = parseJwt(token);
  if (parsed.alg !== 'HS256') throw new errors.JOSEAlgNotAllowed('"alg" (Algorithm) Header Parameter value not allowed');
  return checkParsed(token, parsed, key, rules);
}
