/**
 * Prometheus metrics. Every session count is split by mode (pq | classical),
 * algorithm (ML-KEM-768 | X-Wing | none) and wire protocol (v1 | v2 | none
 * for classical), so an operator can tell how much signaling is PQ-protected
 * and by which version. Queries on mode and algorithm alone keep working.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type Mode = 'pq' | 'classical';
export type Direction = 'client_to_upstream' | 'upstream_to_client';

export function createMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'volly_' });
  const reg = { registers: [registry] };
  return {
    registry,
    sessionsActive: new Gauge({ name: 'volly_sessions_active', help: 'Sessions relaying now', labelNames: ['mode', 'algorithm', 'protocol'], ...reg }),
    sessionsTotal: new Counter({
      name: 'volly_sessions_total',
      help: 'Sessions ended, by outcome',
      labelNames: ['mode', 'algorithm', 'protocol', 'outcome'],
      ...reg,
    }),
    // pq/v2.ts: what became of each volly-pq.v2 first flight before the token was read.
    v2FirstFlights: new Counter({
      name: 'volly_v2_first_flights_total',
      help: 'volly-pq.v2 first flights, by result (fresh, malformed, refused_algorithm, unknown_key, stale, replay, register_unavailable)',
      labelNames: ['result'],
      ...reg,
    }),
    handshakesActive: new Gauge({ name: 'volly_handshakes_active', help: 'PQ handshakes in progress', ...reg }),
    // limiter.ts: upgrades waiting for a handshake slot, and what became of them.
    handshakesQueued: new Gauge({ name: 'volly_handshakes_queued', help: 'PQ upgrades waiting for a handshake slot', ...reg }),
    handshakeQueue: new Counter({
      name: 'volly_handshake_queue_total',
      help: 'PQ upgrades that waited for a handshake slot, by result (queued: started waiting; admitted, expired: 429 at the deadline; gone: client left)',
      labelNames: ['result'],
      ...reg,
    }),
    handshakeRefusals: new Counter({
      name: 'volly_handshake_refusals_total',
      help: 'PQ upgrades refused with 429, by reason (busy: queue full or wait expired; source: the address holds its share)',
      labelNames: ['reason'],
      ...reg,
    }),
    v1MissingSid: new Counter({
      name: 'volly_v1_missing_sid_total',
      help: 'volly-pq.v1 token-bound upgrades without volly_sid (no replay guard), by result (admitted | refused)',
      labelNames: ['result'],
      ...reg,
    }),
    handshakeSeconds: new Histogram({
      name: 'volly_handshake_duration_seconds',
      help: 'From WebSocket accept to the sealed VollyConnect opened',
      labelNames: ['protocol', 'algorithm', 'flow'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      ...reg,
    }),
    failures: new Counter({
      name: 'volly_failures_total',
      help: 'Sessions that ended with an error, by close code',
      labelNames: ['mode', 'algorithm', 'protocol', 'code'],
      ...reg,
    }),
    frames: new Counter({ name: 'volly_frames_total', help: 'Frames relayed', labelNames: ['mode', 'direction'], ...reg }),
    bytes: new Counter({ name: 'volly_bytes_total', help: 'Payload bytes relayed (plaintext side)', labelNames: ['mode', 'direction'], ...reg }),
    upstreamDialSeconds: new Histogram({
      name: 'volly_upstream_dial_duration_seconds',
      help: 'Time to open the WebSocket to LiveKit',
      labelNames: ['mode'],
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      ...reg,
    }),
    upstreamErrors: new Counter({
      name: 'volly_upstream_errors_total',
      help: 'Upstream dials that failed, by HTTP status or "unreachable"',
      labelNames: ['mode', 'status'],
      ...reg,
    }),
    tokenRewrites: new Counter({ name: 'volly_token_rewrites_total', help: 'Tokens from LiveKit rewritten for the client', labelNames: ['kind'], ...reg }),
    httpProxied: new Counter({
      name: 'volly_http_requests_total',
      help: 'Non-signaling HTTP requests on the public listener, by route ("none": not LiveKit\'s surface, answered 400/404) and status',
      labelNames: ['route', 'status'],
      ...reg,
    }),
    httpForwarded: new Counter({
      name: 'volly_http_forwarded_total',
      help: 'Plain HTTP requests the proxy sent on to LiveKit (after its route and token checks), by route',
      labelNames: ['route'],
      ...reg,
    }),
    // TLS on the proxy's own listener (tls.ts); tls_kex pq | classical | none (plain HTTP: TLS ends before the proxy).
    sessionsTls: new Counter({
      name: 'volly_sessions_tls_total',
      help: 'Sessions ended, by mode and algorithm (volly-pq.v1) and by the TLS version and key-exchange group of the client connection',
      labelNames: ['mode', 'algorithm', 'tls_version', 'tls_group', 'tls_kex'],
      ...reg,
    }),
    tlsHandshakes: new Counter({
      name: 'volly_tls_handshakes_total',
      help: 'TLS handshakes completed on the public listener',
      labelNames: ['tls_version', 'tls_group', 'tls_kex'],
      ...reg,
    }),
    tlsErrors: new Counter({ name: 'volly_tls_handshake_errors_total', help: 'TLS handshakes that failed, by error code', labelNames: ['code'], ...reg }),
    tlsReloads: new Counter({
      name: 'volly_tls_certificate_reloads_total',
      help: 'Changed certificate/key files seen, by result (ok: now served; error: kept the old pair)',
      labelNames: ['result'],
      ...reg,
    }),
    tlsCertificateExpiry: new Gauge({
      name: 'volly_tls_certificate_expiry_timestamp_seconds',
      help: 'notAfter of the served certificate (unix seconds)',
      ...reg,
    }),
  };
}
export type Metrics = ReturnType<typeof createMetrics>;
