// Raw-TCP WebSocket upgrades for the attacker child (attacker.ts): written
// and parsed by hand so an upgrade can stop halfway, dribble or drop. Every
// socket is dialled from one local address (`setLocalAddress`), so the proxy
// sees the attacker as one source, apart from honest clients on 127.0.0.1.

import { randomBytes } from 'node:crypto';
import { connect, type Socket } from 'node:net';
import { closeCodeOf, takeFrame } from '../../harness/ws-frames.ts';

export const HOST = '127.0.0.1';
let localAddress: string | undefined;

/** Bind every later socket to `addr` (a loopback address such as 127.0.0.2). */
export function setLocalAddress(addr: string | undefined): void {
  localAddress = addr;
}

/** A TCP connection to the proxy from the attacker's address, tracked for `stop`. */
export function dial(port: number): Socket {
  return track(connect({ host: HOST, port, ...(localAddress ? { localAddress } : {}) }));
}
export const SUBPROTOCOL = 'volly-pq.v1';

export interface Half {
  sock: Socket;
  openedAt: number;
  closeCode?: number;
  closedAt?: number;
  buf: Buffer;
  dribble: boolean;
}

export const halves: Half[] = [];
export const headerSocks: Array<{ sock: Socket; openedAt: number; status?: number; closedAt?: number }> = [];
export const all = new Set<Socket>();

function upgradeRequest(port: number, withProtocol: boolean): string {
  return [
    'GET /rtc HTTP/1.1',
    `Host: ${HOST}:${port}`,
    'Upgrade: websocket',
    'Connection: Upgrade',
    `Sec-WebSocket-Key: ${randomBytes(16).toString('base64')}`,
    'Sec-WebSocket-Version: 13',
    ...(withProtocol ? [`Sec-WebSocket-Protocol: ${SUBPROTOCOL}`] : []),
    '',
    '',
  ].join('\r\n');
}

export function track(sock: Socket): Socket {
  all.add(sock);
  sock.on('close', () => all.delete(sock));
  sock.on('error', () => {});
  return sock;
}

/** Parses server frames (unmasked) out of `h.buf`; records a close frame's code. */
function parseFrames(h: Half): void {
  for (;;) {
    const taken = takeFrame(h.buf);
    if (!taken) return;
    const { opcode, payload } = taken.frame;
    if (opcode === 0x8 && h.closeCode === undefined) {
      h.closeCode = closeCodeOf(payload);
      h.closedAt = performance.now();
      // Answer like a peer that has had enough: drop the connection.
      h.sock.destroy();
    }
    h.buf = taken.rest;
  }
}

/** One upgrade; resolves with the HTTP status (101, 429, ...) or 0 on error, and the held record if kept. */
export function openUpgrade(port: number, withProtocol: boolean, keep: boolean, dribble = false): Promise<{ status: number; sock: Socket; half?: Half }> {
  return new Promise((resolve) => {
    const sock = dial(port);
    let head = Buffer.alloc(0);
    let settled = false;
    let half: Half | undefined;
    const done = (status: number) => {
      if (settled) return;
      settled = true;
      resolve({ status, sock, ...(half ? { half } : {}) });
    };
    const onData = (d: Buffer) => {
      head = Buffer.concat([head, d]);
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) return;
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head.subarray(0, end).toString('latin1'))?.[1] ?? 0);
      sock.off('data', onData);
      if (status === 101 && keep) {
        const h: Half = { sock, openedAt: performance.now(), buf: head.subarray(end + 4), dribble };
        half = h;
        halves.push(h);
        sock.on('data', (more: Buffer) => {
          h.buf = Buffer.concat([h.buf, more]);
          parseFrames(h);
        });
        sock.on('close', () => {
          if (h.closedAt === undefined) h.closedAt = performance.now();
        });
        parseFrames(h);
      } else if (!keep || status !== 101) {
        sock.destroy();
      }
      done(status);
    };
    sock.on('data', onData);
    sock.once('error', () => done(0));
    sock.once('close', () => done(0));
    sock.once('connect', () => sock.write(upgradeRequest(port, withProtocol)));
  });
}

/** Runs fn(0..n-1), `concurrency` at a time, starting none after `deadline` (a time, or a function read before each start). */
export async function pool(
  n: number,
  concurrency: number,
  fn: (i: number) => Promise<void>,
  deadline: number | (() => number) = Number.POSITIVE_INFINITY,
): Promise<number> {
  let next = 0;
  let done = 0;
  const until = typeof deadline === 'number' ? () => deadline : deadline;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n || performance.now() > until()) return;
      await fn(i);
      done++;
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
  return done;
}

/** A masked binary frame header claiming 1200 payload bytes: the parser then waits for them. */
export function frameHeader(): Buffer {
  return Buffer.concat([Buffer.from([0x82, 0x80 | 126, 0x04, 0xb0]), randomBytes(4)]);
}
