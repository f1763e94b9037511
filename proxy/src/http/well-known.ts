/**
 * GET /.well-known/volly-pq (docs/PROTOCOL.md, "v2.1"): the proxy's static
 * KEM public keys for volly-pq.v2 clients, the current key first. Answered by
 * the proxy itself, cacheable (clients fetch it once and refetch on 4421),
 * readable from any origin (browsers fetch it cross-origin). 404 when v2 is
 * not served.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Context } from '../context.js';
import { corsHeaders, reply } from '../http-reply.js';

/** As PROTOCOL.md suggests: short enough that a rotation's step 3 waits minutes, not hours. */
export const WELL_KNOWN_MAX_AGE_S = 300;

export function serveWellKnown(ctx: Context, req: IncomingMessage, res: ServerResponse): void {
  const document = ctx.v2?.document;
  if (!document) {
    reply(req, res, 404, 'volly-pq.v2 is not served here');
    return;
  }
  const cors = corsHeaders(req, true);
  if (req.method === 'OPTIONS') {
    res.writeHead(204, { ...cors, 'access-control-allow-methods': 'GET, HEAD', 'access-control-max-age': '86400' });
    res.end();
    return;
  }
  res.writeHead(200, {
    ...cors,
    'content-type': 'application/json',
    'content-length': Buffer.byteLength(document),
    'cache-control': `public, max-age=${WELL_KNOWN_MAX_AGE_S}`,
    'x-content-type-options': 'nosniff',
  });
  res.end(req.method === 'HEAD' ? undefined : document);
}
