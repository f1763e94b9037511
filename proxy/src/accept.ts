/**
 * The accept stage: routes each WebSocket upgrade. Signaling paths (`/rtc`,
 * `/rtc/v1`) offering the `volly-pq.v1` subprotocol go to a PQ session once
 * the limiter grants a handshake slot; others to the classical path (policy
 * decides). Everything is refused while draining.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isSignalPath, SUBPROTOCOL } from '@volly/shared';
import { WebSocketServer } from 'ws';
import { acceptClassical } from './classical.js';
import { clientAddress } from './client-address.js';
import type { Context } from './context.js';
import { refuseUpgrade } from './http-reply.js';
import type { Slot } from './limiter.js';
import { PqSession } from './pq/session.js';

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

  const busy = (socket: Duplex, client: string, reason: 'busy' | 'source') => {
    ctx.metrics.failures.inc({ mode: 'pq', algorithm: 'none', code: '4429' });
    ctx.log.warn(
      { event: 'handshake_refused', reason, remote: client },
      reason === 'source' ? 'address holds its share of handshakes' : 'too many concurrent handshakes',
    );
    refuseUpgrade(socket, 429, 'too many concurrent handshakes; retry');
  };

  const startPq = (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, client: string, slot: Slot) => {
    if (socket.destroyed || ctx.draining) {
      slot.release();
      if (ctx.draining) refuseUpgrade(socket, 503, 'proxy is draining; reconnect');
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      const session = new PqSession(ctx, ws, req, url, client, slot);
      ctx.live.add(session);
      ws.once('close', () => ctx.live.delete(session));
    });
  };

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
    const client = clientAddress(req, ctx.config.trustedProxies);
    if (!offeredProtocols(req).includes(SUBPROTOCOL)) {
      acceptClassical(ctx, wss, req, socket, head, url, client).catch((err: Error) => {
        ctx.log.error({ err: err.message }, 'classical accept failed');
        refuseUpgrade(socket, 500, 'internal error');
      });
      return;
    }
    const admission = ctx.limiter.admit(client, (cb) => socket.once('close', cb));
    if ('then' in admission) {
      void admission.then((a) => {
        if (a.ok) startPq(req, socket, head, url, client, a.slot);
        else if (a.reason !== 'gone') busy(socket, client, a.reason);
      });
    } else if (admission.ok) startPq(req, socket, head, url, client, admission.slot);
    else busy(socket, client, admission.reason as 'busy' | 'source');
  };
}
