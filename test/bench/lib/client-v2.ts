// One volly-pq.v2 join for the rtt scenario: shared's ClientV2 driven over a
// raw `ws` socket (as test/harness/v2-signal.ts does for the tests), timed
// from `new WebSocket` to the decoded JoinResponse. The first flight (the
// client's encapsulation to the static key and its ephemeral key) is built
// before the socket, as the client must: it rides in the upgrade request,
// so, like v1's in-band key generation, it is not in socketMs.

import { LeaveRequest, SignalRequest, SignalResponse } from '@livekit/protocol';
import { FrameKind, type KemAlgorithm, type KemKeyPair, type v2 } from '@volly/shared';
import WebSocket from 'ws';
import { flightUrl, newFlight } from '../../harness/v2-signal.ts';
import { HttpRefused, JoinTimeout, SessionClosed, UnexpectedMessage } from './failures.ts';

export interface V2OpenOptions {
  /** ws://host:port of the proxy (or a relay in front of it). */
  readonly baseUrl: string;
  readonly token: string;
  /** The proxy's static key, from its well-known document (fetched once, before any timing). */
  readonly serverKey: v2.ServerStaticKey;
  /** A bound token: the key pair it names. */
  readonly bound?: { readonly algorithm: KemAlgorithm; readonly keyPair: KemKeyPair };
  readonly timeoutMs?: number;
}

export interface V2Join {
  /** From `new WebSocket` to the JoinResponse. */
  readonly socketMs: number;
  /** Leave, close, and resolve once the socket has closed (or after 3 s). */
  close(): Promise<void>;
}

const LEAVE = new SignalRequest({ message: { case: 'leave', value: new LeaveRequest({}) } }).toBinary();

/** Opens one v2 session through the proxy and resolves at its JoinResponse. */
export async function openV2Session(o: V2OpenOptions): Promise<V2Join> {
  // Same LiveKit path and query as the other rows (/rtc), sealed in the early frame.
  const { client, flight, path } = await newFlight(o.baseUrl, o.token, { serverKey: o.serverKey, path: '/rtc', ...(o.bound ? { bound: o.bound } : {}) });
  const t0 = performance.now();
  const ws = new WebSocket(flightUrl(o.baseUrl, path, flight), [...flight.protocols], { perMessageDeflate: false });
  ws.on('error', () => {});
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  return new Promise<V2Join>((resolve, reject) => {
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      ws.terminate();
      reject(err);
    };
    const timeoutMs = o.timeoutMs ?? 15_000;
    const timer = setTimeout(() => fail(new JoinTimeout(timeoutMs)), timeoutMs);
    const handle = (outputs: v2.ClientV2Output[]) => {
      for (const out of outputs) {
        if (out.type === 'send') ws.send(out.frame);
        else if (out.type === 'failed') fail(new SessionClosed(out.failure.closeCode, out.failure.code ?? ''));
        else if (out.type === 'message' && !settled) {
          const m =
            out.kind === FrameKind.LiveKitText ? SignalResponse.fromJsonString(new TextDecoder().decode(out.payload)) : SignalResponse.fromBinary(out.payload);
          if (m.message.case !== 'join') return fail(new UnexpectedMessage(m.message.case));
          settled = true;
          clearTimeout(timer);
          const socketMs = performance.now() - t0;
          resolve({
            socketMs,
            async close() {
              if (ws.readyState === WebSocket.OPEN && client.state === 'open') ws.send(client.seal(LEAVE));
              ws.close(1000);
              await Promise.race([closed, new Promise((r) => setTimeout(r, 3_000).unref())]);
              ws.terminate();
            },
          });
        }
      }
    };
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      fail(new HttpRefused(res.statusCode ?? 0));
    });
    ws.once('open', () => handle(client.accepted(ws.protocol)));
    ws.on('message', (data: Buffer) => handle(client.receive(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))));
    void closed.then((code) => {
      handle(client.closed(code));
      fail(new SessionClosed(code, ''));
    });
  });
}
