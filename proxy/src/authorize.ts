/**
 * Token rules (docs/PROTOCOL.md, "Tokens"): client tokens are verified with
 * the app's keys (HS256 only, exp/nbf with a small leeway, PQ claims checked),
 * then re-signed for LiveKit with the upstream key and without the PQ claims.
 * Tokens LiveKit hands out (refresh, room move) are turned back into
 * client-facing tokens signed with the key the session's own token used.
 *
 * Error messages name the failed check only; no token or secret is logged.
 */

import type { KeyObject } from 'node:crypto';
import {
  downgradeClaims,
  equalBytes,
  hasPqClaims,
  type PqClaims,
  readPqClaims,
  refreshedPqClaims,
  TokenError,
  withPqClaims,
  withServerKeyClaims,
} from '@volly/shared';
import { type JWTPayload, errors as joseErrors } from 'jose';
import type { Config } from './config.js';
import { checkParsed, hmacKey, type ParsedJwt, parseJwt, signHs256, verifyHs256 } from './jwt.js';

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

/** jose's errors from ./jwt.ts as the proxy's typed TokenErrors (close 4401 / HTTP 401). */
function tokenError(err: unknown): TokenError {
  if (err instanceof TokenError) return err;
  if (err instanceof joseErrors.JWTExpired) return new TokenError('ERR_TOKEN_EXPIRED', 'token expired');
  if (err instanceof joseErrors.JWTClaimValidationFailed) return new TokenError('ERR_TOKEN_INVALID', `token claim ${err.claim} invalid`);
  return new TokenError('ERR_TOKEN_INVALID', 'token signature invalid');
}

/** LiveKit's `exp`, or `now + max` when that comes first (or LiveKit set none). */
function boundedExp(exp: number | undefined, now: Date, maxLifetimeSeconds: number): number {
  const cap = Math.floor(now.getTime() / 1000) + maxLifetimeSeconds;
  return typeof exp === 'number' ? Math.min(exp, cap) : cap;
}

export class Authorizer {
  /** HMAC keys made once per secret (node:crypto KeyObjects): no per-call import. */
  readonly #keys: Map<string, KeyObject>;
  readonly #upstreamKey: string;
  readonly #upstreamSecret: KeyObject;
  readonly #leeway: number;

  /** `clock` exists for tests that replay recorded tokens; the proxy uses the real time. */
  constructor(
    config: Pick<Config, 'keys' | 'upstream' | 'limits'>,
    private readonly clock: () => Date = () => new Date(),
  ) {
    this.#keys = new Map([...config.keys].map(([k, s]) => [k, hmacKey(s)]));
    this.#upstreamKey = config.upstream.key;
    this.#upstreamSecret = hmacKey(config.upstream.secret);
    this.#leeway = config.limits.tokenLeewaySeconds;
  }

  /** Verifies a client token. Throws TokenError (close 4401 / HTTP 401). */
  async verify(token: string): Promise<Grant> {
    return this.#verify(token);
  }

  #verify(token: string): Grant {
    if (!token) throw new TokenError('ERR_TOKEN_MISSING', 'no access token');
    if (token.length > MAX_TOKEN_BYTES) throw new TokenError('ERR_TOKEN_INVALID', 'access token too large');
    let parsed: ParsedJwt;
    try {
      parsed = parseJwt(token);
    } catch {
      throw new TokenError('ERR_TOKEN_INVALID', 'access token is not a JWT');
    }
    const { alg, payload } = parsed;
    if (alg !== 'HS256') throw new TokenError('ERR_TOKEN_INVALID', `token algorithm ${String(alg).slice(0, 16)} is not HS256`);
    const keyId = typeof payload.iss === 'string' ? payload.iss : '';
    const secret = this.#keys.get(keyId);
    if (!secret) throw new TokenError('ERR_TOKEN_INVALID', 'token signed with an unknown API key');
    const now = this.clock();
    try {
      checkParsed(token, parsed, secret, { issuer: keyId, leeway: this.#leeway, now });
    } catch (err) {
      throw tokenError(err);
    }
    const pq = readPqClaims(payload as Record<string, unknown>, Math.floor(now.getTime() / 1000));
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
      throw new TokenError('ERR_TOKEN_KEY_MISMATCH', 'token is bound to a post-quantum key; connect with volly-pq');
    }
  }

  /** The token LiveKit sees: PQ claims removed, every other claim (exp included) kept, signed with the upstream key. */
  async downgrade(grant: Grant): Promise<string> {
    return signHs256({ ...downgradeClaims(grant.payload as Record<string, unknown>), iss: this.#upstreamKey }, this.#upstreamSecret);
  }

  /**
   * Turns a token LiveKit issued (signed with the upstream key) into the
   * client-facing one: signed with the session's client key and carrying the
   * session's PQ claims and server-key pins (so a reconnect with it pins the
   * same keys; a key that lives with its token follows the new exp, see
   * refreshedPqClaims). Returns null if LiveKit's token does not verify.
   * `maxLifetimeSeconds` caps the new token's `exp` at that long from now
   * (never past LiveKit's own `exp`): for tokens the proxy hands to a party
   * that did not ask for them, such as an agent's job token.
   */
  async clientFacing(upstreamToken: string, grant: Grant, maxLifetimeSeconds?: number): Promise<string | null> {
    let payload: JWTPayload;
    const now = this.clock();
    try {
      payload = verifyHs256(upstreamToken, this.#upstreamSecret, { leeway: this.#leeway, now });
    } catch {
      return null;
    }
    const secret = this.#keys.get(grant.keyId);
    if (!secret) return null;
    if (maxLifetimeSeconds !== undefined) payload = { ...payload, exp: boundedExp(payload.exp, now, maxLifetimeSeconds) };
    const base = withServerKeyClaims(downgradeClaims(payload as Record<string, unknown>), grant.payload as Record<string, unknown>);
    const pq = grant.pq && refreshedPqClaims(grant.pq, grant.payload.exp, payload.exp);
    return signHs256({ ...(pq ? withPqClaims(base, pq) : base), iss: grant.keyId }, secret);
  }

  /**
   * Verifies an `Authorization: Bearer` token for LiveKit's HTTP APIs (Twirp,
   * WHIP) and re-signs it. A token with PQ claims is refused: its binding is
   * proved only inside a PQ session, and an HTTP request carries none.
   */
  async resignBearer(token: string): Promise<string> {
    return this.downgrade(this.verifyClassical(token));
  }

  /** Verifies a token met outside a PQ session (HTTP APIs, classical upgrades): PQ-claimed tokens are refused (ERR_TOKEN_KEY_MISMATCH). */
  verifyClassical(token: string): Grant {
    const grant = this.#verify(token);
    this.refuseOnClassical(grant);
    return grant;
  }
}
