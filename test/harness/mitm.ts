// A man in the middle on loopback: a WebSocket server that accepts the
// client's upgrade (echoing volly-pq.v1 when offered), dials the real proxy
// with the same path, query and subprotocol, and relays every message, giving
// hooks the chance to rewrite, drop or duplicate it. Records what it saw.

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SUBPROTOCOL } from '@volly/shared';
import WebSocket, { WebSocketServer } from 'ws';

/** What a hook returns: the message(s) to pass on (none = dropped). */
export type Rewrite = (data: Buffer, index: number) => Buffer | Buffer[] | null;

export interface MitmHooks {
  /** Rewrites the client's upgrade URL (path and query) before dialing the proxy. */
  url?(pathAndQuery: string): string;
  toServer?: Rewrite;
  toClient?: Rewrite;
}

export interface Mitm {
  readonly wsUrl: string;
  /** Every message as the MITM received it, per direction. */
  readonly seen: { toServer: Buffer[]; toClient: Buffer[] };
  /** The upgrade URLs it dialed the proxy with. */
  readonly dialed: string[];
  close(): Promise<void>;
}

/** Close codes that may travel (RFC 6455 §7.4). */
const sendable = (code: number) => (code === 1000 || (code >= 3000 && code <= 4999) ? code : 1000);

export async function startMitm(proxyWsUrl: string, hooks: MitmHooks = {}): Promise<Mitm> {
  const seen = { toServer: [] as Buffer[], toClient: [] as Buffer[] };
  const dialed: string[] = [];
  const server: Server = createServer();
  const wss = new WebSocketServer({ server, perMessageDeflate: false, handleProtocols: (p) => (p.has(SUBPROTOCOL) ? SUBPROTOCOL : false) });
  const sockets = new Set<WebSocket>();
  wss.on('connection', (client, req) => {
    sockets.add(client);
    const path = hooks.url ? hooks.url(req.url ?? '/') : (req.url ?? '/');
    dialed.push(path);
    const upstream = new WebSocket(`${proxyWsUrl}${path}`, client.protocol ? [client.protocol] : [], { perMessageDeflate: false });
    sockets.add(upstream);
    const pending: Buffer[] = [];
    let n = { toServer: 0, toClient: 0 };
    const pass = (to: WebSocket, out: Buffer | Buffer[] | null) => {
      for (const m of out === null ? [] : Array.isArray(out) ? out : [out]) if (to.readyState === WebSocket.OPEN) to.send(m);
    };
    client.on('message', (data: Buffer) => {
      seen.toServer.push(data);
      const out = hooks.toServer ? hooks.toServer(data, n.toServer++) : data;
      if (upstream.readyState === WebSocket.OPEN) pass(upstream, out);
      else for (const m of out === null ? [] : Array.isArray(out) ? out : [out]) pending.push(m);
    });
    upstream.on('open', () => {
      for (const m of pending.splice(0)) upstream.send(m);
    });
    upstream.on('message', (data: Buffer) => {
      seen.toClient.push(data);
      pass(client, hooks.toClient ? hooks.toClient(data, n.toClient++) : data);
    });
    upstream.on('close', (code, reason) => {
      if (client.readyState <= WebSocket.OPEN) client.close(sendable(code), reason.toString());
    });
    client.on('close', (code, reason) => {
      if (upstream.readyState <= WebSocket.OPEN) upstream.close(sendable(code), reason.toString());
      n = { toServer: 0, toClient: 0 };
    });
    upstream.on('error', () => client.terminate());
    client.on('error', () => upstream.terminate());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    wsUrl: `ws://127.0.0.1:${port}`,
    seen,
    dialed,
    async close() {
      for (const s of sockets) s.terminate();
      wss.close();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}
