/**
 * Everything that is not a signaling WebSocket, proxied to LiveKit with
 * http-proxy: the Twirp API (`/twirp/...`), WHIP, `/` and the validate probes.
 * Tokens are verified and re-signed on the way: `Authorization: Bearer` for
 * the APIs, `access_token` in the query for `/rtc/validate` and
 * `/rtc/v1/validate` (where a PQ-bound token and, under `require`, any
 * classical probe are refused exactly as the WebSocket would be).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isValidatePath, redactTokens, VollyError } from '@volly/shared';
import httpProxy from 'http-proxy';
import { REQUIRE_PQ_REASON } from './classical.js';
import type { Context } from './context.js';

function reply(res: ServerResponse, status: number, body: string, json = false): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, { 'content-type': json ? 'application/json' : 'text/plain; charset=utf-8' });
  res.end(json ? body : `${body}\n`);
}

const MAX_VALIDATE_BODY = 4096;

export function createPassthrough(ctx: Context) {
  const options = { target: ctx.config.upstreamUrl.href, xfwd: true, proxyTimeout: 30_000 };
  const proxy = httpProxy.createProxyServer(options);
  // Validate answers are read and passed on with tokens redacted: LiveKit's
  // 401 body quotes the token it was given, which is our re-signed one.
  const validateProxy = httpProxy.createProxyServer({ ...options, selfHandleResponse: true });
  validateProxy.on('proxyRes', (upRes, _req, res) => {
    let body = '';
    upRes.setEncoding('utf8');
    upRes.on('data', (c: string) => {
      if (body.length < MAX_VALIDATE_BODY) body += c;
    });
    upRes.on('end', () => {
      const text = redactTokens(body.slice(0, MAX_VALIDATE_BODY));
      res.writeHead(upRes.statusCode ?? 502, {
        'content-type': String(upRes.headers['content-type'] ?? 'text/plain; charset=utf-8'),
        'access-control-allow-origin': '*',
      });
      res.end(text);
    });
  });
  for (const p of [proxy, validateProxy]) {
    p.on('error', (err, _req, res) => {
      ctx.log.warn({ event: 'http_upstream_error', err: err.message }, 'LiveKit HTTP request failed');
      if ('writeHead' in res) reply(res as ServerResponse, 502, 'LiveKit unreachable');
    });
  }

  return async function onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://proxy.invalid');
    const route = isValidatePath(url.pathname) ? 'validate' : url.pathname.startsWith('/twirp/') ? 'twirp' : 'other';
    res.once('finish', () => ctx.metrics.httpProxied.inc({ route, status: String(res.statusCode) }));
    try {
      if (route === 'validate') {
        if (ctx.config.policy === 'require') return reply(res, 403, REQUIRE_PQ_REASON);
        const grant = await ctx.auth.verify(url.searchParams.get('access_token') ?? '');
        ctx.auth.refuseOnClassical(grant);
        url.searchParams.set('access_token', await ctx.auth.downgrade(grant));
        req.url = url.pathname + url.search;
      }
      const bearer = /^Bearer\s+(\S+)$/i.exec(String(req.headers.authorization ?? ''))?.[1];
      if (bearer) req.headers.authorization = `Bearer ${await ctx.auth.resignBearer(bearer)}`;
    } catch (err) {
      const msg = err instanceof VollyError ? err.message : 'invalid token';
      if (route === 'twirp') return reply(res, 401, JSON.stringify({ code: 'unauthenticated', msg }), true);
      return reply(res, 401, msg);
    }
    (route === 'validate' ? validateProxy : proxy).web(req, res);
  };
}
