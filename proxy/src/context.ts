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

/** Dials LiveKit and records the dial's duration and failures. */
export async function dial(ctx: Context, mode: Mode, req: IncomingMessage, path: string, query: URLSearchParams): Promise<DialResult> {
  const started = performance.now();
  const xff = req.headers['x-forwarded-for'];
  const headers: Record<string, string> = {
    'x-forwarded-for': [xff, remoteOf(req)].filter(Boolean).join(', '),
    'user-agent': String(req.headers['user-agent'] ?? 'volly-pq'),
  };
  const r = await dialUpstream(upstreamUrl(ctx, path, query), { headers, maxPayload: ctx.config.limits.maxFrameBytes * 16, timeoutMs: Math.max(ctx.config.limits.handshakeTimeoutMs, 5000) });
  ctx.metrics.upstreamDialSeconds.observe({ mode }, (performance.now() - started) / 1000);
  if (!r.ok) ctx.metrics.upstreamErrors.inc({ mode, status: r.status === 0 ? 'unreachable' : String(r.status) });
  return r;
}
