/**
 * The accept stage: routes each WebSocket upgrade. Signaling paths (`/rtc`,
 * `/rtc/v1`) offering the `volly-pq.v1` subprotocol go to the PQ handshake;
 * others to the classical path (policy decides). Everything is refused while
 * draining, and PQ handshakes beyond the concurrency limit get 429.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isSignalPath, SUBPROTOCOL } from '@volly/shared';
import { WebSocketServer } from 'ws';
import { acceptClassical } from './classical.js';
import type { Context } from './context.js';
import { PqHandshake } from './handshake.js';
import { refuseUpgrade } from './http-reply.js';

function offeredProtocols(req: IncomingMessage): string[] {
  return String(req.headers['sec-websocket-protocol'] ?? '')
    .split(',')
    .map((p) => p.trim())
    .filter(Boolean);
}

export function createAcceptor(ctx: Context) {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: ctx.config.limits.maxFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });

  return function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', () => socket.destroy());
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://proxy.invalid');
    } catch {
      refuseUpgrade(socket, 400, 'malformed request URL');
      return;
    }
    if (!isSignalPath(url.pathname)) {
      refuseUpgrade(socket, 404, 'not a LiveKit signaling path');
      return;
    }
    if (ctx.draining) {
      refuseUpgrade(socket, 503, 'proxy is draining; reconnect');
      return;
    }
    if (!offeredProtocols(req).includes(SUBPROTOCOL)) {
      acceptClassical(ctx, wss, req, socket, head, url).catch((err: Error) => {
        ctx.log.error({ err: err.message }, 'classical accept failed');
        refuseUpgrade(socket, 500, 'internal error');
      });
      return;
    }
    if (ctx.handshakes >= ctx.config.limits.maxHandshakes) {
      ctx.metrics.failures.inc({ mode: 'pq', algorithm: 'none', code: '4429' });
      ctx.log.warn({ event: 'handshake_refused', reason: 'busy', remote: req.socket.remoteAddress }, 'too many concurrent handshakes');
      refuseUpgrade(socket, 429, 'too many concurrent handshakes; retry');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new PqHandshake(ctx, ws, req, url);
      ctx.live.add(session);
      ws.once('close', () => ctx.live.delete(session));
    });
  };
}
