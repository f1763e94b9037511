/**
 * The one way a request reaches LiveKit over plain HTTP: http-proxy-3 with
 * the response handled here, so every header and body LiveKit sends passes
 * the token redactor (http/redact.ts) before the client sees it.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { Readable } from 'node:stream';
import { redactTokens } from '@volly/shared';
import { createProxyServer } from 'http-proxy-3';
import { clientAddress, FORWARDING_HEADERS } from '../client-address.js';
import type { Context } from '../context.js';
import { reply } from '../http-reply.js';
import { TokenRedactor } from './redact.js';
import type { Route } from './routes.js';

/** Headers that belong to one connection, not to the reply (RFC 9110 §7.6.1). */
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'upgrade', 'te', 'trailer', 'content-length']);

function redactedHeaders(headers: IncomingMessage['headers']): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of Object.entries(headers)) {
    if (value === undefined || HOP_BY_HOP.has(name)) continue;
    out[name] = Array.isArray(value) ? value.map(redactTokens) : redactTokens(value);
  }
  return out;
}

export type Forward = (req: IncomingMessage, res: ServerResponse, route: Route, body?: Buffer) => void;

export function createForward(ctx: Context): Forward {
  // Which route each forwarded request took, for the 502 (validate replies get `*` like LiveKit's).
  const routes = new WeakMap<IncomingMessage, Route>();
  const proxy = createProxyServer({ target: ctx.config.upstreamUrl.href, proxyTimeout: 30_000, selfHandleResponse: true });
  proxy.on('proxyRes', (upRes, req, res) => {
    // The body is re-chunked after redaction: LiveKit's Content-Length may no longer hold.
    res.writeHead(upRes.statusCode ?? 502, redactedHeaders(upRes.headers));
    if (req.method === 'HEAD' || upRes.statusCode === 204 || upRes.statusCode === 304) {
      upRes.resume();
      return void res.end();
    }
    upRes.pipe(new TokenRedactor()).pipe(res);
    upRes.once('error', () => res.destroy());
  });
  proxy.on('error', (err, req, res) => {
    ctx.log.warn({ event: 'http_upstream_error', err: redactTokens(err.message) }, 'LiveKit HTTP request failed');
    if ('writeHead' in res) reply(req, res as ServerResponse, 502, 'LiveKit unreachable', { validate: routes.get(req) === 'validate' });
    else res.destroy();
  });

  return (req, res, route, body) => {
    // Identity encoding, so the redactor sees the bytes LiveKit wrote.
    delete req.headers['accept-encoding'];
    // LiveKit's client-IP logic hears the address we established, not the client's own claim (client-address.ts).
    const client = clientAddress(req, ctx.config.trustedProxies);
    for (const h of FORWARDING_HEADERS) delete req.headers[h];
    Object.assign(req.headers, { 'x-forwarded-for': client, 'x-real-ip': client });
    if (body) {
      delete req.headers['transfer-encoding'];
      req.headers['content-length'] = String(body.length);
    }
    routes.set(req, route);
    ctx.metrics.httpForwarded.inc({ route });
    proxy.web(req, res, body ? { buffer: Readable.from([body]) } : {});
  };
}
