/**
 * `volly-pq tunnel`'s listeners: the SDK-facing one (signaling upgrades,
 * validate, everything else forwarded) and, when asked, an admin one serving
 * /metrics. close() stops listening and ends every session with 1001 (going
 * away), which the SDKs treat as "reconnect".
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isUpgradePath, isValidatePath } from '@volly/shared';
import { WebSocketServer } from 'ws';
import type { Logger } from '../log.js';
import { createDialer } from './dial.js';
import { FailureMemory } from './failures.js';
import { createHttpForward } from './http.js';
import { createTunnelMetrics } from './metrics.js';
import type { TunnelSettings } from './options.js';
import { handleSignalUpgrade, refuseUpgrade } from './signal.js';
import { answerValidate } from './validate.js';

export interface RunningTunnel {
  readonly port: number;
  readonly adminPort: number | undefined;
  close(): Promise<void>;
}

const listen = (server: Server, host: string, port: number) =>
  new Promise<number>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve((server.address() as AddressInfo).port));
  });

/** The request's path; undefined for a target no URL parser takes (`//[`): answered 400, since a throw here would end the process. */
function pathOf(url: string | undefined): string | undefined {
  try {
    return new URL(url ?? '/', 'http://tunnel.invalid').pathname.replace(/\/{2,}/g, '/');
  } catch {
    return undefined;
  }
}
const BAD_TARGET = 'volly-pq tunnel: the request target is not a valid URL';
const NEEDS_UPGRADE = 'volly-pq tunnel: signaling needs a WebSocket upgrade';
const NOT_SIGNALING = 'volly-pq tunnel: not a LiveKit signaling path';

export async function startTunnel(s: TunnelSettings, log: Logger): Promise<RunningTunnel> {
  const metrics = createTunnelMetrics();
  const failures = new FailureMemory();
  // The SDK's side: loopback, so no per-message compression (and none of its memory cost).
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, maxPayload: 16 * 1024 * 1024 });
  const deps = { dialer: createDialer(s), failures, metrics, log, wss };
  const forward = createHttpForward(s.serverHttp, metrics, log);

  // One line per request the tunnel refuses itself; never its URL, which may carry a token.
  const refused = (kind: 'request' | 'upgrade', status: number, reason: string) =>
    log.warn({ event: 'request_refused', kind, status, reason }, 'volly-pq tunnel refused a request');
  const server = createServer((req, res) => {
    const path = pathOf(req.url);
    if (path === undefined) {
      refused('request', 400, BAD_TARGET);
      res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8' }).end(BAD_TARGET);
    } else if (isValidatePath(path) && (req.method === 'GET' || req.method === 'HEAD')) answerValidate(req, res, failures, metrics);
    // A plain request to a signaling or agent path would carry the SDK's token to the proxy outside any PQ session.
    else if (isUpgradePath(path)) {
      refused('request', 426, NEEDS_UPGRADE);
      res.writeHead(426, { 'content-type': 'text/plain; charset=utf-8', upgrade: 'websocket' }).end(NEEDS_UPGRADE);
    } else forward(req, res);
  });
  server.on('upgrade', (req, socket, head) => {
    // Only LiveKit's signaling and agent worker paths are carried.
    const path = pathOf(req.url);
    if (path !== undefined && isUpgradePath(path)) return handleSignalUpgrade(req, socket, head, deps);
    const [status, reason] = path === undefined ? [400, BAD_TARGET] : [404, NOT_SIGNALING];
    refused('upgrade', status, reason);
    refuseUpgrade(socket, status, reason);
  });
  const port = await listen(server, s.listen.host, s.listen.port);

  let admin: Server | undefined;
  let adminPort: number | undefined;
  if (s.adminListen) {
    admin = createServer((req, res) => {
      if (pathOf(req.url) !== '/metrics') return void res.writeHead(404).end();
      metrics.registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': metrics.registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
    });
    adminPort = await listen(admin, s.adminListen.host, s.adminListen.port);
  }
  log.info(
    {
      event: 'listening',
      url: `ws://${s.listen.host.includes(':') ? `[${s.listen.host}]` : s.listen.host}:${port}`,
      server: s.server.href,
      protocol: s.protocol,
      adminPort,
    },
    'volly-pq tunnel listening',
  );
  return {
    port,
    adminPort,
    async close() {
      for (const ws of wss.clients) ws.close(1001, 'tunnel shutting down');
      const closed = Promise.all([new Promise((r) => server.close(r)), admin ? new Promise((r) => admin.close(r)) : undefined]);
      // Idle keep-alive connections would hold close() open.
      server.closeAllConnections();
      admin?.closeAllConnections();
      await closed;
    },
  };
}
