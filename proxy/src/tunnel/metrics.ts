/**
 * The tunnel's Prometheus metrics, named and labelled like the proxy's
 * (metrics.ts there): sessions by protocol (v1 | v2), algorithm and mode
 * (v1 in-band | token-bound; v2 unbound | bound), failures by close code, frames
 * and bytes by direction, and how often backpressure paused a side.
 */
import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from 'prom-client';

export type TunnelDirection = 'sdk_to_proxy' | 'proxy_to_sdk';

export function createTunnelMetrics() {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'volly_tunnel_' });
  const reg = { registers: [registry] };
  const session = ['protocol', 'algorithm', 'mode'];
  return {
    registry,
    sessionsActive: new Gauge({ name: 'volly_tunnel_sessions_active', help: 'PQ sessions relaying now', labelNames: session, ...reg }),
    sessionsTotal: new Counter({
      name: 'volly_tunnel_sessions_total',
      help: 'PQ sessions ended, by outcome (closed | error | refused: never opened | abandoned: the SDK left before it opened)',
      labelNames: [...session, 'outcome'],
      ...reg,
    }),
    reconnects: new Counter({
      name: 'volly_tunnel_reconnects_total',
      help: 'PQ sessions opened for an SDK resuming or rejoining (reconnect=1, or join_request.reconnect)',
      labelNames: ['protocol'],
      ...reg,
    }),
    failures: new Counter({
      name: 'volly_tunnel_failures_total',
      help: "Sessions that failed, by close code (the proxy's or LiveKit's) and HTTP status the SDK was given",
      labelNames: ['protocol', 'code', 'status'],
      ...reg,
    }),
    setupSeconds: new Histogram({
      name: 'volly_tunnel_setup_duration_seconds',
      help: "From the SDK's upgrade request to the first LiveKit message opened through the PQ session",
      labelNames: ['protocol'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10],
      ...reg,
    }),
    frames: new Counter({ name: 'volly_tunnel_frames_total', help: 'LiveKit frames relayed', labelNames: ['direction'], ...reg }),
    bytes: new Counter({ name: 'volly_tunnel_bytes_total', help: 'LiveKit payload bytes relayed (plaintext side)', labelNames: ['direction'], ...reg }),
    pauses: new Counter({
      name: 'volly_tunnel_backpressure_pauses_total',
      help: "Times a side was paused because the other side's send buffer was over the high-water mark, by the direction held back",
      labelNames: ['direction'],
      ...reg,
    }),
    validate: new Counter({
      name: 'volly_tunnel_validate_total',
      help: 'Validate requests answered by the tunnel (never forwarded: the URL holds the token), by result (failure: the recorded refusal; none: nothing recorded)',
      labelNames: ['result'],
      ...reg,
    }),
    http: new Counter({
      name: 'volly_tunnel_http_requests_total',
      help: 'Plain HTTP requests forwarded to the proxy, by status ("error": the proxy was unreachable)',
      labelNames: ['status'],
      ...reg,
    }),
  };
}
export type TunnelMetrics = ReturnType<typeof createTunnelMetrics>;
