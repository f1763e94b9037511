/**
 * WebSocket close codes of volly-pq.v1 (docs/PROTOCOL.md). The 44xx/45xx codes
 * mirror the HTTP status they stand for, so a log line reads at a glance.
 */
import { CloseCodeV2 } from './v2/constants.js';

export { CloseCodeV2 };

export const CloseCode = {
  /** Proxy draining (shutdown or rollout); reconnect elsewhere. */
  GoingAway: 1001,
  /** Unexpected internal failure. */
  Internal: 1011,
  /** Malformed handshake, frame that fails to open, protocol violation. */
  Malformed: 4400,
  /** Missing, invalid or expired token; token bound to another key. */
  Unauthorized: 4401,
  /** Refused by policy: classical client under `require`, algorithm not allowed. */
  Refused: 4403,
  /** Handshake or key confirmation did not complete in time. */
  HandshakeTimeout: 4408,
  /** Frame or message larger than the configured limit (RFC 6455 "message too big"). */
  TooLarge: 1009,
  /** Too many concurrent handshakes; retry later. */
  Busy: 4429,
  /** LiveKit unreachable or it refused the upstream dial. */
  Upstream: 4502,
  /**
   * The client could not authenticate the server: it pins server keys and the
   * pq_response carried no signature, one by a key it does not pin, or one that
   * does not verify. Sent by the client (the proxy never sends it), before any
   * token or query left the client. Mirrors HTTP 526 ("invalid SSL
   * certificate": the origin's identity could not be verified).
   */
  ServerAuth: 4526,
} as const;
export type CloseCodeValue = (typeof CloseCode)[keyof typeof CloseCode];

/**
 * What a session's end is counted as in the proxy's metrics and logs
 * (`volly_sessions_total{outcome}`): dashboards and alerts depend on these
 * exact labels.
 */
export type SessionOutcome = 'closed' | 'refused' | 'malformed' | 'timeout' | 'upstream_error' | 'drained' | 'error';

export interface CloseCodeInfo {
  readonly code: number;
  /** Its name (the CloseCode key for volly-pq codes, RFC 6455's for the rest): all an unsealed close reason may say. */
  readonly name: string;
  /** The HTTP status a refusal with this code maps to (what the validate shim answers livekit-client with). */
  readonly status: number;
  readonly outcome: SessionOutcome;
}

type Row = readonly [name: string, status: number, outcome: SessionOutcome];

/**
 * The one table of close codes. 44xx/45xx mirror their HTTP status; 1009 is
 * "payload too large" (413); 1001 is a draining proxy (503: retry elsewhere).
 * 1000/1005 end a session normally; 1006 (no close frame) counts as an error.
 * A connection that ended with one of those before the session opened did not
 * work, so its status is 500, never 2xx.
 */
const TABLE: ReadonlyMap<number, Row> = new Map<number, Row>([
  [1000, ['Normal', 500, 'closed']],
  [1005, ['NoStatus', 500, 'closed']],
  [1006, ['Abnormal', 500, 'error']],
  [CloseCode.GoingAway, ['GoingAway', 503, 'drained']],
  [CloseCode.Internal, ['Internal', 500, 'error']],
  [CloseCode.TooLarge, ['TooLarge', 413, 'malformed']],
  [CloseCode.Malformed, ['Malformed', 400, 'malformed']],
  [CloseCode.Unauthorized, ['Unauthorized', 401, 'refused']],
  [CloseCode.Refused, ['Refused', 403, 'refused']],
  [CloseCode.HandshakeTimeout, ['HandshakeTimeout', 408, 'timeout']],
  [CloseCode.Busy, ['Busy', 429, 'refused']],
  [CloseCode.Upstream, ['Upstream', 502, 'upstream_error']],
  [CloseCode.ServerAuth, ['ServerAuth', 526, 'error']],
  // volly-pq.v2 (PROTOCOL.md v2.7): 421 Misdirected Request (no such key
  // here), 409 Conflict (session id used), 425 Too Early (RFC 8470: early
  // data outside the window) are refusals; a register that does not answer
  // is the proxy's own failure (503).
  [CloseCodeV2.UnknownKey, ['UnknownKey', 421, 'refused']],
  [CloseCodeV2.Replay, ['Replay', 409, 'refused']],
  [CloseCodeV2.StaleClock, ['StaleClock', 425, 'refused']],
  [CloseCodeV2.RegisterUnavailable, ['RegisterUnavailable', 503, 'error']],
]);

/**
 * Name, HTTP status and session outcome of any close code. Codes outside the
 * table: 4000-4099 (application codes LiveKit or a client may use to end a
 * session on purpose) count as `closed`, anything else as `error`; both map
 * to HTTP 500.
 */
export function closeCodeInfo(code: number): CloseCodeInfo {
  const row = TABLE.get(code);
  if (row) return { code, name: row[0], status: row[1], outcome: row[2] };
  return { code, name: `Code${code}`, status: 500, outcome: code >= 4000 && code < 4100 ? 'closed' : 'error' };
}

/**
 * Whether a close frame may carry `code`. `server` (any endpoint, RFC 6455
 * §7.4 as `ws` enforces it): 1000-1014 except 1004 (reserved) and 1005/1006
 * (which only describe a close, never travel), and 3000-4999. `client` (the
 * WHATWG WebSocket API a browser page calls): only 1000 and 3000-4999.
 */
export function isSendableCloseCode(code: number, by: 'server' | 'client' = 'server'): boolean {
  if (!Number.isInteger(code)) return false;
  if (code === 1000 || (code >= 3000 && code <= 4999)) return true;
  return by === 'server' && code > 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006;
}
