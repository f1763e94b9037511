/**
 * An SDK's signaling upgrade (`/rtc`, `/rtc/v1`, any path isSignalPath
 * accepts): the upgrade is held until the PQ session to the proxy has opened
 * (LiveKit's first message, the JoinResponse, came through sealed), then
 * completed and relayed (relay.ts). A refusal is answered as LiveKit answers a
 * refused upgrade: the HTTP status (401, 403, 404, ...) with LiveKit's message
 * as the body, and remembered for the SDK's validate request (validate.ts).
 */
import { type IncomingMessage, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';
import { closeCodeInfo, type SessionFailure, validateStatus } from '@volly/shared';
import type { WebSocketServer } from 'ws';
import type { Logger } from '../log.js';
import type { Dialer } from './dial.js';
import type { FailureMemory } from './failures.js';
import type { TunnelMetrics } from './metrics.js';
import { TunnelSessionRecord } from './record.js';
import { relay } from './relay.js';
import { isReconnect, readSdkRequest } from './request.js';

export interface SignalDeps {
  readonly dialer: Dialer;
  readonly failures: FailureMemory;
  readonly metrics: TunnelMetrics;
  readonly log: Logger;
  readonly wss: WebSocketServer;
}

/** An SDK sends nothing before the 101; this much is kept from one that does, then it is dropped. */
const MAX_HELD_BYTES = 64 * 1024;

/** Answers a held upgrade with `status` and a plain-text body, as LiveKit's HTTP handler would. */
export function refuseUpgrade(socket: Duplex, status: number, body: string): void {
  if (socket.destroyed) return;
  const text = Buffer.from(body, 'utf8');
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${text.length}\r\nConnection: close\r\n\r\n${text.toString('utf8')}`,
  );
}

/** What ws's handleUpgrade would refuse (checked first: a refusal after the PQ session joined would leave a ghost in the room). */
function badUpgrade(req: IncomingMessage): string | undefined {
  if (req.method !== 'GET' || req.headers.upgrade?.toLowerCase() !== 'websocket') return 'not a WebSocket upgrade';
  if (!/^[+/0-9A-Za-z]{22}==$/.test(req.headers['sec-websocket-key'] ?? '')) return 'missing or invalid Sec-WebSocket-Key';
  if (req.headers['sec-websocket-version'] !== '13') return 'unsupported Sec-WebSocket-Version';
  return undefined;
}

export function handleSignalUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer, deps: SignalDeps): void {
  const bad = badUpgrade(req);
  if (bad) {
    deps.log.warn({ event: 'request_refused', kind: 'upgrade', status: 400, reason: bad }, 'volly-pq tunnel refused a request');
    return void refuseUpgrade(socket, 400, `volly-pq tunnel: ${bad}`);
  }
  const sdkReq = readSdkRequest(req);
  const record = new TunnelSessionRecord(deps.log, deps.metrics, sdkReq.path, isReconnect(sdkReq.query));
  const dial = deps.dialer.dial(sdkReq, (token, f) => deps.failures.remember(token, f));
  const { pq } = dial;
  const early: MessageEvent[] = [];
  let settled = false;
  const onGone = () => {
    if (settled) return;
    settled = true;
    record.abandoned(pq.pq.protocol);
    pq.close(1000);
    // No session opened, so there is nothing to close gracefully: a silent or black-holed proxy
    // would hold the socket for ws's 30 s close timeout per abandoned SDK attempt.
    dial.inner()?.terminate();
  };
  // The held socket is read (not left paused) so that an SDK giving up is seen: http.Server sockets
  // allow half-open connections, so its FIN shows as 'end' only once read. Bytes an SDK sends before
  // the 101 (it should not) are kept, bounded, and handed to ws with the upgrade's head.
  const held: Buffer[] = [];
  let heldBytes = 0;
  const onData = (d: Buffer) => {
    heldBytes += d.length;
    if (heldBytes > MAX_HELD_BYTES) return void socket.destroy();
    held.push(d);
  };
  socket.on('data', onData);
  socket.on('close', onGone);
  socket.on('end', onGone);
  socket.on('error', () => {});

  pq.onmessage = (ev) => early.push(ev as MessageEvent);
  pq.onopen = () => {
    if (settled) return;
    settled = true;
    socket.off('close', onGone);
    socket.off('end', onGone);
    socket.off('data', onData);
    if (socket.destroyed || !socket.writable || !socket.readable) {
      record.abandoned(pq.pq.protocol);
      return void pq.close(1000);
    }
    record.opened(pq.pq);
    deps.wss.handleUpgrade(req, socket, held.length ? Buffer.concat([head, ...held]) : head, (sdk) => relay(sdk, dial, early, record));
  };
  pq.onclose = (ev) => {
    if (settled) return;
    settled = true;
    // The close frame's reason is not authenticated: the SDK reads only the code's public name, or what came sealed.
    const { code } = ev as CloseEvent;
    const failure: SessionFailure = pq.failure ?? { closeCode: code, message: closeCodeInfo(code).name };
    record.refused(pq.pq.protocol, failure);
    refuseUpgrade(socket, validateStatus(failure), failure.message);
  };
}
