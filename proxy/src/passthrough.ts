/**
 * Everything on the public listener that is not a signaling WebSocket.
 * Only LiveKit's documented HTTP surface is forwarded (http/routes.ts); the
 * rest is 404 here. Tokens are verified, PQ-bound ones refused, and the rest
 * re-signed wherever LiveKit would look for them (http/tokens.ts); under
 * `require` the validate probe is refused like a classical WebSocket. Every
 * reply written here carries LiveKit's CORS headers (http-reply.ts), and
 * every reply from LiveKit is redacted of tokens (http/forward.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { REQUIRE_PQ_REASON } from './classical.js';
import type { Context } from './context.js';
import { createForward } from './http/forward.js';
import { canonicalPath, type Route, routeOf } from './http/routes.js';
import { refusalOf, resignTokens } from './http/tokens.js';
import { serveWellKnown } from './http/well-known.js';
import { reply } from './http-reply.js';

const BASE = 'http://proxy.invalid';

/** The request target as a URL, or undefined when it is not origin-form (`/path?query`) or does not parse. */
function parseTarget(raw: string | undefined): URL | undefined {
  if (!raw?.startsWith('/')) return undefined;
  try {
    // Prefixed, not resolved against a base: `//host/x` is a path here, as for LiveKit, not a host.
    return new URL(BASE + raw);
  } catch {
    return undefined;
  }
}

export function createPassthrough(ctx: Context) {
  const forward = createForward(ctx);

  return async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = parseTarget(req.url);
    const route: Route | 'none' = (url && routeOf(req.method, url.pathname)) || 'none';
    res.once('finish', () => ctx.metrics.httpProxied.inc({ route, status: String(res.statusCode) }));
    const validate = route === 'validate';
    if (!url) return reply(req, res, 400, 'malformed request URL');
    if (route === 'none') return reply(req, res, 404, 'not found');
    if (route === 'well-known') return serveWellKnown(ctx, req, res);
    // A preflight (rs/cors answers it before LiveKit's auth) carries no token: LiveKit's own answer is the right one.
    const preflight = req.method === 'OPTIONS' && req.headers['access-control-request-method'] !== undefined;
    if (validate && ctx.config.policy === 'require' && !preflight) return reply(req, res, 403, REQUIRE_PQ_REASON, { validate });
    let body: Buffer | undefined;
    try {
      ({ body } = await resignTokens(ctx, req, url));
    } catch (err) {
      const refusal = refusalOf(err);
      if (!refusal) throw err;
      if (route === 'twirp') {
        const code = refusal.status === 401 ? 'unauthenticated' : 'malformed';
        return reply(req, res, refusal.status, JSON.stringify({ code, msg: refusal.message }), { json: true });
      }
      return reply(req, res, refusal.status, refusal.message, { validate });
    }
    // Re-serialized, so LiveKit parses the query the proxy checked, not the client's spelling of it.
    const query = url.searchParams.toString();
    req.url = canonicalPath(url.pathname) + (query ? `?${query}` : '');
    forward(req, res, route, body);
  };
}
