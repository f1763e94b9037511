// One HTTP exchange on a raw TCP socket: the request bytes go out as given
// (malformed ones included: nothing here fixes framing the way fetch would),
// and the first response is read just far enough to know its status, headers
// and body. Bounded in time: if the server says nothing for `silenceMs` we
// half-close (the server must then answer or close), and after `timeoutMs`
// the exchange is "stuck".

import { connect } from 'node:net';

export interface Exchange {
  /** `http NNN`, `closed without response`, `reset`, `refused`, `garbage`, `truncated NNN` or `stuck`. */
  readonly outcome: string;
  readonly status: number | null;
  /** Everything the server sent (up to 1 MiB), for the leak oracles. */
  readonly received: Buffer;
  readonly ms: number;
}

export interface ExchangeOptions {
  host: string;
  port: number;
  localAddress?: string;
  data: Buffer;
  /** The request's method, for a HEAD answer's empty body. */
  method?: string;
  /** Half-close right after sending (requests whose body is deliberately short). */
  halfClose?: boolean;
  silenceMs?: number;
  timeoutMs?: number;
}

const MAX_KEEP = 1 << 20;

/** Whether `buf` holds one complete response; its status, or null when it is not HTTP. */
function parse(buf: Buffer, method: string | undefined): { done: boolean; status: number | null; garbage: boolean } {
  let off = 0;
  for (;;) {
    const end = buf.indexOf('\r\n\r\n', off);
    const headText = buf.subarray(off, end < 0 ? Math.min(buf.length, off + 64) : end).toString('latin1');
    if (!/^HTTP\//.test(headText) && buf.length - off >= 5) return { done: true, status: null, garbage: true };
    if (end < 0) return { done: false, status: null, garbage: false };
    const status = Number(/^HTTP\/\d(?:\.\d)? (\d{3})/.exec(headText)?.[1] ?? 0);
    // interim 1xx (100 Continue): the real answer follows
    if (status >= 100 && status < 200 && status !== 101) {
      off = end + 4;
      continue;
    }
    const body = buf.subarray(end + 4);
    if (status === 101 || status === 204 || status === 304 || method === 'HEAD') return { done: true, status, garbage: false };
    const cl = /\r\ncontent-length: *(\d+)/i.exec(headText)?.[1];
    if (cl !== undefined) return { done: body.length >= Number(cl), status, garbage: false };
    if (/\r\ntransfer-encoding: *chunked/i.test(headText)) return { done: body.includes('0\r\n\r\n'), status, garbage: false };
    return { done: false, status, garbage: false }; // body ends at close
  }
}

export function exchange(o: ExchangeOptions): Promise<Exchange> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host: o.host, port: o.port, ...(o.localAddress ? { localAddress: o.localAddress } : {}) });
    socket.setNoDelay(true);
    const parts: Buffer[] = [];
    let size = 0;
    let settled = false;
    let silence: ReturnType<typeof setTimeout> | undefined;
    const finish = (outcome: string, status: number | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(hard);
      clearTimeout(silence);
      socket.destroy();
      resolve({ outcome, status, received: Buffer.concat(parts), ms: performance.now() - t0 });
    };
    const atEnd = () => {
      const buf = Buffer.concat(parts);
      if (!buf.length) return finish('closed without response', null);
      const p = parse(buf, o.method);
      if (p.garbage || p.status === null) return finish('garbage', null);
      // a body with no length ends at the close; one with a length that stops short was cut
      const lengthed = p.done || /\r\n(content-length|transfer-encoding):/i.test(buf.subarray(0, buf.indexOf('\r\n\r\n')).toString('latin1'));
      finish(p.done || !lengthed ? `http ${p.status}` : `truncated ${p.status}`, p.status);
    };
    const armSilence = () => {
      clearTimeout(silence);
      silence = setTimeout(() => socket.end(), o.silenceMs ?? 3000);
    };
    const hard = setTimeout(() => finish('stuck', null), o.timeoutMs ?? 10_000);
    socket.on('data', (d: Buffer) => {
      if (size < MAX_KEEP) parts.push(d);
      size += d.length;
      const p = parse(Buffer.concat(parts), o.method);
      if (p.garbage) return finish('garbage', null);
      if (p.done) return finish(`http ${p.status}`, p.status);
      armSilence();
    });
    socket.on('error', (err: Error & { code?: string }) => {
      if (size) return atEnd();
      finish(err.code === 'ECONNREFUSED' ? 'refused' : err.code === 'ECONNRESET' || err.code === 'EPIPE' ? 'reset' : `error ${err.code ?? 'unknown'}`, null);
    });
    socket.on('end', atEnd);
    socket.on('close', atEnd);
    socket.write(o.data, () => {
      if (o.halfClose) socket.end();
      else armSilence();
    });
  });
}
