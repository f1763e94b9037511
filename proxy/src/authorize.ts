/**
 * Token rules (docs/PROTOCOL.md, "Tokens"): client tokens are verified with
 * the app's keys (HS256 only, exp/nbf with a small leeway, PQ claims checked),
 * then re-signed for LiveKit with the upstream key and without the PQ claims.
 * Tokens LiveKit hands out (refresh, room move) are turned back into
 * client-facing tokens signed with the key the session's own token used.
 *
 * Error messages name the failed check only; no token or secret is logged.
 */

import type { webcrypto } from 'node:crypto';
import { downgradeClaims, equalBytes, hasPqClaims, type PqClaims, readPqClaims, TokenError, withPqClaims, withServerKeyClaims } from '@volly/shared';
import { decodeJwt, decodeProtectedHeader, type JWTPayload, errors as joseErrors, jwtVerify, SignJWT } from 'jose';
import type { Config } from './config.js';

const MAX_TOKEN_BYTES = 16 * 1024;

export interface Grant {
  /** The verified client payload. */
  readonly payload: JWTPayload;
  /** Key id (iss) that signed the client token: refreshed tokens are signed with it again. */
  readonly keyId: string;
  readonly pq: PqClaims | null;
  readonly room: string | undefined;
  readonly identity: string | undefined;
}

type CryptoKey = webcrypto.CryptoKey;

/** A non-extractable HMAC-SHA-256 key: the secret's bytes are not readable back from it. */
const hmacKey = (secret: Uint8Array): Promise<CryptoKey> =>
  crypto.subtle.importKey('raw', secret, { name: 'HMAC', hash: 'SHA-256' }, false, ['sign', 'verify']);

export class Authorizer {
  /** HMAC keys imported once: jose with a raw Uint8Array would import one per call (2-3x the cost). */
  readonly #keys: Map<string, Promise<CryptoKey>>;
  readonly #upstreamKey: string;
  readonly #upstreamSecret: Promise<CryptoKey>;
  readonly #leeway: number;

  /** `clock` exists for tests that replay recorded tokens; the proxy uses the real time. */
  constructor(
    config: Pick<Config, 'keys' | 'upstream' | 'limits'>,
    private readonly clock: () => Date = () => new Date(),
  ) {
    const enc = new TextEncoder();
    this.#keys = new Map([...config.keys].map(([k, s]) => [k, hmacKey(enc.encode(s))]));
    this.#upstreamKey = config.upstream.key;
    this.#upstreamSecret = hmacKey(enc.encode(config.upstream.secret));
    this.#leeway = config.limits.tokenLeewaySeconds;
  }

  /** Verifies a client token. Throws TokenError (close 4401 / HTTP 401). */
  async verify(token: string): Promise<Grant> {
    if (!token) throw new TokenError('ERR_TOKEN_MISSING', 'no access token');
    if (token.length > MAX_TOKEN_BYTES) throw new TokenError('ERR_TOKEN_INVALID', 'access token too large');
    let keyId: string;
    let secret: Promise<CryptoKey> | undefined;
    try {
      const header = decodeProtectedHeader(token);
      if (header.alg !== 'HS256') throw new TokenError('ERR_TOKEN_INVALID', `token algorithm ${String(header.alg).slice(0, 16)} is not HS256`);
      const { iss } = decodeJwt(token);
      keyId = typeof iss === 'string' ? iss : '';
      secret = this.#keys.get(keyId);
    } catch (err) {
      if (err instanceof TokenError) throw err;
      throw new TokenError('ERR_TOKEN_INVALID', 'access token is not a JWT');
    }
    if (!secret) throw new TokenError('ERR_TOKEN_INVALID', 'token signed with an unknown API key');
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(token, await secret, { algorithms: ['HS256'], clockTolerance: this.#leeway, issuer: keyId, currentDate: this.clock() }));
    } catch (err) {
      if (err instanceof joseErrors.JWTExpired) throw new TokenError('ERR_TOKEN_EXPIRED', 'token expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed) throw new TokenError('ERR_TOKEN_INVALID', `token claim ${err.claim} invalid`);
      throw new TokenError('ERR_TOKEN_INVALID', 'token signature invalid');
    }
    const pq = readPqClaims(payload as Record<string, unknown>, Math.floor(this.clock().getTime() / 1000));
    const video = (payload.video ?? {}) as Record<string, unknown>;
    return {
      payload,
      keyId,
      pq,
      room: typeof video.room === 'string' ? video.room : undefined,
      identity: typeof payload.sub === 'string' ? payload.sub : undefined,
    };
  }

  /** A token bound to a KEM key may only open the session keyed with that key. */
  checkBinding(grant: Grant, session: { algorithm: string; publicKey: Uint8Array }): void {
    if (!grant.pq) return;
    if (grant.pq.algorithm !== session.algorithm || !equalBytes(grant.pq.publicKey, session.publicKey)) {
      throw new TokenError('ERR_TOKEN_KEY_MISMATCH', 'token is bound to another post-quantum key');
    }
  }

  /** A PQ-bound token must not be used without PQ: no downgrade by dropping the subprotocol. */
  refuseOnClassical(grant: Grant): void {
    if (grant.pq || hasPqClaims(grant.payload as Record<string, unknown>)) {
      throw new TokenError('ERR_TOKEN_KEY_MISMATCH', 'token is bound to a post-quantum key; connect with volly-pq.v1');
    }
  }

  /** The token LiveKit sees: PQ claims removed, every other claim (exp included) kept, signed with the upstream key. */
  async downgrade(grant: Grant): Promise<string> {
    return this.#sign(downgradeClaims(grant.payload as Record<string, unknown>), this.#upstreamKey, this.#upstreamSecret);
  }

  /**
   * Turns a token LiveKit issued (signed with the upstream key) into the
   * client-facing one: signed with the session's client key and carrying the
   * session's PQ claims and server-key pins (so a reconnect with it pins the
   * same keys). Returns null if LiveKit's token does not verify.
   */
  async clientFacing(upstreamToken: string, grant: Grant): Promise<string | null> {
    let payload: JWTPayload;
    try {
      ({ payload } = await jwtVerify(upstreamToken, await this.#upstreamSecret, {
        algorithms: ['HS256'],
        clockTolerance: this.#leeway,
        currentDate: this.clock(),
      }));
    } catch {
      return null;
    }
    const secret = this.#keys.get(grant.keyId);
    if (!secret) return null;
    const base = withServerKeyClaims(downgradeClaims(payload as Record<string, unknown>), grant.payload as Record<string, unknown>);
    return this.#sign(grant.pq ? withPqClaims(base, grant.pq) : base, grant.keyId, secret);
  }

  /** Verifies an `Authorization: Bearer` token for LiveKit's HTTP APIs and re-signs it. */
  async resignBearer(token: string): Promise<string> {
    const grant = await this.verify(token);
    return this.downgrade(grant);
  }

  async #sign(payload: Record<string, unknown>, keyId: string, secret: Promise<CryptoKey>): Promise<string> {
    return new SignJWT({ ...payload, iss: keyId }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(await secret);
  }
}
