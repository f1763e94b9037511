/**
 * A volly-pq.v2 "proxy" for the client shim's unit tests: a real `ws` server
 * and HTTP listener on 127.0.0.1 that answers with shared's own v2 server
 * state machine (acceptFirstFlight, ServerSessionV2) and serves the
 * well-known document. Behind it a fake "LiveKit" that only sends a
 * JoinResponse-shaped binary frame once the session may dial, and records
 * what the client sends. Knobs make it refuse the ways the real proxy does.
 */
import { once } from 'node:events';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { WebSocketServer } from 'ws';
import {
  closeCodeInfo,
  FrameKind,
  FrameSealer,
  getAead,
  getKem,
  type KemBackendName,
  peekTokenPayload,
  randomBytes,
  readPqClaims,
  SUBPROTOCOL,
  v2,
} from '../src/index.js';

export const JOIN = Uint8Array.of(0x0a, 0x02, 0x08, 0x01);

export interface Upgrade {
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly protocol: string;
}

export class FakeV2Proxy {
  readonly http: Server = createServer((req, res) => this.#document(req.url ?? '/', res));
  readonly wss: WebSocketServer;
  /** Keys the proxy holds (first current). */
  keys: v2.ServerKeyPair[];
  /** The keys the document lists (default: `keys`); `null` → 404. */
  documentKeys: v2.ServerStaticKey[] | null | undefined;
  documentFetches = 0;
  /** Added to the proxy's clock. */
  clockOffsetMs = 0;
  /** Answer every first flight with an unsealed 4425 (what a relay could forge). */
  unsealedStale = false;
  registerDown = false;
  /** The register says every session id was seen (what a replayed flight meets). */
  replay = false;
  /** Called after each stale-clock reply (a test moves the clock again). */
  afterStale: (() => void) | undefined;
  /**
   * Play a relay that strips TLS and answers itself: it sees every public
   * byte (pk_e included) but not the static secret key, so it answers with a
   * real encapsulation to pk_e and frames sealed under keys of its own.
   */
  impostor = false;
  /** A sealed refusal after the early frame opened (what the proxy does for a bad token). */
  refuse: { code: number; message: string } | undefined;
  readonly upgrades: Upgrade[] = [];
  readonly connects: v2.EarlyConnect[] = [];
  /** LiveKit messages the client sent, as the fake LiveKit received them. */
  readonly received: Array<{ kind: number; payload: Uint8Array }> = [];
  readonly #register: v2.MemorySessionRegister;

  constructor(
    algorithm: v2.ServerStaticKey['algorithm'] = 'X-Wing',
    readonly backend?: KemBackendName,
  ) {
    this.keys = [FakeV2Proxy.key(algorithm, backend)];
    this.#register = new v2.MemorySessionRegister(() => this.now());
    this.wss = new WebSocketServer({
      server: this.http,
      handleProtocols: (p) => (p.has(v2.SUBPROTOCOL_V2) ? v2.SUBPROTOCOL_V2 : p.has(SUBPROTOCOL) ? SUBPROTOCOL : false),
    });
    this.wss.on('connection', (ws, req) => {
      this.upgrades.push({ url: req.url ?? '', headers: req.headers, protocol: ws.protocol });
      // A v1 upgrade (the shim fell back): the test only looks at what was offered.
      if (ws.protocol !== v2.SUBPROTOCOL_V2) return ws.close(4400, 'v1 not served here');
      void this.#answer(ws, req.url ?? '/', req.headers['sec-websocket-protocol'] ?? '');
    });
  }

  static key(algorithm: v2.ServerStaticKey['algorithm'], backend?: KemBackendName): v2.ServerKeyPair {
    const kem = getKem(algorithm, backend);
    const { publicKey, secretKey } = kem.keygen();
    return { key: v2.staticKey(algorithm, publicKey, 4_000_000_000), secretKey };
  }

  async listen(): Promise<this> {
    this.http.listen(0, '127.0.0.1');
    await once(this.http, 'listening');
    return this;
  }
  get origin(): string {
    return `127.0.0.1:${(this.http.address() as AddressInfo).port}`;
  }
  now(): number {
    return Date.now() + this.clockOffsetMs;
  }
  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    this.http.closeAllConnections();
    return new Promise((r) => this.http.close(() => r()));
  }

