/** What every stage of the pipeline shares: settings, keys, logs, metrics, the live sessions. */
import type { IncomingMessage } from 'node:http';
import type { Authorizer } from './authorize.js';
import type { Config } from './config.js';
import type { Logger } from './log.js';
import type { Metrics, Mode } from './metrics.js';
import { type DialResult, dialUpstream } from './upstream.js';

export interface Live {
  /** End the session now with this close code. */
  end(code: number, reason: string): void;
  /** Ask a relaying session to reconnect elsewhere (LiveKit leave), then end with 1001. */
  drain?(graceMs?: number): void;
}

export interface Context {
  readonly config: Config;
  readonly auth: Authorizer;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Sessions from accept to end; drain walks it. */
  readonly live: Set<Live>;
  handshakes: number;
  draining: boolean;
}

export const remoteOf = (req: IncomingMessage): string => req.socket.remoteAddress ?? 'unknown';

/** LiveKit's URL for this client request: same path, the given query (token already re-signed). */
export function upstreamUrl(ctx: Context, path: string, query: URLSearchParams): URL {
  const u = new URL(ctx.config.upstreamUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = u.pathname.replace(/\/$/, '') + path;
  u.search = query.toString();
  return u;
}

/**
 * How long LiveKit may take to accept the signaling WebSocket. Apart from the
 * client's handshake timeout: under a reconnect storm LiveKit is slow, not
 * gone (a dead LiveKit refuses at once), and failing then only adds retries.
 */
export const UPSTREAM_DIAL_TIMEOUT_MS = 30_000;

/** The request headers LiveKit gets from us: who the client is, nothing else. */
export function forwardedHeaders(req: IncomingMessage): Record<string, string> {
  const xff = req.headers['x-forwarded-for'];
  return {
    'x-forwarded-for': [xff, remoteOf(req)].filter(Boolean).join(', '),
    'user-agent': String(req.headers['user-agent'] ?? 'volly-pq'),
  };
}

/** Dials LiveKit and records the dial's duration and failures. */
export async function dial(ctx: Context, mode: Mode, headers: Record<string, string>, path: string, query: URLSearchParams): Promise<DialResult> {
  const started = performance.now();
  const r = await dialUpstream(upstreamUrl(ctx, path, query), {
    headers,
    maxPayload: ctx.config.limits.maxFrameBytes * 16,
    timeoutMs: UPSTREAM_DIAL_TIMEOUT_MS,
  });
  ctx.metrics.upstreamDialSeconds.observe({ mode }, (performance.now() - started) / 1000);
  if (!r.ok) ctx.metrics.upstreamErrors.inc({ mode, status: r.status === 0 ? 'unreachable' : String(r.status) });
  return r;
}
