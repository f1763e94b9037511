/**
 * The accept stage: routes each WebSocket upgrade on a signaling path (`/rtc`,
 * `/rtc/v1`) or LiveKit's agent worker path (`/agent`) by the subprotocols it offers: `volly-pq.v2` to v2 (also when
 * `volly-pq.v1` is offered too), else `volly-pq.v1` to v1, each once the
 * limiter grants a handshake slot; a protocol this proxy does not serve
 * (VOLLY_PROTOCOLS, or v2 without a KEM key) is refused with 403; everything
 * else goes to the classical path (policy decides). Everything is refused
 * while draining.
 *
 * v2 decides before it answers the upgrade (pq/v2.ts prepareV2): the first
 * flight is opened, registered and its token verified while the client waits
 * for the 101, so an unbound join dials LiveKit without a round trip.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { isUpgradePath, SUBPROTOCOL, v2 } from '@volly/shared';
import { type WebSocket, WebSocketServer } from 'ws';
import { acceptClassical } from './classical.js';
import { clientAddress, forwardedHeaders } from './client-address.js';
import type { Context, Live } from './context.js';
import { refuseUpgrade } from './http-reply.js';
import type { Slot } from './limiter.js';
import { PqSession, v1Stage } from './pq/session.js';
import type { Stage } from './pq/stage.js';
import { discardPrepared, offeredProtocols, prepareV2, v2Stage } from './pq/v2.js';

// The listeners below outlive the upgrade (they stay on the socket for the session's life), so they are
// built outside the upgrade's scope: a closure made there would keep its whole context alive (the request
// with its headers, the URL, the upgrade's head bytes) for as long as the session relays.

/** A socket error before or after the upgrade: drop the socket (`this` is the socket). */
function destroySocket(this: Duplex): void {
  this.destroy();
}

/** The limiter's "client left" hook for a queued upgrade. */
const onceClosed =
  (socket: Duplex) =>
  (cb: () => void): void => {
    socket.once('close', cb);
  };

/** A session is live from accept until its client socket closes (drain walks `ctx.live`). */
function track(ctx: Context, ws: WebSocket, s: Live): void {
  ctx.live.add(s);
  // 'on', not 'once': a WebSocket closes once, and once's wrapper would be two more objects per session.
  ws.on('close', () => ctx.live.delete(s));
}

type Route = 'v1' | 'v2' | 'classical' | { readonly refuse: string };

/** Which pipeline an upgrade goes to, from the subprotocols it offers and what this proxy serves. */
function routeOf(ctx: Context, offered: readonly string[]): Route {
  const served = ctx.config.protocols;
  if (v2.offersV2(offered)) {
    if (ctx.v2) return 'v2';
    if (!offered.includes(SUBPROTOCOL)) return { refuse: 'volly-pq.v2 is not served here' };
  }
  if (offered.includes(SUBPROTOCOL)) return served.includes('v1') ? 'v1' : { refuse: 'volly-pq.v1 is not served here' };
  return 'classical';
}

export function createAcceptor(ctx: Context) {
  const wss = new WebSocketServer({
    noServer: true,
    maxPayload: ctx.config.limits.maxFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: (protocols) => (protocols.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
  });
  // v2 answers with plain `volly-pq.v2` (never the ClientHello value), refusals included: they travel as close codes.
  const wssV2 = new WebSocketServer({
    noServer: true,
    maxPayload: ctx.config.limits.maxFrameBytes,
    perMessageDeflate: false,
    clientTracking: false,
    handleProtocols: () => v2.SUBPROTOCOL_V2,
  });

  const busy = (socket: Duplex, client: string, reason: 'busy' | 'source', protocol: 'v1' | 'v2') => {
    ctx.metrics.failures.inc({ mode: 'pq', algorithm: 'none', protocol, code: '4429' });
    ctx.log.warn(
      { event: 'handshake_refused', reason, remote: client, protocol },
      reason === 'source' ? 'address holds its share of handshakes' : 'too many concurrent handshakes',
    );
    refuseUpgrade(socket, 429, 'too many concurrent handshakes; retry');
  };

  /** Answers the upgrade and hands the socket to a session, or gives everything back if the client left meanwhile. */
  const session = (req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, client: string, slot: Slot, server: WebSocketServer, stage: () => Stage) => {
    if (socket.destroyed || ctx.draining) {
      slot.release();
      if (ctx.draining) refuseUpgrade(socket, 503, 'proxy is draining; reconnect');
      return false;
    }
    // ws answers the upgrade and calls back in this same tick, where the stage sends its first frame (v2's
    // ServerHello or refusal frames, v1 token-bound's pq_response): corked, the 101 and that frame leave in one
    // write, one syscall and one segment instead of two.
    socket.cork();
    try {
      server.handleUpgrade(req, socket, head, (ws: WebSocket) => track(ctx, ws, new PqSession(ctx, ws, req, url, client, slot, stage())));
    } finally {
      socket.uncork();
    }
    return true;
  };

  const startPq = (route: 'v1' | 'v2', req: IncomingMessage, socket: Duplex, head: Buffer, url: URL, client: string, slot: Slot) => {
    if (route === 'v1' || !ctx.v2) {
      session(req, socket, head, url, client, slot, wss, () => v1Stage());
      return;
    }
    const startedAt = performance.now();
    prepareV2(ctx, ctx.v2, req, url, forwardedHeaders(req, client))
      .then((prepared) => {
        if (!session(req, socket, head, url, client, slot, wssV2, () => v2Stage(prepared, startedAt))) discardPrepared(prepared);
      })
      .catch((err: Error) => {
        slot.release();
        ctx.log.error({ err: err.message }, 'v2 accept failed');
        refuseUpgrade(socket, 500, 'internal error');
      });
  };

  return function onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    socket.on('error', destroySocket);
    let url: URL;
    try {
      url = new URL(req.url ?? '/', 'http://proxy.invalid');
    } catch {
      refuseUpgrade(socket, 400, 'malformed request URL');
      return;
    }
    // An agent worker registers on /agent exactly like a client joins on /rtc: same routes, same policy.
    if (!isUpgradePath(url.pathname)) {
      refuseUpgrade(socket, 404, 'not a LiveKit signaling path');
      return;
    }
    if (ctx.draining) {
      refuseUpgrade(socket, 503, 'proxy is draining; reconnect');
      return;
    }
    const client = clientAddress(req, ctx.config.trustedProxies);
    const route = routeOf(ctx, offeredProtocols(req));
    if (typeof route === 'object') {
      refuseUpgrade(socket, 403, route.refuse);
      return;
    }
    if (route === 'classical') {
      acceptClassical(ctx, wss, req, socket, head, url, client).catch((err: Error) => {
        ctx.log.error({ err: err.message }, 'classical accept failed');
        refuseUpgrade(socket, 500, 'internal error');
      });
      return;
    }
    const admission = ctx.limiter.admit(client, onceClosed(socket));
    if ('then' in admission) {
      void admission.then((a) => {
        if (a.ok) startPq(route, req, socket, head, url, client, a.slot);
        else if (a.reason !== 'gone') busy(socket, client, a.reason, route);
      });
    } else if (admission.ok) startPq(route, req, socket, head, url, client, admission.slot);
    else busy(socket, client, admission.reason as 'busy' | 'source', route);
  };
}
