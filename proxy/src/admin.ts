/**
 * The admin listener: /healthz (the process serves), /readyz (LiveKit answers
 * and we are not draining — a load balancer stops sending new clients when it
 * fails), /metrics (Prometheus), /server-keys (the public server identity
 * keys, for token servers to pin in clients). Bound to loopback by default.
 */
import { createServer, type IncomingMessage, request, type Server, type ServerResponse } from 'node:http';
import type { Context } from './context.js';
import { guarded } from './http/guard.js';
import { publishedServerKeys } from './server-keys.js';

const READY_CACHE_MS = 1000;

export function createAdmin(ctx: Context): Server {
  // Never checked yet: the first ask checks (performance.now() starts near 0 in a new process).
  let last = { at: Number.NEGATIVE_INFINITY, ok: false };
  const upstreamUp = (): Promise<boolean> => {
    if (performance.now() - last.at < READY_CACHE_MS) return Promise.resolve(last.ok);
    return new Promise((resolve) => {
      const done = (ok: boolean) => {
        last = { at: performance.now(), ok };
        resolve(ok);
      };
      const r = request(ctx.config.upstreamUrl, { method: 'GET', timeout: 1000 }, (res) => {
        res.resume();
        done((res.statusCode ?? 500) < 500);
      });
      r.on('timeout', () => r.destroy(new Error('timeout')));
      r.on('error', () => done(false));
      r.end();
    });
  };

  // Guarded: a failing handler (say, the metrics registry) answers 500 and the process lives on.
  const handler = async (req: IncomingMessage, res: ServerResponse) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') {
      res.writeHead(200, { 'content-type': 'text/plain' }).end('ok\n');
    } else if (path === '/readyz') {
      const up = await upstreamUp();
      const ready = up && !ctx.draining;
      const why = ctx.draining ? 'draining' : up ? 'ready' : 'LiveKit unreachable';
      res.writeHead(ready ? 200 : 503, { 'content-type': 'text/plain' }).end(`${why}\n`);
    } else if (path === '/server-keys') {
      // Public keys only: {keys: [{keyId, algorithm, publicKey, signing}]}, [] without VOLLY_SERVER_KEYS.
      res
        .writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' })
        .end(`${JSON.stringify(publishedServerKeys(ctx.config.serverKeys))}\n`);
    } else if (path === '/metrics') {
      res.writeHead(200, { 'content-type': ctx.metrics.registry.contentType }).end(await ctx.metrics.registry.metrics());
    } else {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
    }
  };
  return createServer(guarded(ctx.log, 'admin', handler));
}
