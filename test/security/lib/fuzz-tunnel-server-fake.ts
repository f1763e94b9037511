// The hostile server a tunnel is pointed at: it plays the proxy. Each dial's
// path names its input (`/fz/<i>/rtc`, still a signaling path to the
// tunnel), whose plan (fuzz-tunnel-server-plan.ts) says what to answer. A
// `mitm` plan relays to the real proxy (which routes on the path and checks
// it against the sealed one, so the path stays as sent): it runs in a slot, a
// listener of its own per pinned tunnel, and tampers with the `at`-th frame.
// Its well-known document is the real proxy's half the time and a fuzzed
// one (malformed JSON, wrong keys, huge, wrong status) otherwise.

import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { MARK, type ServerPlan, type Tamper } from './fuzz-tunnel-server-plan.ts';
import { mutate, Prng } from './mutate.ts';

export interface DialRecord {
  dials: number;
  /** Frames from the real proxy passed on untouched before the tampered one (a `mitm` plan). */
  passed: number;
  tampered: boolean;
  /** The tunnel's connection to the fake has closed. */
  closed: boolean;
}

export interface FakeProxy {
  readonly wsUrl: string;
  /** One listener per MITM slot: a tunnel pointed at slot k's URL gets slot k's plan (the path must stay the real one). */
  readonly slots: ReadonlyArray<{ readonly wsUrl: string; plan: ServerPlan | undefined; rec: DialRecord }>;
  readonly plans: Map<number, ServerPlan>;
  readonly records: Map<number, DialRecord>;
  readonly docs: { real: number; fuzzed: number };
  /** Serve the real document only (for the honest joins at the end). */
  honest: boolean;
  /** Serve only fuzzed documents of this kind (a fresh tunnel per kind: a failed fetch is cached 5 min). */
  docKind: number | undefined;
  close(): Promise<void>;
}

const accept = (key: string) => createHash('sha1').update(`${key}258EAFA5-E914-47DA-95CA-C5AB0DC85B11`).digest('base64');

/** A fuzzed well-known document, of kind `kind` (0-11) or one `r` picks. */
export function fuzzedDoc(real: string, r: Prng, kind = r.int(12)): { status: number; type: string; body: string | Buffer } {
  const json = 'application/json';
  const doc = JSON.parse(real) as { keys?: Array<Record<string, unknown>> };
  const key = doc.keys?.[0] ?? {};
  const withKey = (k: Record<string, unknown>) => JSON.stringify({ ...doc, keys: [{ ...key, ...k }] });
  switch (kind) {
    case 0:
      return { status: 200, type: json, body: r.pick(['{', 'null', '[]', '""', '1e999', '{"__proto__":{"x":1}}', '']) };
    case 1:
      return { status: 200, type: json, body: JSON.stringify({ ...doc, protocol: MARK }) };
    case 2:
      return { status: 200, type: json, body: JSON.stringify({ ...doc, keys: [] }) };
    case 3:
      return { status: 200, type: json, body: withKey({ algorithm: r.pick(['ML-KEM-1024', MARK, '', 7]) }) };
    case 4:
      return { status: 200, type: json, body: withKey({ publicKey: String(key.publicKey ?? '').slice(0, r.int(100)) }) };
    case 5:
      return { status: 200, type: json, body: withKey({ notAfter: r.pick([0, -1, 'soon', 1e300, null]) }) };
    case 6:
      return { status: 200, type: json, body: `{"keys":"${'A'.repeat(3 * 1024 * 1024)}"}` };
    case 7:
      return { status: r.pick([404, 500, 302, 204]), type: 'text/plain', body: MARK };
    case 8:
      return { status: 200, type: 'text/html', body: `<html>${MARK}</html>` };
    case 9:
      return { status: 200, type: json, body: JSON.stringify({ ...doc, keys: Array.from({ length: 10_000 }, () => key) }) };
    default:
      return { status: 200, type: json, body: Buffer.from(mutate(Buffer.from(real), r)) };
  }
}

