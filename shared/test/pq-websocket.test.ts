/**
 * PqWebSocket and installPqWebSocket over real sockets: a tiny `ws` server on
 * 127.0.0.1 plays the proxy with the library's own server half
 * (serverHandshake + sealedChannel). Runs on every WebSocket implementation
 * the runtime has underneath (`ws`; Node's global WebSocket from Node 22).
 */
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { AccessToken } from 'livekit-server-sdk';
import { afterAll, beforeAll, beforeEach, describe, expect, test, vi } from 'vitest';
import WsWebSocket, { WebSocketServer } from 'ws';
import { toBase64Url, utf8 } from '../src/bytes.js';
import { PqWebSocket, type PqWebSocketOptions, peekTokenPayload, SESSION_ID_PARAM, SUBPROTOCOL } from '../src/client/index.js';
import { CloseCode } from '../src/close-codes.js';
import { VollyError } from '../src/errors.js';
import { FrameKind, type OpenedFrame } from '../src/frame.js';
import { fingerprint, type SealedChannel, sealedChannel, serverHandshake } from '../src/handshake.js';
import { getAead, getKem, installPqWebSocket, randomBytes } from '../src/index.js';
import type { KemAlgorithm } from '../src/kem/types.js';
import { checkAlgorithm, decodeControl, decodeHandshake, encodeControl, encodeResponse } from '../src/messages.js';
import { addPqClaims, readPqClaims } from '../src/token.js';

const aead = getAead();
const JOIN = Uint8Array.of(0x0a, 0x02, 0x08, 0x01);
const TOKEN = 'header.eyJzdWIiOiJhbGljZSJ9.sig';

/** One client connection as the fake proxy sees it. */
class Peer {
  readonly url: URL;
  readonly protocol: string;
  readonly frames: OpenedFrame[] = [];
  readonly connect: Promise<{ accessToken: string; query: string }>;
  fingerprint: string | undefined;
  #channel: SealedChannel | undefined;
  #connected: ((c: { accessToken: string; query: string }) => void) | undefined;
  #waiters: Array<() => void> = [];

