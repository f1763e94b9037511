/**
 * Every HTTP request that is not a signaling upgrade or validate — Twirp
 * (`POST /twirp/livekit.*`), LiveKit's health `/`, WHIP, the proxy's
 * well-known document — forwarded to the proxy's HTTP endpoint unchanged:
 * server APIs stay classical HTTPS (their API-key JWTs are the server's, not
 * a participant's), and the proxy decides what it forwards to LiveKit.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createProxyServer } from 'http-proxy-3';
import type { Logger } from '../log.js';
import type { TunnelMetrics } from './metrics.js';

export type HttpForward = (req: IncomingMessage, res: ServerResponse) => void;

export function createHttpForward(target: URL, metrics: TunnelMetrics, log: Logger): HttpForward {
  // changeOrigin: the proxy (or its ingress) routes by its own Host, not the tunnel's loopback one.
  const proxy = createProxyServer({ target: target.href, changeOrigin: true, proxyTimeout: 30_000, xfwd: false });
  proxy.on('proxyRes', (upRes) => metrics.http.inc({ status: String(upRes.statusCode ?? 0) }));
  proxy.on('error', (err, _req, res) => {
    metrics.http.inc({ status: 'error' });
    log.warn({ event: 'http_forward_error', err: (err as NodeJS.ErrnoException).code ?? 'error' }, 'proxy HTTP request failed');
    if ('writeHead' in res && !(res as ServerResponse).headersSent) {
      (res as ServerResponse).writeHead(502, { 'content-type': 'text/plain; charset=utf-8' });
      (res as ServerResponse).end('volly-pq tunnel: the proxy is unreachable');
    } else res.destroy();
  });
  return (req, res) => proxy.web(req, res);
}
