// A bare-bones WebSocket client on a TCP socket, for fuzzing at rate: the
// upgrade request and the first frames go out in one write (the server gets
// them as the upgrade's `head`), server frames are parsed just enough to read
// messages and the close code, and nothing is verified that a fuzzer does not
// need (Sec-WebSocket-Accept). Client frames are masked with a zero key, which
// RFC 6455 allows and which leaves the payload bytes as they are.

import { connect, type Socket } from 'node:net';
import { closeCodeOf, takeFrame } from './ws-frames.ts';

export interface Frame {
  readonly opcode: number;
  readonly payload: Buffer;
}

export type Dialed = { ok: true; conn: RawConn } | { ok: false; outcome: string };

export interface DialOptions {
  host: string;
  port: number;
  localAddress?: string;
  path: string;
  /** Value of Sec-WebSocket-Protocol, or undefined for none. */
  protocol?: string;
  headers?: Record<string, string>;
  /** Frames to send with the upgrade request. */
  early?: Array<Uint8Array | string>;
  timeoutMs?: number;
}

/** One client frame: FIN, opcode 1 (text) or 2 (binary), masked with key 0. */
export function encodeFrame(data: Uint8Array | string): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data, 'utf8') : Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const opcode = typeof data === 'string' ? 0x1 : 0x2;
  const n = payload.length;
  const head = n < 126 ? Buffer.alloc(2 + 4) : n < 65536 ? Buffer.alloc(4 + 4) : Buffer.alloc(10 + 4);
  head[0] = 0x80 | opcode;
  if (n < 126) head[1] = 0x80 | n;
  else if (n < 65536) {
    head[1] = 0x80 | 126;
    head.writeUInt16BE(n, 2);
  } else {
    head[1] = 0x80 | 127;
    head.writeBigUInt64BE(BigInt(n), 2);
  }
  // the 4 mask bytes stay zero
  return Buffer.concat([head, payload]);
}

export class RawConn {
  readonly socket: Socket;
  readonly messages: Buffer[] = [];
  closeCode: number | null = null;
  ended = false;
  #read = 0;
  #buf: Buffer;
  #waiters: Array<() => void> = [];

  constructor(socket: Socket, rest: Buffer) {
    this.socket = socket;
    this.#buf = rest;
    socket.on('data', (d: Buffer) => {
      this.#buf = this.#buf.length ? Buffer.concat([this.#buf, d]) : d;
      this.#parse();
    });
    const end = () => {
      this.ended = true;
      this.#wake();
    };
    socket.on('close', end);
    socket.on('end', end);
    this.#parse();
  }

  #wake(): void {
    for (const w of this.#waiters.splice(0)) w();
  }

  #parse(): void {
    for (;;) {
      const taken = takeFrame(this.#buf);
      if (!taken) return;
      const { opcode, payload } = taken.frame;
      this.#buf = taken.rest;
      if (opcode === 0x8) {
        this.closeCode = closeCodeOf(payload);
        this.socket.destroy();
        this.ended = true;
      } else if (opcode === 0x1 || opcode === 0x2) {
        this.messages.push(Buffer.from(payload));
      }
      this.#wake();
    }
  }

  send(data: Uint8Array | string): void {
    if (!this.socket.destroyed) this.socket.write(encodeFrame(data));
  }

  /** Next message, or null when the connection ends first or after `ms`. */
  next(ms: number): Promise<Buffer | null> {
    if (this.#read < this.messages.length) return Promise.resolve(this.messages[this.#read++] as Buffer);
    if (this.ended) return Promise.resolve(null);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        const i = this.#waiters.indexOf(done);
        if (i >= 0) this.#waiters.splice(i, 1);
        if (this.#read < this.messages.length) resolve(this.messages[this.#read++] as Buffer);
        else if (this.ended) resolve(null);
        else this.#waiters.push(done);
      };
      const t = setTimeout(() => {
        const i = this.#waiters.indexOf(done);
        if (i >= 0) this.#waiters.splice(i, 1);
        resolve(this.#read < this.messages.length ? (this.messages[this.#read++] as Buffer) : null);
      }, ms);
      this.#waiters.push(done);
    });
  }

  /** The close code the server sent (1006 when the connection dropped without one), or null if still open after `ms` (then destroyed). */
  waitClose(ms: number): Promise<number | null> {
    if (this.ended) return Promise.resolve(this.closeCode ?? 1006);
    return new Promise((resolve) => {
      const done = () => {
        if (!this.ended) {
          this.#waiters.push(done);
          return;
        }
        clearTimeout(t);
        resolve(this.closeCode ?? 1006);
      };
      const t = setTimeout(() => {
        const i = this.#waiters.indexOf(done);
        if (i >= 0) this.#waiters.splice(i, 1);
        this.socket.destroy();
        resolve(null);
      }, ms);
      this.#waiters.push(done);
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Opens the socket, sends the upgrade (and early frames) in one write, resolves on 101 or with the HTTP status. */
export function dialRaw(o: DialOptions): Promise<Dialed> {
  return new Promise((resolve) => {
    const socket = connect({ host: o.host, port: o.port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
    socket.setNoDelay(true);
    let settled = false;
    const settle = (d: Dialed) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(d);
    };
    const timer = setTimeout(() => {
      socket.destroy();
      settle({ ok: false, outcome: 'stuck: no upgrade answer' });
    }, o.timeoutMs ?? 10_000);
    socket.on('error', (err: Error & { code?: string }) => settle({ ok: false, outcome: `error ${err.code ?? err.message.slice(0, 40)}` }));
    let head = '';
    const lines = [
      `GET ${o.path} HTTP/1.1`,
      `Host: ${o.host}:${o.port}`,
      'Upgrade: websocket',
      'Connection: Upgrade',
      'Sec-WebSocket-Key: dm9sbHktZnV6ei1rZXkxMg==',
      'Sec-WebSocket-Version: 13',
      ...(o.protocol !== undefined ? [`Sec-WebSocket-Protocol: ${o.protocol}`] : []),
      ...Object.entries(o.headers ?? {}).map(([k, v]) => `${k}: ${v}`),
    ];
    socket.write(Buffer.concat([Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'latin1'), ...(o.early ?? []).map(encodeFrame)]));
    const onData = (d: Buffer) => {
      head += d.toString('latin1');
      const end = head.indexOf('\r\n\r\n');
      if (end < 0) {
        if (head.length > 65536) {
          socket.destroy();
          settle({ ok: false, outcome: 'error oversized response head' });
        }
        return;
      }
      socket.off('data', onData);
      const status = Number(/^HTTP\/1\.1 (\d{3})/.exec(head)?.[1] ?? 0);
      if (status !== 101) {
        socket.destroy();
        settle({ ok: false, outcome: `http ${status}` });
        return;
      }
      const chosen = /\r\nsec-websocket-protocol: *([^\r]*)/i.exec(head.slice(0, end))?.[1];
      const offered = (o.protocol ?? '').split(',').map((p) => p.trim());
      if (chosen !== undefined && !offered.includes(chosen)) {
        socket.destroy();
        settle({ ok: false, outcome: 'client refused subprotocol' });
        return;
      }
      const rest = Buffer.from(head.slice(end + 4), 'latin1');
      settle({ ok: true, conn: new RawConn(socket, rest) });
    };
    socket.on('data', onData);
    socket.on('close', () => settle({ ok: false, outcome: 'error closed before the upgrade answer' }));
  });
}
