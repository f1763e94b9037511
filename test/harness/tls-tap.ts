// A wire tap for TLS: reads the plaintext part of TLS handshakes between a
// client and a server (which groups the client offered and sent key shares
// for, and which group the server chose), so tests can check what really
// crossed the wire.

import { createConnection, createServer, type Server, type Socket } from 'node:net';

/** IANA TLS group ids → OpenSSL names (as VOLLY_TLS_GROUPS and the proxy's records spell them). */
const GROUPS: Record<number, string> = {
  23: 'P-256',
  24: 'P-384',
  25: 'P-521',
  29: 'X25519',
  30: 'X448',
  256: 'ffdhe2048',
  257: 'ffdhe3072',
  512: 'MLKEM512',
  513: 'MLKEM768',
  514: 'MLKEM1024',
  4587: 'SecP256r1MLKEM768',
  4588: 'X25519MLKEM768',
  4589: 'SecP384r1MLKEM1024',
};
export const groupById = (id: number): string => GROUPS[id] ?? `0x${id.toString(16).padStart(4, '0')}`;

/** SHA-256("HelloRetryRequest"): the ServerHello.random of a HelloRetryRequest (RFC 8446 4.1.3). */
const HRR_RANDOM = Buffer.from('cf21ad74e59a6111be1d8c021e65b891c2a211167abb8c5e079e09e2c8a8339c', 'hex');

export interface ClientHelloSeen {
  /** supported_groups, in the client's order. */
  readonly groups: string[];
  /** Groups the client sent a key_share for (TLS 1.3). */
  readonly keyShares: string[];
  readonly versions: string[];
}

export interface TlsWire {
  readonly clientHellos: ClientHelloSeen[];
  /** Whether the server answered the first ClientHello with a HelloRetryRequest, and for which group. */
  helloRetryGroup?: string;
  /** The negotiated version as the ServerHello says (supported_versions, else legacy_version). */
  version?: string;
  /** The group the server chose: ServerHello key_share (TLS 1.3) or ServerKeyExchange named curve (TLS 1.2). */
  group?: string;
}

const VERSION_NAMES: Record<number, string> = { 769: 'TLSv1', 770: 'TLSv1.1', 771: 'TLSv1.2', 772: 'TLSv1.3' };

