/**
 * PqWebSocket over volly-pq.v2, on real loopback sockets: the fake proxy
 * (v2-fake-proxy.ts) answers with shared's own v2 server state machine and
 * serves the well-known document. Joins run on every KEM backend the runtime
 * has (native skips itself on Node 20) and both algorithms.
 */
import { describe, expect, test, vi } from 'vitest';
import WsWebSocket from 'ws';
import {
  addPqClaims,
  addServerKemKeys,
  FrameKind,
  getKem,
  getSigner,
  installPqWebSocket,
  KEM_ALGORITHMS,
  kemBackends,
  PqWebSocket,
  ServerKeyCache,
  v2,
} from '../src/index.js';
import { FakeV2Proxy, JOIN } from './v2-fake-proxy.js';
import { grant, options, outcome, signalUrl, start, token } from './v2-socket-helpers.js';

const cases = kemBackends().flatMap((backend) => KEM_ALGORITHMS.map((algorithm) => ({ backend, algorithm })));

describe.each(cases)('v2 join, $algorithm on $backend', ({ backend, algorithm }) => {
  test('joins with the key from the well-known document: JoinResponse delivered, nothing readable outside the sealed flight', async () => {
    const p = await start(algorithm, backend);
    const t = token();
    const ws = new PqWebSocket(signalUrl(p, t), undefined, options({}, backend));
    const r = await outcome(ws);
    expect(r).toMatchObject({ opened: true, events: ['open', 'message'] });
    expect(new Uint8Array((r as { data: ArrayBuffer }).data)).toEqual(JOIN);
    // What LiveKit would be dialed with came from the sealed early frame.
    expect(p.connects).toEqual([{ path: '/rtc/v1', query: 'auto_subscribe=1&sdk=js', accessToken: t, timestampMs: expect.any(Number) }]);
    // The upgrade request: one volly_early parameter, no token or query anywhere in the URL or headers.
    const [up] = p.upgrades;
    expect(up?.url).toMatch(/^\/rtc\/v1\?volly_early=[A-Za-z0-9_-]+$/);
    expect(up?.protocol).toBe('volly-pq.v2');
    const sent = `${up?.url} ${JSON.stringify(up?.headers)}`;
    for (const secret of [t, t.split('.')[1] as string, 'auto_subscribe', 'roomJoin']) expect(sent).not.toContain(secret);
    expect(ws.pq).toMatchObject({ protocol: 'volly-pq.v2', mode: 'unbound', algorithm, serverKeysFrom: 'document', retries: 0 });
    expect(ws.pq.serverKeyId).toBe(Buffer.from(p.keys[0]?.key.id as Uint8Array).toString('hex'));
    expect(ws.pq.fingerprint).toMatch(/^[0-9a-f]{16}$/);

    ws.send('{"ping":1}');
    ws.send(Uint8Array.of(1, 2, 3));
    await expect.poll(() => p.received.length).toBe(2);
    expect(p.received[0]).toEqual({ kind: FrameKind.LiveKitText, payload: new TextEncoder().encode('{"ping":1}') });
    expect(p.received[1]).toEqual({ kind: FrameKind.LiveKitBinary, payload: Uint8Array.of(1, 2, 3) });
    expect(ws.pq).toMatchObject({ framesSealed: 3, framesOpened: 2 });
    ws.close();
  });

  test('a bound token joins in bound mode (the fake LiveKit speaks once the key confirmation proved the bound key)', async () => {
    const p = await start(algorithm, backend);
    const boundAlg = algorithm === 'X-Wing' ? 'ML-KEM-768' : 'X-Wing';
    const keyPair = getKem(boundAlg, backend).keygen();
    const t = token(grant((g) => addPqClaims(g, { algorithm: boundAlg, publicKey: keyPair.publicKey })));
    const ws = new PqWebSocket(signalUrl(p, t), undefined, options({ keyPairs: [keyPair] }, backend));
    const r = await outcome(ws);
    expect(r).toMatchObject({ opened: true });
    expect(ws.pq).toMatchObject({ protocol: 'volly-pq.v2', mode: 'bound', algorithm });
    ws.close();
  });
});