  constructor(
    readonly ws: WsWebSocket,
    path: string,
    allowed: readonly KemAlgorithm[],
  ) {
    this.url = new URL(path, 'http://proxy.invalid');
    this.protocol = ws.protocol;
    this.connect = new Promise((resolve) => {
      this.#connected = resolve;
    });
    if (this.protocol !== SUBPROTOCOL) return;
    const payload = peekTokenPayload(this.url.searchParams.get('access_token') ?? '');
    const claims = payload ? readPqClaims(payload) : null;
    // Like the proxy: the session id the client chose in the URL (the replay guard).
    if (claims) this.#key(claims.algorithm, this.url.searchParams.get(SESSION_ID_PARAM) ?? toBase64Url(randomBytes(24)), claims.publicKey);
    ws.on('message', (data: Buffer) => {
      const bytes = new Uint8Array(data);
      try {
        if (!this.#channel) {
          const h = decodeHandshake(bytes);
          return this.#key(checkAlgorithm(h.algorithm, allowed), h.sessionId, h.publicKey);
        }
        const frame = this.#channel.opener.open(bytes);
        if (this.#connected) {
          const c = decodeControl(frame.payload);
          if (c.case !== 'connect') throw new Error('expected VollyConnect');
          this.#connected({ accessToken: c.accessToken, query: c.query });
          this.#connected = undefined;
          return;
        }
        this.frames.push(frame);
        for (const w of this.#waiters.splice(0)) w();
      } catch (err) {
        // The proxy's rule: before keys a refused pq_response, then the close code.
        if (!this.#channel) ws.send(encodeResponse({ success: false, error: (err as Error).message }));
        ws.close(err instanceof VollyError ? err.closeCode : CloseCode.Internal, 'refused');
      }
    });
  }

  #key(algorithm: KemAlgorithm, sessionId: string, publicKey: Uint8Array): void {
    const { response, result } = serverHandshake(getKem(algorithm), sessionId, publicKey);
    this.fingerprint = fingerprint(result);
    this.#channel = sealedChannel(result, 'server', aead);
    this.ws.send(response);
  }

  seal(kind: FrameKind, payload: Uint8Array): void {
    this.ws.send((this.#channel as SealedChannel).sealer.seal(kind, payload));
  }

  /** A sealed VollyError, then the close: what the proxy does when LiveKit refuses. */
  fail(code: number, message: string, closeCode: number): void {
    this.seal(FrameKind.Control, encodeControl({ case: 'error', code, message }));
    this.ws.close(closeCode, message);
  }

  async frame(i: number): Promise<OpenedFrame> {
    while (this.frames.length <= i) await new Promise<void>((r) => this.#waiters.push(r));
    return this.frames[i] as OpenedFrame;
  }
}

class FakeProxy {
  readonly wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => (p.has(SUBPROTOCOL) ? SUBPROTOCOL : ([...p][0] ?? false)) });
  allowed: readonly KemAlgorithm[] = ['ML-KEM-768', 'X-Wing'];
  #pending: Array<(p: Peer) => void> = [];
  #ready: Peer[] = [];

  constructor() {
    this.wss.on('connection', (ws, req) => {
      const peer = new Peer(ws, req.url ?? '/', this.allowed);
      const waiter = this.#pending.shift();
      if (waiter) waiter(peer);
      else this.#ready.push(peer);
    });
  }
  get origin(): string {
    return `127.0.0.1:${(this.wss.address() as AddressInfo).port}`;
  }
  /** The next connection. */
  peer(): Promise<Peer> {
    const ready = this.#ready.shift();
    return ready ? Promise.resolve(ready) : new Promise((r) => this.#pending.push(r));
  }
  /** Forgets connections no test asked for and ends them. */
  reset(): void {
    for (const p of this.#ready.splice(0)) p.ws.terminate();
    this.#pending = [];
  }
  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((r) => this.wss.close(() => r()));
  }
}

type Seen = { type: string; data?: unknown; code?: number; wasClean?: boolean };

/** Records every event in order, through both the on* handlers and listeners. */
function watch(ws: PqWebSocket) {
  const events: Seen[] = [];
  const handlerCalls: string[] = [];
  for (const type of ['open', 'message', 'error', 'close']) {
    ws.addEventListener(type, (ev) =>
      events.push({ type, data: (ev as MessageEvent).data, code: (ev as CloseEvent).code, wasClean: (ev as CloseEvent).wasClean }),
    );
  }
  ws.onopen = () => handlerCalls.push('open');
  ws.onmessage = () => handlerCalls.push('message');
  ws.onerror = () => handlerCalls.push('error');
  ws.onclose = () => handlerCalls.push('close');
  const next = (type: string) => new Promise<void>((r) => ws.addEventListener(type, () => r(), { once: true }));
  return { events, handlerCalls, next, types: () => events.map((e) => e.type) };
}

const impls: Array<[string, typeof globalThis.WebSocket]> = [['ws', WsWebSocket as unknown as typeof globalThis.WebSocket]];
if (typeof globalThis.WebSocket === 'function') impls.push(['global WebSocket', globalThis.WebSocket]);

let proxy: FakeProxy;
beforeAll(async () => {
  proxy = new FakeProxy();
  await once(proxy.wss, 'listening');
});
beforeEach(() => proxy.reset());
afterAll(() => proxy.close());

describe.each(impls)('PqWebSocket over %s', (_, Impl) => {
  const options = (extra: Partial<PqWebSocketOptions> = {}): PqWebSocketOptions => ({ getKem: (a) => getKem(a), aead, randomBytes, WebSocket: Impl, ...extra });

  test('in-band: URL without query, open only after the first sealed LiveKit frame, ArrayBuffer for kind 1 and string for kind 2', async () => {
    const url = `ws://${proxy.origin}/rtc?access_token=${TOKEN}&auto_subscribe=1&join_request=SDP-OFFER`;
    const ws = new PqWebSocket(url, undefined, options());
    ws.binaryType = 'arraybuffer';
    const seen = watch(ws);
    const peer = await proxy.peer();
    expect([peer.url.pathname, peer.url.search, peer.protocol]).toEqual(['/rtc', '', SUBPROTOCOL]);
    expect(() => ws.send('too early')).toThrow(/not open/);

    expect(await peer.connect).toEqual({ accessToken: TOKEN, query: 'auto_subscribe=1&join_request=SDP-OFFER' });
    // Keyed and key-confirmed, but LiveKit has not spoken yet: still connecting.
    await new Promise((r) => setTimeout(r, 30));
    expect([ws.readyState, seen.events]).toEqual([ws.CONNECTING, []]);
    expect(ws.pq).toMatchObject({ mode: 'in-band', algorithm: 'ML-KEM-768', fingerprint: peer.fingerprint, framesSealed: 1, framesOpened: 0 });

    peer.seal(FrameKind.LiveKitBinary, JOIN);
    await seen.next('message');
    expect(ws.readyState).toBe(ws.OPEN);
    expect(seen.types()).toEqual(['open', 'message']);
    expect(seen.events[1]?.data).toBeInstanceOf(ArrayBuffer);
    expect(new Uint8Array(seen.events[1]?.data as ArrayBuffer)).toEqual(JOIN);

    peer.seal(FrameKind.LiveKitText, utf8('{"pong":7}'));
    await seen.next('message');
    expect(seen.events[2]?.data).toBe('{"pong":7}');

    ws.send(Uint8Array.of(1, 2, 3));
    ws.send('{"ping":8}');
    ws.send(new Uint16Array([0x0201]).buffer);
    expect(await peer.frame(0)).toEqual({ kind: FrameKind.LiveKitBinary, payload: Uint8Array.of(1, 2, 3) });
    expect(await peer.frame(1)).toEqual({ kind: FrameKind.LiveKitText, payload: utf8('{"ping":8}') });
    expect((await peer.frame(2)).payload).toEqual(Uint8Array.of(1, 2));
    expect(ws.pq).toMatchObject({ framesSealed: 4, framesOpened: 2 });
    expect(ws.protocol).toBe('');

    ws.close();
    await seen.next('close');
    expect(seen.types()).toEqual(['open', 'message', 'message', 'close']);
    expect(seen.events[3]).toMatchObject({ code: 1000, wasClean: true });
    expect(seen.handlerCalls).toEqual(seen.types());
    expect(ws.readyState).toBe(ws.CLOSED);
  });

  test('binaryType blob (the browser default) delivers a Blob', async () => {
    const ws = new PqWebSocket(`ws://${proxy.origin}/rtc/v1`, undefined, options());
    const seen = watch(ws);
    const peer = await proxy.peer();
    await peer.connect;
    peer.seal(FrameKind.LiveKitBinary, JOIN);
    await seen.next('message');
    const blob = seen.events[1]?.data as Blob;
    expect(blob).toBeInstanceOf(Blob);
    expect(new Uint8Array(await blob.arrayBuffer())).toEqual(JOIN);
    ws.close();
    await seen.next('close');
  });

  test('sealed error before open: error then close with the proxy code, never open; onFailure has the LiveKit status', async () => {
    const onFailure = vi.fn();
    const ws = new PqWebSocket(`ws://${proxy.origin}/rtc?access_token=${TOKEN}`, undefined, options({ onFailure }));
    const seen = watch(ws);
    const peer = await proxy.peer();
    await peer.connect;
    peer.fail(401, 'invalid token: token is expired', CloseCode.Upstream);
    await seen.next('close');
    expect(seen.types()).toEqual(['error', 'close']);
    expect(seen.events[1]).toMatchObject({ code: CloseCode.Upstream, wasClean: false });
    expect(seen.handlerCalls).toEqual(['error', 'close']);
    expect(ws.readyState).toBe(ws.CLOSED);
    expect(onFailure).toHaveBeenLastCalledWith(TOKEN, { closeCode: CloseCode.Upstream, status: 401, message: 'invalid token: token is expired' });
  });

  test('refused handshake (pq_response success=false): error then close with the code the proxy closed with', async () => {
    proxy.allowed = ['ML-KEM-768'];
    try {
      const onFailure = vi.fn();
      const ws = new PqWebSocket(`ws://${proxy.origin}/rtc?access_token=${TOKEN}`, undefined, options({ algorithm: 'X-Wing', onFailure }));
      const seen = watch(ws);
      await seen.next('close');
      expect(seen.types()).toEqual(['error', 'close']);
      expect(seen.events[1]?.code).toBe(CloseCode.Refused);
      expect(onFailure).toHaveBeenLastCalledWith(
        TOKEN,
        expect.objectContaining({ closeCode: CloseCode.Refused, message: 'KEM algorithm X-Wing is not allowed here' }),
      );
    } finally {
      proxy.allowed = ['ML-KEM-768', 'X-Wing'];
    }
  });

  test('a sealed error with a 200-byte reason (100 "é") and a proxy that never closes: the client closes with it cut to 122 bytes, nothing thrown', async () => {
    const onFailure = vi.fn();
    const ws = new PqWebSocket(`ws://${proxy.origin}/rtc?access_token=${TOKEN}`, undefined, options({ onFailure }));
    const seen = watch(ws);
    const peer = await proxy.peer();
    await peer.connect;
    const serverSaw = once(peer.ws, 'close') as Promise<[number, Buffer]>;
    const message = 'é'.repeat(100);
    // Sealed error, no close: the client's own 1 s timer closes, with the message as its reason.
    peer.seal(FrameKind.Control, encodeControl({ case: 'error', code: CloseCode.Unauthorized, message }));
    await seen.next('close');
    // Node's global WebSocket leaves the TCP close to ws's 30 s timer; end it here: ws then reports the close frame it received.
    peer.ws.terminate();
    const [code, reason] = await serverSaw;
    expect(code).toBe(CloseCode.Unauthorized);
    expect(reason.toString('utf8')).toBe('é'.repeat(61));
    expect(reason.length).toBe(122);
    expect(seen.types()).toEqual(['error', 'close']);
    expect(seen.events[1]?.code).toBe(CloseCode.Unauthorized);
    expect(onFailure).toHaveBeenLastCalledWith(TOKEN, { closeCode: CloseCode.Unauthorized, message });
  });

  test('a text frame that is not UTF-8 after open: error and close 4400, nothing delivered, nothing thrown', async () => {
    const ws = new PqWebSocket(`ws://${proxy.origin}/rtc`, undefined, options());
    const seen = watch(ws);
    const peer = await proxy.peer();
    await peer.connect;
    peer.seal(FrameKind.LiveKitBinary, JOIN);
    await seen.next('open');
    peer.seal(FrameKind.LiveKitText, Uint8Array.of(0x7b, 0xff, 0x7d));
    peer.seal(FrameKind.LiveKitText, utf8('{"after":"failure"}'));
    await seen.next('close');
    expect(seen.types()).toEqual(['open', 'message', 'error', 'close']);
    expect(seen.events[3]?.code).toBe(CloseCode.Malformed);
  });

  test('token-bound: the URL keeps only access_token and the client-chosen session id, the algorithm comes from the token, connect carries no token', async () => {
    const kem = getKem('X-Wing');
    const keyPair = kem.keygen();
    const at = new AccessToken('APIkey', 'a-secret-of-at-least-32-characters-long', { identity: 'alice' });
    at.addGrant({ room: 'r1', roomJoin: true });
    addPqClaims(at, { algorithm: 'X-Wing', publicKey: keyPair.publicKey });
    const jwt = await at.toJwt();
    const ws = new PqWebSocket(`ws://${proxy.origin}/rtc?access_token=${jwt}&auto_subscribe=0`, undefined, options({ keyPairs: [kem.keygen(), keyPair] }));
    ws.binaryType = 'arraybuffer';
    const seen = watch(ws);
    const peer = await proxy.peer();
    expect([...peer.url.searchParams.keys()]).toEqual(['access_token', SESSION_ID_PARAM]);
    expect(peer.url.searchParams.get('access_token')).toBe(jwt);
    expect(await peer.connect).toEqual({ accessToken: '', query: 'auto_subscribe=0' });
    expect(ws.pq.sessionId).toBe(peer.url.searchParams.get(SESSION_ID_PARAM));
    expect(ws.pq).toMatchObject({ mode: 'token-bound', algorithm: 'X-Wing', fingerprint: peer.fingerprint });
    peer.seal(FrameKind.LiveKitBinary, JOIN);
    await seen.next('open');
    ws.close();
    await seen.next('close');

    // A token bound to a key this client does not hold goes in-band: nothing in the URL.
    const stray = new PqWebSocket(`ws://${proxy.origin}/rtc?access_token=${jwt}`, undefined, options({ keyPairs: [] }));
    const strayPeer = await proxy.peer();
    expect(strayPeer.url.search).toBe('');
    expect(await strayPeer.connect).toEqual({ accessToken: jwt, query: '' });
    expect(stray.pq.mode).toBe('in-band');
    stray.close();
  });
});

describe('installPqWebSocket', () => {
  const Impl = WsWebSocket as unknown as typeof globalThis.WebSocket;
  const setup = () => {
    const realFetch = vi.fn(async () => new Response('from the network'));
    const target = { WebSocket: Impl, fetch: realFetch as unknown as typeof fetch };
    const uninstall = installPqWebSocket({ target, protocol: 'v1' });
    return { target, realFetch, uninstall };
  };

  test('signaling URLs get a PqWebSocket, everything else the original WebSocket; uninstall restores', async () => {
    const { target, realFetch, uninstall } = setup();
    expect(target.WebSocket).not.toBe(Impl);
    for (const path of ['/rtc', '/rtc/v1', '/prefix/rtc']) {
      const ws = new target.WebSocket(`ws://${proxy.origin}${path}?access_token=x`, []);
      expect(ws).toBeInstanceOf(PqWebSocket);
      const peer = await proxy.peer();
      expect(peer.protocol).toBe(SUBPROTOCOL);
      ws.close();
    }
    const other = new target.WebSocket(`ws://${proxy.origin}/other`);
    expect(other).toBeInstanceOf(WsWebSocket);
    expect(other).not.toBeInstanceOf(PqWebSocket);
    expect((await proxy.peer()).protocol).toBe('');
    await new Promise((r) => other.addEventListener('open', r));
    other.close();
    const explicit = new target.WebSocket(`ws://${proxy.origin}/rtc`, ['another-protocol']);
    expect(explicit).not.toBeInstanceOf(PqWebSocket);
    await new Promise((r) => explicit.addEventListener('open', r));
    expect([explicit.protocol, (await proxy.peer()).protocol]).toEqual(['another-protocol', 'another-protocol']);
    explicit.close();
    expect(target.WebSocket.OPEN).toBe(1);
    uninstall();
    expect(target.WebSocket).toBe(Impl);
    expect(target.fetch).toBe(realFetch);
  });

  test('the validate shim answers /rtc/validate from the sealed error and never calls the real fetch for it', async () => {
    const { target, realFetch, uninstall } = setup();
    try {
      const ws = new target.WebSocket(`ws://${proxy.origin}/rtc/v1?access_token=${TOKEN}&join_request=abc`);
      const closed = new Promise((r) => ws.addEventListener('close', r));
      const peer = await proxy.peer();
      await peer.connect;
      peer.fail(403, 'no permissions to access the room', CloseCode.Upstream);
      await closed;

      const res = await target.fetch(`http://${proxy.origin}/rtc/v1/validate?access_token=${TOKEN}&join_request=abc`);
      expect([res.status, await res.text()]).toEqual([403, 'no permissions to access the room']);
      // Unknown token: a network error, still without touching the network.
      await expect(target.fetch(new URL(`http://${proxy.origin}/rtc/validate?access_token=other`))).rejects.toThrow(TypeError);
      expect(realFetch).not.toHaveBeenCalled();

      await target.fetch(`http://${proxy.origin}/twirp/livekit.RoomService/ListRooms`);
      await target.fetch(new Request(`http://${proxy.origin}/rtc/validatex?access_token=${TOKEN}`));
      expect(realFetch).toHaveBeenCalledTimes(2);
    } finally {
      uninstall();
    }
  });

  test('a refused handshake is answered with the HTTP status of the proxy close code', async () => {
    const { target, uninstall } = setup();
    proxy.allowed = ['X-Wing'];
    try {
      const ws = new target.WebSocket(`ws://${proxy.origin}/rtc?access_token=refused-token`);
      await new Promise((r) => ws.addEventListener('close', r));
      const res = await target.fetch(`http://${proxy.origin}/rtc/validate?access_token=refused-token`);
      expect([res.status, await res.text()]).toEqual([403, 'KEM algorithm ML-KEM-768 is not allowed here']);
    } finally {
      proxy.allowed = ['ML-KEM-768', 'X-Wing'];
      uninstall();
    }
  });

  test('a sealed error code that is no HTTP status still gives a valid Response', async () => {
    const { target, uninstall } = setup();
    try {
      const ws = new target.WebSocket(`ws://${proxy.origin}/rtc?access_token=odd-code`);
      const closed = new Promise((r) => ws.addEventListener('close', r));
      const peer = await proxy.peer();
      await peer.connect;
      peer.fail(99, 'odd', CloseCode.Upstream);
      await closed;
      const res = await target.fetch(`http://${proxy.origin}/rtc/validate?access_token=odd-code`);
      expect([res.status, await res.text()]).toEqual([502, 'odd']);
    } finally {
      uninstall();
    }
  });
});
