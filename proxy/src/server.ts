/**
 * Wires the pipeline: accept → handshake → authorize → dial → relay on the
 * public listener, the admin listener beside it, and draining on shutdown.
 */
import { createServer } from 'node:http';
import type { AddressInfo, Server } from 'node:net';
import { CloseCode } from '@volly/shared';
import { createAcceptor } from './accept.js';
import { createAdmin } from './admin.js';
import { Authorizer } from './authorize.js';
import type { Config } from './config.js';
import type { Context } from './context.js';
import { createDemo } from './demo.js';
import { guarded } from './http/guard.js';
import { HandshakeLimiter } from './limiter.js';
import { createLogger, type Logger } from './log.js';
import { createMetrics } from './metrics.js';
import { createPassthrough } from './passthrough.js';
import { createV2Server } from './pq/v2.js';
import { keyIds } from './static-keys.js';
import { createTlsListener } from './tls.js';

export interface RunningProxy {
  readonly ctx: Context;
  /** The public port (useful when listening on port 0). */
  readonly port: number;
  readonly adminPort: number;
  /** Stop accepting, fail /readyz, ask every session to reconnect elsewhere, resolve when empty or at the deadline. */
  drain(deadlineMs?: number): Promise<void>;
  /** Drain, then close both listeners. */
  close(): Promise<void>;
}

function listen(server: Server, host: string, port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve((server.address() as AddressInfo).port);
    });
  });
}

export async function startProxy(config: Config, log: Logger = createLogger(config.logLevel)): Promise<RunningProxy> {
  const metrics = createMetrics();
  const v2 = createV2Server(config, log);
  const ctx: Context = {
    config,
    auth: new Authorizer(config),
    log,
    metrics,
    limiter: new HandshakeLimiter(config.limits, metrics),
    live: new Set(),
    draining: false,
    ...(v2 ? { v2 } : {}),
  };
  // TLS when a certificate is set (tls.ts); plain HTTP behind an ingress otherwise.
  const tls = config.tls ? createTlsListener(config.tls, { log, metrics: ctx.metrics, handshakeTimeoutMs: config.limits.handshakeTimeoutMs }) : undefined;
  // Node enforces headersTimeout and requestTimeout (below) only when it checks,
  // every connectionsCheckingInterval (30 s by default): every second here (and
  // in tls.ts), so a client dribbling its upgrade headers goes at 10 s, not 30-40 s.
  const server = tls?.server ?? createServer({ connectionsCheckingInterval: 1_000 });
  const passthrough = createPassthrough(ctx);
  const demo = config.demo ? createDemo(ctx) : undefined;
  // One guard for the whole public HTTP surface: any failure is a 500 on that request, never a crash.
  server.on(
    'request',
    guarded(log, 'public', async (req, res) => {
      if (demo && (await demo(req, res))) return;
      await passthrough(req, res);
    }),
  );
  server.on('upgrade', createAcceptor(ctx));
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  const admin = createAdmin(ctx);
  const port = await listen(server, config.listen.host, config.listen.port);
  const adminPort = await listen(admin, config.adminListen.host, config.adminListen.port);
  log.info(
    {
      event: 'listening',
      port,
      adminPort,
      tls: Boolean(tls),
      upstream: config.upstreamUrl.origin,
      policy: config.policy,
      algorithms: config.algorithms,
      protocols: v2 ? config.protocols : config.protocols.filter((p) => p !== 'v2'),
      v2Keys: keyIds(config.staticKeys ?? []),
      v2Register: v2?.register.kind,
    },
    'volly-pq proxy listening',
  );
  if (config.protocols.includes('v2') && !v2)
    log.warn({ event: 'v2_disabled' }, 'volly-pq.v2 is not served: VOLLY_SERVER_KEYS lists no X-Wing or ML-KEM-768 key');

  let drained: Promise<void> | undefined;
  const drain = (deadlineMs = config.limits.drainTimeoutMs): Promise<void> => {
    drained ??= (async () => {
      ctx.draining = true;
      log.info({ event: 'drain', sessions: ctx.live.size, deadlineMs }, 'draining');
      server.close();
      tls?.stop();
      const grace = Math.min(2000, deadlineMs / 2);
      for (const s of [...ctx.live]) s.drain ? s.drain(grace) : s.end(CloseCode.GoingAway, 'proxy draining; reconnect');
      const until = performance.now() + deadlineMs;
      while (ctx.live.size > 0 && performance.now() < until) await new Promise((r) => setTimeout(r, 50));
      server.closeAllConnections();
      log.info({ event: 'drained', remaining: ctx.live.size }, 'drain complete');
    })();
    return drained;
  };
  return {
    ctx,
    port,
    adminPort,
    drain,
    async close() {
      await drain();
      await new Promise<void>((r) => admin.close(() => r()));
      admin.closeAllConnections();
      await v2?.register.close();
    },
  };
}