describe('server keys', () => {
  test('the document is fetched once per proxy origin and reused', async () => {
    const p = await start();
    const keyCache = new ServerKeyCache();
    for (let i = 0; i < 3; i++) {
      const ws = new PqWebSocket(signalUrl(p), undefined, options({ keyCache }));
      expect(await outcome(ws)).toMatchObject({ opened: true });
      ws.close();
    }
    expect([p.documentFetches, p.upgrades.length]).toEqual([1, 3]);
  });

  test('keys given by the app are used as they are: no document fetched', async () => {
    const p = await start();
    const ws = new PqWebSocket(signalUrl(p), undefined, options({ serverKemKeys: [p.keys[0]?.key as never] }));
    expect(await outcome(ws)).toMatchObject({ opened: true });
    expect(ws.pq.serverKeysFrom).toBe('options');
    expect(p.documentFetches).toBe(0);
    ws.close();
  });

  test('a token that pins the key joins; one that pins another key fails closed (4526) before any upgrade', async () => {
    const p = await start();
    const keyCache = new ServerKeyCache();
    const pinned = new PqWebSocket(signalUrl(p, token(grant((g) => addServerKemKeys(g, [p.keys[0]?.key as never])))), undefined, options({ keyCache }));
    expect(await outcome(pinned)).toMatchObject({ opened: true });
    pinned.close();

    const other = FakeV2Proxy.key('X-Wing').key;
    const ws = new PqWebSocket(signalUrl(p, token(grant((g) => addServerKemKeys(g, [other])))), undefined, options({ keyCache }));
    expect(await outcome(ws)).toMatchObject({ opened: false, code: 4526, events: ['error', 'close'] });
    expect(ws.failure?.code).toBe('ERR_V2_UNKNOWN_KEY');
    // The cached document was fetched once more (the pin may name a newer key) before failing.
    expect([p.upgrades.length, p.documentFetches]).toEqual([1, 2]);
  });

  test('malformed v2 pins in the token fail closed (4526), nothing sent', async () => {
    const p = await start();
    const ws = new PqWebSocket(signalUrl(p, token({ roomJoin: true, pqServerKemKeys: ['not-an-id'] })), undefined, options());
    expect(await outcome(ws)).toMatchObject({ opened: false, code: 4526 });
    expect(ws.failure?.code).toBe('ERR_TOKEN_CLAIMS');
    expect([p.upgrades.length, p.documentFetches]).toEqual([0, 0]);
  });
});

describe('fallback to v1', () => {
  test('no document (404), no keys, no pins: the socket speaks v1', async () => {
    const p = await start();
    p.documentKeys = null;
    const ws = new PqWebSocket(signalUrl(p), undefined, options());
    await outcome(ws);
    expect(p.upgrades.map((u) => u.headers['sec-websocket-protocol'])).toEqual(['volly-pq.v1']);
    expect(ws.pq.protocol).toBe('volly-pq.v1');
  });

  test('an unreachable document: v1 too', async () => {
    const p = await start();
    const ws = new PqWebSocket(signalUrl(p), undefined, options({ wellKnownUrl: 'http://127.0.0.1:9/.well-known/volly-pq' }));
    await outcome(ws);
    expect(p.upgrades.map((u) => u.protocol)).toEqual(['volly-pq.v1']);
  });

  test('a token with v2 pins, or protocol v2, never falls back: no document means no join', async () => {
    const p = await start();
    p.documentKeys = null;
    const pins = token(grant((g) => addServerKemKeys(g, [p.keys[0]?.key as never])));
    for (const [url, extra] of [
      [signalUrl(p, pins), {}],
      [signalUrl(p), { protocol: 'v2' }],
    ] as const) {
      const ws = new PqWebSocket(url, undefined, options(extra));
      expect(await outcome(ws)).toMatchObject({ opened: false, code: 4502 });
      expect(ws.failure?.code).toBe('ERR_V2_DOCUMENT');
    }
    expect(p.upgrades).toEqual([]);
  });
});

describe('installPqWebSocket', () => {
  const target = () => ({ WebSocket: WsWebSocket as unknown as typeof WebSocket, fetch: vi.fn((i: RequestInfo | URL, o?: RequestInit) => fetch(i, o)) });

  test('default: v2 from the document; the document JSON given by the app: v2 with nothing fetched', async () => {
    const p = await start();
    for (const extra of [{}, { serverKemKeys: v2.wellKnownDocument(p.keys.map((k) => k.key)) }]) {
      const t = target();
      const network = t.fetch;
      const uninstall = installPqWebSocket({ target: t as never, keyCache: new ServerKeyCache(), ...extra });
      try {
        const ws = new t.WebSocket(signalUrl(p)) as PqWebSocket;
        expect(await outcome(ws)).toMatchObject({ opened: true });
        expect(ws.pq).toMatchObject({ protocol: 'volly-pq.v2', serverKeysFrom: 'serverKemKeys' in extra ? 'options' : 'document' });
        expect(network).toHaveBeenCalledTimes('serverKemKeys' in extra ? 0 : 1);
        ws.close();
      } finally {
        uninstall();
      }
    }
    expect(() => installPqWebSocket({ target: target() as never, serverKemKeys: '{"protocol":"volly-pq.v2"}' })).toThrowError(/well-known document/);
  });

  test("v1 signature pins keep the socket on v1 (not traded for an unchecked document); protocol 'v1' too", async () => {
    const p = await start();
    const pin = getSigner('ML-DSA-65').keygen().publicKey;
    for (const extra of [{ serverKeys: [pin] }, { protocol: 'v1' as const }]) {
      const t = target();
      const network = t.fetch;
      const uninstall = installPqWebSocket({ target: t as never, keyCache: new ServerKeyCache(), ...extra });
      try {
        const ws = new t.WebSocket(signalUrl(p)) as PqWebSocket;
        await outcome(ws);
        expect(ws.pq.protocol).toBe('volly-pq.v1');
        expect(network).not.toHaveBeenCalled();
      } finally {
        uninstall();
      }
    }
    expect(p.upgrades.map((u) => u.protocol)).toEqual(['volly-pq.v1', 'volly-pq.v1']);
  });
});
