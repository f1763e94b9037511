/**
 * PqWebSocket v2 recovers on its own from what it may recover from, once,
 * and from nothing else: unknown key id (4421 → refetch), stale clock (a
 * sealed 4425 → the server's time), never an unsealed 4425, never a relay's
 * own answers. Then each refusal's HTTP status as livekit-client's validate
 * probe sees it through installPqWebSocket. Real loopback sockets throughout.
 */
import { describe, expect, test, vi } from 'vitest';
import WsWebSocket from 'ws';
import { CloseCode, closeCodeInfo, installPqWebSocket, PqWebSocket, ServerKeyCache } from '../src/index.js';
import { FakeV2Proxy } from './v2-fake-proxy.js';
import { options, outcome, signalUrl, start, token } from './v2-socket-helpers.js';

const HOUR = 3_600_000;

describe('unknown key id (4421)', () => {
  test('after the key was removed the client refetches the document and joins on the current key', async () => {
    const p = await start();
    const keyCache = new ServerKeyCache();
    const first = new PqWebSocket(signalUrl(p), undefined, options({ keyCache }));
    expect(await outcome(first)).toMatchObject({ opened: true });
    first.close();
    const old = p.keys[0];
    // Rotation steps 1-2: a new current key, the old one still listed: cached clients keep working without a retry.
    p.keys = [FakeV2Proxy.key('X-Wing'), old as never];
    const during = new PqWebSocket(signalUrl(p), undefined, options({ keyCache }));
    expect(await outcome(during)).toMatchObject({ opened: true });
    expect(during.pq).toMatchObject({ retries: 0, serverKeyId: Buffer.from(old?.key.id as Uint8Array).toString('hex') });
    during.close();
    // Step 3: the old key removed. The cached document names it; the proxy answers 4421; one refetch.
    p.keys = [p.keys[0] as never];
    const after = new PqWebSocket(signalUrl(p), undefined, options({ keyCache }));
    const r = await outcome(after);
    expect(r).toMatchObject({ opened: true, events: ['open', 'message'] });
    expect(after.pq).toMatchObject({ retries: 1, serverKeyId: Buffer.from(p.keys[0]?.key.id as Uint8Array).toString('hex') });
    expect([p.documentFetches, p.upgrades.length]).toEqual([2, 4]);
  });

  test('a second 4421 ends the join: one refetch, one retry, then 4421 to the app', async () => {
    const p = await start();
    // The document keeps naming a key the proxy no longer holds.
    p.documentKeys = [FakeV2Proxy.key('X-Wing').key];
    const ws = new PqWebSocket(signalUrl(p), undefined, options());
    expect(await outcome(ws)).toMatchObject({ opened: false, code: 4421, events: ['error', 'close'] });
    expect([p.documentFetches, p.upgrades.length, ws.pq.retries]).toEqual([2, 2, 1]);
  });

  test('keys the app configured are not refetched: 4421 at once', async () => {
    const p = await start();
    const ws = new PqWebSocket(signalUrl(p), undefined, options({ serverKemKeys: [FakeV2Proxy.key('X-Wing').key] }));
    expect(await outcome(ws)).toMatchObject({ opened: false, code: 4421 });
    expect([p.documentFetches, p.upgrades.length]).toEqual([0, 1]);
  });
});

describe('clock skew (4425)', () => {
  test.each([HOUR, -HOUR])('proxy clock off by %i ms: one retry with the sealed server time, then a fresh join', async (offset) => {
    const p = await start();
    p.clockOffsetMs = offset;
    const ws = new PqWebSocket(signalUrl(p), undefined, options());
    expect(await outcome(ws)).toMatchObject({ opened: true, events: ['open', 'message'] });
    expect([p.upgrades.length, ws.pq.retries]).toEqual([2, 1]);
    // The retry was stamped with the proxy's time, not the client's.
    expect(Math.abs((p.connects[0]?.timestampMs ?? 0) - p.now())).toBeLessThan(10_000);
    ws.close();
  });

  test('still stale after the retry: the join ends with 4425, no third attempt', async () => {
    const p = await start();
    p.clockOffsetMs = HOUR;
    p.afterStale = () => {
      p.clockOffsetMs += HOUR;
    };
    const ws = new PqWebSocket(signalUrl(p), undefined, options());
    expect(await outcome(ws)).toMatchObject({ opened: false, code: 4425 });
    expect(ws.failure?.code).toBe('ERR_V2_STALE');
    expect(p.upgrades.length).toBe(2);
  });

  test('an unsealed 4425 (anyone on the path can send one) is never retried', async () => {
    const p = await start();
    p.unsealedStale = true;
    const ws = new PqWebSocket(signalUrl(p), undefined, options());
    expect(await outcome(ws)).toMatchObject({ opened: false, code: 4425 });
    expect([p.upgrades.length, ws.pq.retries]).toEqual([1, 0]);
  });
});

