/**
 * The dial stage: opens LiveKit's signaling WebSocket for a session that is
 * authorized, with a query built only from what the client sent sealed (PQ)
 * or in its own URL (classical), the token replaced by the re-signed one, and
 * headers that say who the client is and nothing else.
 */
import type { Context } from './context.js';
import type { Mode } from './metrics.js';
import { type DialResult, dialUpstream } from './upstream.js';

/**
 * How long LiveKit may take to accept the signaling WebSocket. Apart from the
 * client's handshake timeout: under a reconnect storm LiveKit is slow, not
 * gone (a dead LiveKit refuses at once), and failing then only adds retries.
 */
export const UPSTREAM_DIAL_TIMEOUT_MS = 30_000;

/** LiveKit's URL for this client request: same path, the given query with the re-signed token in place of any other. */
export function upstreamUrl(ctx: Context, path: string, query: string, token: string): URL {
  const u = new URL(ctx.config.upstreamUrl);
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  u.pathname = u.pathname.replace(/\/$/, '') + path;
  const q = new URLSearchParams(query);
  q.set('access_token', token);
  u.search = q.toString();
  return u;
}

export interface DialRequest {
  readonly mode: Mode;
  readonly path: string;
  /** LiveKit's query (join_request, reconnect, sid, …), without the client's token. */
  readonly query: string;
  /** The token LiveKit sees: re-signed with the upstream key. */
  readonly token: string;
  readonly headers: Record<string, string>;
  /** Ends a dial the session no longer wants (client gone, drain). */
  readonly signal?: AbortSignal;
}

/** Dials LiveKit and records the dial's duration and failures. */
export async function dial(ctx: Context, r: DialRequest): Promise<DialResult> {
  const started = performance.now();
  const result = await dialUpstream(upstreamUrl(ctx, r.path, r.query, r.token), {
    headers: r.headers,
    maxPayload: ctx.config.limits.maxFrameBytes * 16,
    timeoutMs: UPSTREAM_DIAL_TIMEOUT_MS,
    ...(r.signal ? { signal: r.signal } : {}),
  });
  ctx.metrics.upstreamDialSeconds.observe({ mode: r.mode }, (performance.now() - started) / 1000);
  if (!result.ok) ctx.metrics.upstreamErrors.inc({ mode: r.mode, status: result.status === 0 ? 'unreachable' : String(result.status) });
  return result;
}
