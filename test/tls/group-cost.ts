// What it costs the server to learn the negotiated TLS group, two ways:
//
//   session: what proxy/src/tls.ts does — getSession() (OpenSSL i2d of the
//            server's SSL_SESSION) and a walk to its kex_group field, once
//            per connection; the TLS socket stays on libuv (native writes).
//   duplex:  the alternative — hand the TLS server a JS Duplex around the raw
//            socket (server.emit('connection', wrapper)) so its writes pass
//            through JS where the plaintext ServerHello can be read; Node then
//            runs TLS over a JSStreamSocket for the whole connection.
//
// Both against a native baseline, on loopback, in one process (client and
// server share the CPU numbers, so compare columns, not absolutes):
//   node test/tls/group-cost.ts [--quick]

import { createServer as createNetServer, type Server, type Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { type AddressInfo, connect, createServer, type TLSSocket } from 'node:tls';
import { sessionKexGroup } from '../../proxy/src/tls.ts';
import { createTestPki } from '../harness/tls.ts';

const quick = process.argv.includes('--quick');
const HANDSHAKES = quick ? 100 : 1000;
const MESSAGES = quick ? 2000 : 20_000;
const MESSAGE_BYTES = 300;
const BULK_BYTES = (quick ? 16 : 128) * 1024 * 1024;

const pki = createTestPki();

/** A JS Duplex in front of a raw socket: every TLS write passes through _write (where a ServerHello could be parsed). */
class WriteTap extends Duplex {
  firstWrite: Buffer | undefined;
  private readonly raw: Socket;
  constructor(raw: Socket) {
    super();
    this.raw = raw;
    raw.on('data', (d: Buffer) => {
      if (!this.push(d)) raw.pause();
    });
    raw.on('end', () => this.push(null));
    raw.on('error', (e) => this.destroy(e));
  }
  override _read(): void {
    this.raw.resume();
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.firstWrite ??= chunk; // the ServerHello is in here
    this.raw.write(chunk, cb);
  }
  override _final(cb: () => void): void {
    this.raw.end(cb);
  }
  override _destroy(err: Error | null, cb: (err?: Error | null) => void): void {
    this.raw.destroy();
    cb(err);
  }
}

type Mode = 'native' | 'session' | 'duplex';

async function startServer(mode: Mode, onSocket: (s: TLSSocket) => void): Promise<{ port: number; close(): void }> {
  const tls = createServer({ cert: pki.server.certPem, key: pki.server.keyPem, ecdhCurve: 'X25519MLKEM768:X25519' }, (s) => {
    if (mode === 'session') {
      const der = s.getSession();
      if (der) {
        sessionKexGroup(der);
        der.fill(0);
      }
    }
    onSocket(s);
  });
  let front: Server = tls;
  if (mode === 'duplex') front = createNetServer((raw) => tls.emit('connection', new WriteTap(raw)));
  await new Promise<void>((r) => front.listen(0, '127.0.0.1', r));
  return { port: (front.address() as AddressInfo).port, close: () => front.close() };
}

function cpu<T>(fn: () => Promise<T>): Promise<{ ms: number; cpuMs: number }> {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  return fn().then(() => {
    const c = process.cpuUsage(c0);
    return { ms: performance.now() - t0, cpuMs: (c.user + c.system) / 1000 };
  });
}

async function handshakes(mode: Mode): Promise<string> {
  const server = await startServer(mode, (s) => s.end());
  const r = await cpu(async () => {
    for (let i = 0; i < HANDSHAKES; i++) {
      await new Promise<void>((resolve, reject) => {
        const c = connect({ host: '127.0.0.1', port: server.port, ca: pki.caPem, ecdhCurve: 'X25519MLKEM768' }, () => c.end());
        c.on('close', () => resolve());
        c.on('error', reject);
        c.resume();
      });
    }
  });
  server.close();
  return `${((r.ms * 1000) / HANDSHAKES).toFixed(0)} us wall, ${((r.cpuMs * 1000) / HANDSHAKES).toFixed(0)} us CPU per handshake`;
}

async function messages(mode: Mode): Promise<string> {
  const server = await startServer(mode, (s) => s.pipe(s));
  const c = connect({ host: '127.0.0.1', port: server.port, ca: pki.caPem });
  await new Promise((r) => c.once('secureConnect', r));
  const msg = Buffer.alloc(MESSAGE_BYTES, 7);
  const r = await cpu(async () => {
    for (let i = 0; i < MESSAGES; i++) {
      c.write(msg);
      let got = 0;
      while (got < MESSAGE_BYTES) got += ((await new Promise((res) => c.once('data', res))) as Buffer).length;
    }
  });
  c.destroy();
  server.close();
  return `${((r.ms * 1000) / MESSAGES).toFixed(1)} us wall, ${((r.cpuMs * 1000) / MESSAGES).toFixed(1)} us CPU per ${MESSAGE_BYTES}-byte round trip`;
}

async function bulk(mode: Mode): Promise<string> {
  const chunk = Buffer.alloc(64 * 1024, 1);
  const server = await startServer(mode, (s) => {
    let sent = 0;
    const pump = () => {
      while (sent < BULK_BYTES) {
        sent += chunk.length;
        if (!s.write(chunk)) return void s.once('drain', pump);
      }
      s.end();
    };
    pump();
  });
  const r = await cpu(
    () =>
      new Promise<void>((resolve, reject) => {
        const c = connect({ host: '127.0.0.1', port: server.port, ca: pki.caPem });
        let got = 0;
        c.on('data', (d: Buffer) => {
          got += d.length;
        });
        c.on('end', () => (got >= BULK_BYTES ? resolve() : reject(new Error(`short: ${got}`))));
        c.on('error', reject);
      }),
  );
  server.close();
  return `${(BULK_BYTES / 1024 / 1024 / (r.ms / 1000)).toFixed(0)} MiB/s, ${((r.cpuMs * 1000) / (BULK_BYTES / 1024 / 1024)).toFixed(0)} us CPU per MiB (server to client)`;
}

/** The per-connection cost of the session read alone, on one established server socket. */
async function sessionRead(): Promise<string> {
  let server: TLSSocket | undefined;
  const s = await startServer('native', (t) => {
    server = t;
  });
  const c = connect({ host: '127.0.0.1', port: s.port, ca: pki.caPem, ecdhCurve: 'X25519MLKEM768' });
  await new Promise((r) => c.once('secureConnect', r));
  while (!server) await new Promise((r) => setTimeout(r, 5));
  const n = 20_000;
  const t0 = performance.now();
  let g = 0;
  for (let i = 0; i < n; i++) {
    const der = server.getSession();
    g = der ? (sessionKexGroup(der) ?? 0) : 0;
    der?.fill(0);
  }
  const us = ((performance.now() - t0) * 1000) / n;
  c.destroy();
  s.close();
  return `${us.toFixed(2)} us per getSession() + kex_group walk (group 0x${g.toString(16)})`;
}

const line = (what: string, v: string) => process.stdout.write(`${what.padEnd(34)}${v}\n`);
process.stdout.write(`node ${process.version}, OpenSSL ${process.versions.openssl}${quick ? ' (quick)' : ''}\n`);
line('session read alone', await sessionRead());
const MODES = ['native', 'session', 'duplex'] as const;
// Two rounds, modes interleaved; the first warms up the JIT and is not printed.
for (const round of [0, 1]) {
  for (const [what, run] of [
    ['handshakes', handshakes],
    ['small round trips', messages],
    ['bulk', bulk],
  ] as const) {
    for (const mode of MODES) {
      const v = await run(mode);
      if (round === 1) line(`${mode}: ${what}`, v);
    }
  }
}