function tampered(data: Buffer, how: Tamper, earlier: Buffer[], r: Prng): Buffer[] {
  const b = Buffer.from(data);
  switch (how) {
    case 'flip':
      if (b.length) {
        const at = r.int(b.length);
        b[at] = (b[at] as number) ^ (1 << r.int(8));
      }
      return [b];
    case 'truncate':
      return [b.subarray(0, r.int(Math.max(1, b.length)))];
    case 'append':
      return [Buffer.concat([b, Buffer.from([r.int(256), r.int(256), r.int(256)])])];
    case 'drop':
      return [];
    case 'duplicate':
      return [b, b];
    case 'replay':
      return [earlier.length ? r.pick(earlier) : b.subarray(1)];
    case 'random':
      return [Buffer.from(Array.from({ length: b.length }, () => r.int(256)))];
    default:
      return [b];
  }
}

export async function startFakeProxy(realWsUrl: string, realDoc: string, seed: number, slotCount: number): Promise<FakeProxy> {
  const plans = new Map<number, ServerPlan>();
  const records = new Map<number, DialRecord>();
  const docs = { real: 0, fuzzed: 0 };
  const open = new Set<Socket | WebSocket>();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: (p) => p.values().next().value ?? false });
  let fetches = 0;
  const fake = { honest: false, docKind: undefined as number | undefined };
  const server = createServer((req, res) => {
    const r = new Prng((seed * 31 + fetches++) >>> 0);
    if (!req.url?.startsWith('/.well-known/volly-pq') || fake.honest || (fake.docKind === undefined && r.chance(0.5))) {
      docs.real++;
      return void res.writeHead(200, { 'content-type': 'application/json' }).end(realDoc);
    }
    docs.fuzzed++;
    const d = fuzzedDoc(realDoc, r, fake.docKind);
    res.writeHead(d.status, { 'content-type': d.type }).end(d.body);
  });

  const mitm = (i: number, plan: Extract<ServerPlan, { kind: 'mitm' }>, req: IncomingMessage, socket: Socket, head: Buffer, rec: DialRecord) => {
    const r = new Prng((seed * 7 + i) >>> 0);
    wss.handleUpgrade(req, socket, head, (client) => {
      const offered = (req.headers['sec-websocket-protocol'] ?? '')
        .split(',')
        .map((p) => p.trim())
        .filter(Boolean);
      const upstream = new WebSocket(`${realWsUrl}${req.url ?? '/'}`, offered, { perMessageDeflate: false });
      open.add(client).add(upstream);
      const pending: Array<[Buffer, boolean]> = [];
      const earlier: Buffer[] = [];
      let n = 0;
      client.on('message', (data: Buffer, binary: boolean) => {
        if (upstream.readyState === WebSocket.OPEN) upstream.send(data, { binary });
        else pending.push([data, binary]);
      });
      upstream.on('open', () => {
        for (const [d, binary] of pending.splice(0)) upstream.send(d, { binary });
      });
      upstream.on('message', (data: Buffer, binary: boolean) => {
        const k = n++;
        if (client.readyState !== WebSocket.OPEN) return;
        if (k !== plan.at) {
          if (!rec.tampered) rec.passed++;
          earlier.push(data);
          return void client.send(data, { binary });
        }
        rec.tampered = true;
        if (plan.tamper === 'duplicate') rec.passed++;
        for (const out of tampered(data, plan.tamper, earlier, r)) client.send(out, { binary: plan.tamper === 'text' ? false : binary });
      });
      const sendable = (c: number) => (c === 1000 || (c >= 3000 && c <= 4999) ? c : 1000);
      upstream.on('close', (code, reason) => client.readyState <= WebSocket.OPEN && client.close(sendable(code), reason));
      client.on('close', (code) => upstream.readyState <= WebSocket.OPEN && upstream.close(sendable(code)));
      upstream.on('error', () => client.terminate());
      client.on('error', () => upstream.terminate());
    });
  };

  const answer = (i: number, plan: ServerPlan | undefined, rec: DialRecord, req: IncomingMessage, socket: Socket, head: Buffer) => {
    open.add(socket);
    socket.on('error', () => {});
    socket.on('close', () => {
      open.delete(socket);
      rec.closed = true;
    });
    // The tunnel's FIN: the fake is an http.Server (half-open allowed), so end our side too, or 'close' never comes.
    socket.on('end', () => socket.destroy());
    rec.dials++;
    if (!plan) return void socket.destroy();
    if (plan.kind === 'mitm') return mitm(i, plan, req, socket, head, rec);
    const key = String(req.headers['sec-websocket-key'] ?? '');
    const proto = String(req.headers['sec-websocket-protocol'] ?? '')
      .split(',')[0]
      ?.trim();
    if (plan.kind === 'status') {
      const top = `HTTP/1.1 ${plan.status} ${MARK}\r\n${plan.headers.join('\r\n')}${plan.headers.length ? '\r\n' : ''}\r\n`;
      const all = Buffer.concat([Buffer.from(top), plan.body]);
      if (plan.close === 'short') socket.end(all.subarray(0, Math.max(1, all.length >> 1)));
      else if (plan.close === 'destroy') socket.write(all, () => socket.destroy());
      else socket.end(all);
      return;
    }
    const lines =
      plan.kind === 'bad-101'
        ? plan.headers.map((h) => (h === 'ACCEPT' ? `Sec-WebSocket-Accept: ${accept(key)}` : h))
        : ['Upgrade: websocket', 'Connection: Upgrade', `Sec-WebSocket-Accept: ${accept(key)}`, ...(proto ? [`Sec-WebSocket-Protocol: ${proto}`] : [])];
    const tail = plan.kind === 'bad-101' ? plan.tail : Buffer.concat(plan.frames);
    socket.write(Buffer.concat([Buffer.from(`HTTP/1.1 101 Switching Protocols\r\n${lines.join('\r\n')}\r\n\r\n`), tail]));
    if (plan.kind === 'junk' && plan.end !== 'stay') setTimeout(() => (plan.end === 'end' ? socket.end() : socket.destroy()), 50);
    // Read (and drop) what the tunnel sends: a paused half-open socket would never see its close.
    else socket.resume();
  };
  const fresh = (): DialRecord => ({ dials: 0, passed: 0, tampered: false, closed: false });
  server.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => {
    const i = Number(/^\/fz\/(\d+)\//.exec(req.url ?? '')?.[1] ?? -1);
    const rec = records.get(i) ?? fresh();
    records.set(i, rec);
    // a dial with no input in its path (an honest join at the end) is relayed untouched
    answer(i, i === -1 ? { kind: 'mitm', at: -1, tamper: 'flip' } : plans.get(i), rec, req, socket, head);
  });
  const listen = async (srv: ReturnType<typeof createServer>) => {
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    return `ws://127.0.0.1:${(srv.address() as AddressInfo).port}`;
  };
  const slotServers = Array.from({ length: slotCount }, () => createServer((_req, res) => res.writeHead(404).end()));
  const slots = await Promise.all(
    slotServers.map(async (srv, k) => {
      const slot = { wsUrl: await listen(srv), plan: undefined as ServerPlan | undefined, rec: fresh() };
      srv.on('upgrade', (req: IncomingMessage, socket: Socket, head: Buffer) => answer(-1 - k, slot.plan, slot.rec, req, socket, head));
      return slot;
    }),
  );
  return Object.assign(fake, {
    wsUrl: await listen(server),
    slots,
    plans,
    records,
    docs,
    async close() {
      for (const s of open) 'terminate' in s ? s.terminate() : s.destroy();
      for (const srv of [server, ...slotServers]) {
        srv.closeAllConnections();
        await new Promise((r) => srv.close(r));
      }
    },
  });
}