  #document(url: string, res: import('node:http').ServerResponse): void {
    if (url !== v2.WELL_KNOWN_PATH) return void res.writeHead(404).end();
    this.documentFetches++;
    const keys = this.documentKeys === undefined ? this.keys.map((k) => k.key) : this.documentKeys;
    if (keys === null) return void res.writeHead(404).end();
    res.writeHead(200, { 'content-type': 'application/json' }).end(v2.wellKnownDocument(keys));
  }

  async #answer(ws: import('ws').WebSocket, url: string, protocolHeader: string): Promise<void> {
    const u = new URL(url, 'http://proxy.invalid');
    if (this.unsealedStale) return ws.close(v2.CloseCodeV2.StaleClock, 'StaleClock');
    const options = { keys: this.keys, getKem: (a: v2.ServerStaticKey['algorithm']) => getKem(a, this.backend), aead: getAead(), now: () => this.now() };
    if (this.impostor) return this.#impostor(ws, protocolHeader, u.search.slice(1));
    const register: v2.SessionRegister = this.registerDown
      ? {
          claim: () => {
            throw new Error('register down');
          },
        }
      : this.replay
        ? { claim: () => false }
        : this.#register;
    const input = { protocols: protocolHeader.split(/\s*,\s*/), urlPath: u.pathname, query: u.search.slice(1) };
    const decision = await v2.acceptFirstFlight(options, register, input);
    // Unsealed: the reason is only the code's name, as the proxy's.
    if (decision.type === 'refuse') return ws.close(decision.error.closeCode, closeCodeInfo(decision.error.closeCode).name);
    if (decision.type === 'stale') {
      for (const f of decision.frames) ws.send(f);
      this.afterStale?.();
      return ws.close(decision.closeCode, 'StaleClock');
    }
    const { flight } = decision;
    this.connects.push(flight.connect);
    if (this.refuse) {
      for (const f of flight.refuseSealed(this.refuse.code, this.refuse.message)) ws.send(f);
      return ws.close(this.refuse.code < 1000 ? 4502 : this.refuse.code, 'refused');
    }
    const payload = peekTokenPayload(flight.connect.accessToken);
    const claims = payload ? readPqClaims(payload) : null;
    const { serverHello, session } = flight.accept(claims ? { algorithm: claims.algorithm, publicKey: claims.publicKey } : undefined);
    ws.send(serverHello);
    // Unbound: "LiveKit" is dialed at once and speaks first.
    if (session.mayDial) ws.send(session.seal(FrameKind.LiveKitBinary, JOIN));
    ws.on('message', (data: Buffer) => {
      try {
        const opened = session.open(new Uint8Array(data));
        if (opened.type === 'confirmed') {
          if (session.bound) ws.send(session.seal(FrameKind.LiveKitBinary, JOIN));
        } else this.received.push({ kind: opened.kind, payload: opened.payload });
      } catch {
        ws.close(4400, 'Malformed');
      }
    });
  }

  #impostor(ws: import('ws').WebSocket, protocolHeader: string, query: string): void {
    const { clientHello } = v2.readFirstFlight(protocolHeader.split(/\s*,\s*/), query);
    const hello = v2.decodeClientHello(clientHello);
    const { ciphertext } = getKem(hello.algorithm, this.backend).encapsulate(hello.pkE);
    ws.send(v2.encodeServerHello({ ctE: ciphertext }));
    const sealer = new FrameSealer(randomBytes(32), getAead());
    ws.send(sealer.seal(FrameKind.LiveKitBinary, JOIN));
  }
}
