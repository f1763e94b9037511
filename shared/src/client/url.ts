/**
 * Splits a LiveKit signaling URL for volly-pq.v1: what stays in the URL the
 * socket opens, and what moves into the sealed VollyConnect. In-band moves
 * every query parameter (so no token, SDP or identity travels outside the PQ
 * channel); token-bound keeps only `access_token`, which the proxy needs
 * before the handshake, and the session id the client chose.
 */
import { SESSION_ID_PARAM } from '../protocol.js';
import type { ClientMode } from './session.js';

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
