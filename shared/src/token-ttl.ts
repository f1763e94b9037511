/**
 * The `exp` a livekit-server-sdk AccessToken will get, known before it is
 * signed: `toJwt()` passes its `ttl` to jose's setExpirationTime, which reads
 * a string as a time span from now ("6h", "90s", "10 minutes") and a number as
 * the absolute unix time. addPqClaims uses it so that a bound key lives as
 * long as the token it is bound in (docs/PROTOCOL.md §7).
 */
import { TokenError } from './errors.js';

/** livekit-server-sdk's default when an AccessToken is made without a ttl. */
export const ACCESS_TOKEN_DEFAULT_TTL = '6h';

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800, y: 31_557_600 };
// jose's time span grammar (lib/secs.js), the one toJwt's setExpirationTime reads.
const SPAN = /^(\+|-)? ?(\d+|\d+\.\d+) ?(seconds?|secs?|s|minutes?|mins?|m|hours?|hrs?|h|days?|d|weeks?|w|years?|yrs?|y)(?: (ago|from now))?$/i;

/** Seconds in a jose time span; TokenError (ERR_TOKEN_CLAIMS) for one jose would refuse. */
export function spanSeconds(span: string): number {
  const m = SPAN.exec(span);
  if (!m || (m[4] && m[1])) throw new TokenError('ERR_TOKEN_CLAIMS', `token ttl "${span.slice(0, 32)}" is not a time span; pass keyExpiry`);
  const seconds = Math.round(Number.parseFloat(m[2] as string) * (UNIT_SECONDS[(m[3] as string)[0]?.toLowerCase() as string] as number));
  return m[1] === '-' || m[4]?.toLowerCase() === 'ago' ? -seconds : seconds;
}

/**
 * The unix second a token with this ttl, signed now, expires at. Rounded up:
 * toJwt floors its own clock, so when it runs within the second after this
 * call the result is its exp or exp + 1, never earlier (the proxy treats a key
 * expiry at or after exp as "lives with the token").
 */
export function tokenExpiry(ttl: number | string | undefined, nowMs = Date.now()): number {
  const span = ttl ?? ACCESS_TOKEN_DEFAULT_TTL;
  return typeof span === 'number' ? span : Math.ceil(nowMs / 1000) + spanSeconds(span);
}