test('a relay that strips TLS and answers itself: the client fails closed (4400), never opens, never retries', async () => {
  const p = await start();
  p.impostor = true;
  const ws = new PqWebSocket(signalUrl(p), undefined, options());
  expect(await outcome(ws)).toMatchObject({ opened: false, code: 4400, events: ['error', 'close'] });
  expect([p.upgrades.length, p.connects.length]).toEqual([1, 0]);
});

test('a first flight over the header-line limit is never sent: 1009 with no upgrade', async () => {
  const p = await start();
  const url = `${signalUrl(p)}&join_request=${'A'.repeat(9000)}`;
  const ws = new PqWebSocket(url, undefined, options());
  expect(await outcome(ws)).toMatchObject({ opened: false, code: CloseCode.TooLarge });
  expect(ws.failure?.code).toBe('ERR_V2_TOO_LARGE');
  expect(p.upgrades).toEqual([]);
});

describe('the validate shim answers v2 refusals with their HTTP status', () => {
  test('close codes 4421/4409/4425/4503 have names, statuses and outcomes', () => {
    expect([4421, 4409, 4425, 4503].map((c) => closeCodeInfo(c))).toEqual([
      { code: 4421, name: 'UnknownKey', status: 421, outcome: 'refused' },
      { code: 4409, name: 'Replay', status: 409, outcome: 'refused' },
      { code: 4425, name: 'StaleClock', status: 425, outcome: 'refused' },
      { code: 4503, name: 'RegisterUnavailable', status: 503, outcome: 'error' },
    ]);
  });

  const refusals: Array<{ name: string; arrange: (p: FakeV2Proxy) => void; status: number; body: string }> = [
    { name: 'replay', arrange: (p) => (p.replay = true), status: 409, body: 'Replay' },
    { name: 'register down', arrange: (p) => (p.registerDown = true), status: 503, body: 'RegisterUnavailable' },
    { name: 'unsealed stale clock', arrange: (p) => (p.unsealedStale = true), status: 425, body: 'StaleClock' },
    { name: 'token refused (sealed)', arrange: (p) => (p.refuse = { code: 4401, message: 'invalid token' }), status: 401, body: 'invalid token' },
    {
      name: 'LiveKit refused (sealed)',
      arrange: (p) => (p.refuse = { code: 403, message: 'no permissions to access the room' }),
      status: 403,
      body: 'no permissions to access the room',
    },
  ];
  test.each(refusals)('$name → $status', async ({ arrange, status, body }) => {
    const p = await start();
    arrange(p);
    const network = vi.fn((input: RequestInfo | URL, init?: RequestInit) => fetch(input, init));
    const target = { WebSocket: WsWebSocket as unknown as typeof WebSocket, fetch: network as unknown as typeof fetch };
    const uninstall = installPqWebSocket({ target, keyCache: new ServerKeyCache() });
    try {
      const t = token();
      const ws = new target.WebSocket(signalUrl(p, t)) as PqWebSocket;
      expect(ws).toBeInstanceOf(PqWebSocket);
      expect(await outcome(ws)).toMatchObject({ opened: false });
      const res = await target.fetch(`http://${p.origin}/rtc/v1/validate?access_token=${t}`);
      expect(res.status).toBe(status);
      expect(await res.text()).toBe(body);
      // The document went to the network; the validate URL (it holds the token) never did.
      expect(network.mock.calls.map(([u]) => new URL(String(u)).pathname)).toEqual(['/.well-known/volly-pq']);
    } finally {
      uninstall();
    }
  });
});

test('close() while the document is being fetched: one close event, and no upgrade once the fetch returns', async () => {
  const p = await start();
  let release: () => void = () => {};
  const slow: typeof fetch = async (input, init) => {
    await new Promise<void>((r) => {
      release = r;
    });
    return fetch(input, init);
  };
  const ws = new PqWebSocket(signalUrl(p), undefined, options({ fetch: slow }));
  const closes: number[] = [];
  ws.addEventListener('close', (ev) => closes.push((ev as CloseEvent).code));
  await new Promise((r) => setTimeout(r, 20));
  ws.close();
  await expect.poll(() => closes).toEqual([1006]);
  release();
  await new Promise((r) => setTimeout(r, 100));
  expect([closes, p.upgrades.length, ws.readyState]).toEqual([[1006], 0, PqWebSocket.CLOSED]);
});

test('a WebSocket that throws on creation (after the key fetch): error and close, nothing unhandled', async () => {
  const p = await start();
  const Throwing = function WebSocket() {
    throw new SyntaxError('bad subprotocol');
  } as unknown as typeof globalThis.WebSocket;
  const ws = new PqWebSocket(signalUrl(p), undefined, options({ WebSocket: Throwing }));
  expect(await outcome(ws)).toMatchObject({ opened: false, code: CloseCode.Upstream, events: ['error', 'close'] });
  expect(p.documentFetches).toBe(1);
});
