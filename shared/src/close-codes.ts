/**
 * WebSocket close codes of volly-pq.v1 (docs/PROTOCOL.md). The 44xx/45xx codes
 * mirror the HTTP status they stand for, so a log line reads at a glance.
 */
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
