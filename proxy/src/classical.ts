/**
 * Classical (non-PQ) LiveKit clients: the drop-in URL swap. Under `prefer`
 * the session is proxied unchanged except for tokens (verified and re-signed,
 * refreshed tokens rewritten); under `require` it is refused with a reason.
 * LiveKit is dialed before the client's upgrade is accepted, so LiveKit's own
 * HTTP refusal (status and body) reaches the client exactly as without us.
 */
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { VollyError } from '@volly/shared';
import type { WebSocket, WebSocketServer } from 'ws';
import { sessionRewriter } from './agent-assignment.js';
import type { Grant } from './authorize.js';
import { forwardedHeaders } from './client-address.js';
import type { Context } from './context.js';
import { dial } from './dial.js';
import { bearerToken } from './http/tokens.js';
import { refuseUpgrade } from './http-reply.js';
import { Relay } from './relay.js';
import { SessionRecord } from './session-record.js';
import { tlsFactsOf } from './tls.js';
import type { DialResult } from './upstream.js';

export const REQUIRE_PQ_REASON = 'this server requires post-quantum signaling (volly-pq); classical clients are refused';

export async function acceptClassical(
  ctx: Context,
  wss: WebSocketServer,
  req: IncomingMessage,
  socket: Duplex,
  head: Buffer,
  url: URL,
  client: string,
): Promise<void> {
  const record = new SessionRecord('classical', url.pathname, client, tlsFactsOf(req.socket), ctx.log, ctx.metrics);
  const refuse = (status: number, code: number, body: string) => {
    refuseUpgrade(socket, status, body);
    record.end(code, body);
  };
  if (ctx.config.policy === 'require') {
    refuse(403, 4403, REQUIRE_PQ_REASON);
    return;
  }
  let grant: Grant;
  let token: string;
  try {
    // livekit-client puts the token in the query; server SDKs and the lk CLI may send a Bearer header.
    const bearer = bearerToken(req.headers.authorization);
    grant = ctx.auth.verifyClassical(url.searchParams.get('access_token') ?? bearer ?? '');
    token = await ctx.auth.downgrade(grant);
  } catch (err) {
    const e = err instanceof VollyError ? err : undefined;
    return refuse(401, e?.closeCode ?? 4401, e?.message ?? 'invalid token');
  }
  Object.assign(record.facts, { room: grant.room, identity: grant.identity });
  const up = await dial(ctx, { mode: 'classical', path: url.pathname, query: url.search, token, headers: forwardedHeaders(req, client) });
  if (!up.ok) return refuse(up.status || 502, 4502, up.body || 'LiveKit unreachable');
  if (socket.destroyed) {
    up.ws.terminate();
    return record.end(1006, 'client left before the upgrade');
  }
  wss.handleUpgrade(req, socket, head, (ws) => relayClassical(ctx, ws, up, url.pathname, grant, record));
}

/**
 * Built outside acceptClassical's scope: the relay's listeners live as long as
 * the session, and a closure made there would keep the upgrade request, its
 * URL and the original token alive with them.
 */
function relayClassical(ctx: Context, ws: WebSocket, up: Extract<DialResult, { ok: true }>, path: string, grant: Grant, record: SessionRecord): void {
  up.detach();
  const relay = new Relay(
    ws,
    up.ws,
    {
      fromClient: (data, isBinary) => (isBinary ? data : data.toString('utf8')),
      toClient: (m) => m,
      rewrite: sessionRewriter(path, grant, ctx.auth, ctx.metrics),
    },
    record,
    ctx.metrics,
    ctx.config.limits,
  );
  ctx.live.add(relay);
  ws.on('close', () => ctx.live.delete(relay));
  relay.start(up.early);
}
