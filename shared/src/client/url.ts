/**
 * Splits a LiveKit signaling URL for volly-pq.v1: what stays in the URL the
 * socket opens, and what moves into the sealed VollyConnect. In-band moves
 * every query parameter (so no token, SDP or identity travels outside the PQ
 * channel); token-bound keeps only `access_token`, which the proxy needs
 * before the handshake.
 */
import { fromBase64Url, fromUtf8 } from '../bytes.js';
import type { ClientMode } from './session.js';

export const SUBPROTOCOL = 'volly-pq.v1';
/**
 * Token-bound only: the session id the client chose, in the URL beside the
 * token. The server must use it, so a recorded pq_response replayed to a
 * client that reuses its bound key fails the session-id check instead of
 * re-deriving old keys (and reusing their nonces).
 */
export const SESSION_ID_PARAM = 'volly_sid';

export interface SplitUrl {
  /** The URL the WebSocket opens. */
  readonly socketUrl: string;
  readonly accessToken: string;
  /** Everything else, for VollyConnect.query. */
  readonly query: string;
}

export function splitSignalUrl(url: string, mode: ClientMode, sessionId?: string): SplitUrl {
  const u = new URL(url);
  const params = new URLSearchParams(u.search);
  const accessToken = params.get('access_token') ?? '';
  params.delete('access_token');
  params.delete(SESSION_ID_PARAM);
  const kept = new URLSearchParams(mode === 'token-bound' && accessToken ? { access_token: accessToken } : {});
  if (mode === 'token-bound' && sessionId) kept.set(SESSION_ID_PARAM, sessionId);
  u.search = kept.size ? `?${kept}` : '';
  return { socketUrl: u.toString(), accessToken: mode === 'token-bound' ? '' : accessToken, query: params.toString() };
}

/** The JWT payload's claims, unverified: the client only looks for its own PQ binding. */
export function peekTokenPayload(token: string): Record<string, unknown> | null {
  const part = token.split('.')[1];
  const bytes = part ? fromBase64Url(part) : null;
  if (!bytes) return null;
  try {
    const v: unknown = JSON.parse(fromUtf8(bytes));
    return v && typeof v === 'object' ? (v as Record<string, unknown>) : null;
  } catch {
    return null;
  }
}

/** True for LiveKit's signaling paths (`…/rtc`, `…/rtc/v1`). */
export const isSignalPath = (pathname: string): boolean => /\/rtc(\/v1)?\/?$/.test(pathname);
/** True for LiveKit's validate paths (`…/rtc/validate`, `…/rtc/v1/validate`). */
export const isValidatePath = (pathname: string): boolean => /\/rtc(\/v1)?\/validate\/?$/.test(pathname);