class Reader {
  at = 0;
  readonly b: Buffer;
  constructor(b: Buffer) {
    this.b = b;
  }
  #take(n: number): number {
    const at = this.at;
    this.at += n;
    return at;
  }
  u8 = () => this.b.readUInt8(this.#take(1));
  u16 = () => this.b.readUInt16BE(this.#take(2));
  bytes = (n: number) => this.b.subarray(this.#take(n), this.at);
  get left(): number {
    return this.b.length - this.at;
  }
}

function extensions(r: Reader): Map<number, Buffer> {
  const out = new Map<number, Buffer>();
  if (r.left < 2) return out;
  const ext = new Reader(r.bytes(r.u16()));
  while (ext.left >= 4) {
    const type = ext.u16();
    out.set(type, ext.bytes(ext.u16()));
  }
  return out;
}

function parseClientHello(body: Buffer): ClientHelloSeen {
  const r = new Reader(body);
  r.bytes(2 + 32);
  r.bytes(r.u8()); // session id
  r.bytes(r.u16()); // cipher suites
  r.bytes(r.u8()); // compression
  const ext = extensions(r);
  const groups: string[] = [];
  const keyShares: string[] = [];
  const versions: string[] = [];
  const sg = ext.get(10);
  if (sg) {
    const g = new Reader(sg);
    const list = new Reader(g.bytes(g.u16()));
    while (list.left >= 2) groups.push(groupById(list.u16()));
  }
  const ks = ext.get(51);
  if (ks) {
    const k = new Reader(ks);
    const list = new Reader(k.bytes(k.u16()));
    while (list.left >= 4) {
      keyShares.push(groupById(list.u16()));
      list.bytes(list.u16());
    }
  }
  const sv = ext.get(43);
  if (sv) {
    const v = new Reader(sv);
    const list = new Reader(v.bytes(v.u8()));
    while (list.left >= 2) versions.push(VERSION_NAMES[list.u16()] ?? 'other');
  }
  return { groups, keyShares, versions };
}

/** Reassembles TLS records of one direction into handshake messages until the handshake turns encrypted. */
class HandshakeStream {
  #records = Buffer.alloc(0);
  #messages = Buffer.alloc(0);
  done = false;
  private readonly onMessage: (type: number, body: Buffer) => 'continue' | 'stop';
  private readonly onChangeCipherSpec: () => 'continue' | 'stop';
  constructor(onMessage: (type: number, body: Buffer) => 'continue' | 'stop', onChangeCipherSpec: () => 'continue' | 'stop' = () => 'continue') {
    this.onMessage = onMessage;
    this.onChangeCipherSpec = onChangeCipherSpec;
  }

  push(chunk: Buffer): void {
    if (this.done) return;
    this.#records = Buffer.concat([this.#records, chunk]);
    while (!this.done && this.#records.length >= 5) {
      const type = this.#records[0]!;
      const len = this.#records.readUInt16BE(3);
      if (this.#records.length < 5 + len) return;
      const payload = this.#records.subarray(5, 5 + len);
      this.#records = this.#records.subarray(5 + len);
      if (type === 20) {
        // change_cipher_spec: TLS 1.3's middlebox-compatibility one, or TLS 1.2's, after which all is encrypted.
        if (this.onChangeCipherSpec() === 'stop') this.done = true;
        continue;
      }
      if (type !== 22) {
        this.done = true;
        return;
      }
      this.#messages = Buffer.concat([this.#messages, payload]);
      while (!this.done && this.#messages.length >= 4) {
        const mlen = this.#messages.readUIntBE(1, 3);
        if (this.#messages.length < 4 + mlen) break;
        const mtype = this.#messages[0]!;
        const body = this.#messages.subarray(4, 4 + mlen);
        this.#messages = this.#messages.subarray(4 + mlen);
        if (this.onMessage(mtype, body) === 'stop') this.done = true;
      }
    }
  }
}

function wireParsers(wire: TlsWire): { client: HandshakeStream; server: HandshakeStream } {
  const client = new HandshakeStream((type, body) => {
    if (type !== 1) return 'stop'; // anything after the ClientHello(s) may be encrypted
    wire.clientHellos.push(parseClientHello(body));
    return 'continue';
  });
  let lastWasRetry = false;
  const server = new HandshakeStream(
    (type, body) => {
      lastWasRetry = false;
      if (type === 2) {
        const r = new Reader(body);
        const legacy = r.u16();
        const random = r.bytes(32);
        r.bytes(r.u8());
        r.bytes(2 + 1);
        const ext = extensions(r);
        const ks = ext.get(51);
        const sv = ext.get(43);
        if (random.equals(HRR_RANDOM)) {
          if (ks) wire.helloRetryGroup = groupById(ks.readUInt16BE(0));
          lastWasRetry = true;
          return 'continue';
        }
        wire.version = VERSION_NAMES[sv ? sv.readUInt16BE(0) : legacy] ?? 'other';
        if (wire.version === 'TLSv1.3') {
          if (ks) wire.group = groupById(ks.readUInt16BE(0));
          return 'stop'; // the rest of a TLS 1.3 handshake is encrypted
        }
        return 'continue';
      }
      if (type === 12) {
        // ServerKeyExchange (ECDHE): curve_type 3 = named_curve, then the group.
        if (body[0] === 3) wire.group = groupById(body.readUInt16BE(1));
        return 'stop';
      }
      return type === 14 ? 'stop' : 'continue'; // ServerHelloDone
    },
    () => (lastWasRetry ? 'continue' : 'stop'),
  );
  return { client, server };
}

export interface TlsTap {
  /** 127.0.0.1 port that forwards to the target. */
  readonly port: number;
  /** One entry per connection, in accept order. */
  readonly connections: TlsWire[];
  close(): Promise<void>;
}

/** A TCP forwarder to 127.0.0.1:targetPort that records each connection's TLS handshake as seen on the wire. */
export function startTlsTap(targetPort: number): Promise<TlsTap> {
  const connections: TlsWire[] = [];
  const sockets = new Set<Socket>();
  const server: Server = createServer((down) => {
    const wire: TlsWire = { clientHellos: [] };
    connections.push(wire);
    const parse = wireParsers(wire);
    const up = createConnection({ host: '127.0.0.1', port: targetPort });
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        down.destroy();
        up.destroy();
      });
    }
    down.on('data', (b: Buffer) => parse.client.push(b));
    up.on('data', (b: Buffer) => parse.server.push(b));
    down.pipe(up);
    up.pipe(down);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const port = (server.address() as { port: number }).port;
      resolve({
        port,
        connections,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}
