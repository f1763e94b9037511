// volly-pq.v2 first flights the proxy must refuse before anything reaches
// LiveKit (PROTOCOL.md v2.2, v2.4): a URL path other than the sealed one, a
// URL with anything besides volly_early, a flipped byte in the early frame or
// the ClientHello, no ClientHello at all, and a bound token whose key is never
// proved (4408). Plus routing: both subprotocols offered → v2; a proxy without
// a KEM key publishes no document and refuses a v2-only upgrade; one serving
// only v2 refuses v1 upgrades.

import { getKem, type Kem, SUBPROTOCOL, v2 } from '@volly/shared';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { kemKeyFile } from '../harness/key-files.ts';
import { nothingReachesLiveKit } from '../harness/leaks.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricValue } from '../harness/metrics.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { connectSignal } from '../harness/signal.ts';
import { connectV2, flightUrl, newFlight, replayFlight, type V2Options } from '../harness/v2-signal.ts';

const KEY = kemKeyFile('ML-KEM-768');

let livekit: LiveKitServer;
let proxy: TestProxy;

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: KEY, VOLLY_HANDSHAKE_TIMEOUT_MS: '1000' });
});
afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
});

/** One base64url character changed at `at` (from the end when negative): a flipped byte on the wire. */
const flip = (b64: string, at: number): string => {
  const i = at < 0 ? b64.length + at : at;
  return b64.slice(0, i) + (b64[i] === 'A' ? 'B' : 'A') + b64.slice(i + 1);
};

describe('refused with 4400 before anything is dialed or registered', () => {
  const cases: Array<[string, (f: v2.ClientFirstFlight, path: string) => { path: string; query: string; protocols: string[] }]> = [
    ['the URL path differs from the sealed path', (f) => ({ path: '/rtc', query: f.query, protocols: [...f.protocols] })],
    ['a parameter appended to the URL', (f, path) => ({ path, query: `${f.query}&access_token=x`, protocols: [...f.protocols] })],
    ['a flipped byte in the early frame', (f, path) => ({ path, query: flip(f.query, -20), protocols: [...f.protocols] })],
    ['a flipped byte in the ClientHello', (f, path) => ({ path, query: f.query, protocols: [f.protocols[0], flip(f.protocols[1], 400)] })],
    ['no ClientHello subprotocol', (f, path) => ({ path, query: f.query, protocols: [f.protocols[0]] })],
  ];
  it.each(cases)('%s', async (_name, alter) => {
    const { flight, path } = await newFlight(proxy.wsUrl, await proxy.token('v2-refused', 'mallory'));
    const sent = alter(flight, path);
    const out = await nothingReachesLiveKit(proxy, livekit, 'mallory', () => replayFlight(proxy.wsUrl, sent.path, sent));
    expect(out).toMatchObject({ code: 4400, received: 0 });
  });
});

describe('an ephemeral key (pk_e) that is no encapsulation key: 4400, never a 500, nothing dialed or registered', () => {
  /** ML-KEM-768 whose key generation yields a public key failing the FIPS 203 modulus check (first coefficient 4095 >= q). */
  const badEphemeral = (): Kem => {
    const kem = getKem('ML-KEM-768');
    return {
      ...kem,
      keygen(seed) {
        const pair = kem.keygen(seed);
        const publicKey = pair.publicKey.slice();
        publicKey[0] = 0xff;
        publicKey[1] = (publicKey[1] ?? 0) | 0x0f;
        return { publicKey, secretKey: pair.secretKey };
      },
    };
  };
  const cases: Array<[string, () => Promise<string>, Partial<V2Options>]> = [
    ['with a valid token', () => proxy.token('v2-bad-pke', 'mallory'), {}],
    ['with a refused token (the sealed refusal needs pk_e too)', async () => 'not-a-token', {}],
    ['with a stale clock (so does the stale-clock reply)', () => proxy.token('v2-bad-pke', 'mallory'), { clockOffsetMs: 600_000 }],
  ];
  it.each(cases)('%s', async (_name, token, extra) => {
    const malformed = async () => metricValue(await proxy.metrics(), 'volly_v2_first_flights_total', { result: 'malformed' });
    const before = await malformed();
    const { flight, path } = await newFlight(proxy.wsUrl, await token(), { kem: badEphemeral(), ...extra });
    const out = await nothingReachesLiveKit(proxy, livekit, 'mallory', () => replayFlight(proxy.wsUrl, path, flight));
    expect(out).toMatchObject({ code: 4400, received: 0 });
    expect(await malformed()).toBe(before + 1);
  });
});

it('a token bound to a key that is no encapsulation key: sealed 4401 after the ServerHello, nothing dialed', async () => {
  const bad = getKem('ML-KEM-768').keygen().publicKey.slice();
  bad[0] = 0xff;
  bad[1] = (bad[1] ?? 0) | 0x0f; // first coefficient 4095 >= q: fails the FIPS 203 modulus check
  const token = await proxy.token('v2-bad-bound', 'mallory', { bind: { algorithm: 'ML-KEM-768', publicKey: bad } });
  const { flight, path } = await newFlight(proxy.wsUrl, token);
  const out = await nothingReachesLiveKit(proxy, livekit, 'mallory', () => replayFlight(proxy.wsUrl, path, flight));
  expect(out).toMatchObject({ code: 4401, received: 2 }); // ServerHello, sealed error
});

it('a bound token whose key is never proved: ServerHello, then 4408 at the handshake timeout, LiveKit never dialed', async () => {
  const keyPair = getKem('X-Wing').keygen();
  const token = await proxy.token('v2-unproved', 'oscar', { bind: { algorithm: 'X-Wing', publicKey: keyPair.publicKey } });
  const { flight, path } = await newFlight(proxy.wsUrl, token, { bound: { algorithm: 'X-Wing', keyPair } });
  // Sent as a replayer would: the ServerHello arrives, the key confirmation never does.
  const out = await nothingReachesLiveKit(proxy, livekit, 'oscar', () => replayFlight(proxy.wsUrl, path, flight));
  expect(out).toMatchObject({ code: 4408 });
  expect(out.received).toBeGreaterThanOrEqual(1);
});

it('a client gone right after the ServerHello: the LiveKit socket dialed for it is closed, no participant lingers', async () => {
  const room = 'v2-gone';
  const { flight, path } = await newFlight(proxy.wsUrl, await proxy.token(room, 'tess'));
  const ws = new WebSocket(flightUrl(proxy.wsUrl, path, flight), [...flight.protocols]);
  await new Promise((resolve) => ws.once('message', resolve));
  ws.terminate();
  const svc = new RoomServiceClient(proxy.url, proxy.apiKey, proxy.apiSecret);
  const until = Date.now() + 5_000;
  let people = await svc.listParticipants(room).catch(() => []);
  while (people.length > 0 && Date.now() < until) {
    await new Promise((r) => setTimeout(r, 200));
    people = await svc.listParticipants(room).catch(() => []);
  }
  expect(people.map((p) => p.identity)).toEqual([]);
});

it('offered both volly-pq.v2 and volly-pq.v1: the proxy answers v2', async () => {
  const { flight, path } = await newFlight(proxy.wsUrl, await proxy.token('v2-both', 'pat'));
  const ws = new WebSocket(flightUrl(proxy.wsUrl, path, flight), [SUBPROTOCOL, ...flight.protocols]);
  const first = await new Promise<Buffer>((resolve, reject) => {
    ws.once('message', resolve);
    ws.once('close', (code) => reject(new Error(`closed ${code}`)));
  });
  expect(ws.protocol).toBe('volly-pq.v2');
  // The ServerHello: version 2, unbound, then ct_e.
  expect([first[0], first[1], first.length]).toEqual([0x02, 0x00, 2 + v2.KEM_SIZES['ML-KEM-768'].ciphertext]);
  ws.terminate();
});

/** The HTTP status of a refused upgrade offering `protocols`. */
function upgradeStatus(url: string, protocols: string[]): Promise<number> {
  const ws = new WebSocket(url, protocols);
  ws.on('error', () => {});
  return new Promise((resolve) => {
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => {
      ws.terminate();
      resolve(101);
    });
  });
}

it('VOLLY_PROTOCOLS=v2: volly-pq.v1 upgrades are refused with 403, v2 and classical joins go on', async () => {
  const only = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: KEY, VOLLY_PROTOCOLS: 'v2' });
  try {
    expect(await upgradeStatus(`${only.wsUrl}/rtc/v1`, [SUBPROTOCOL])).toBe(403);
    const sig = await connectV2(only.wsUrl, await only.token('v2-only', 'rita'));
    expect(sig.join.participant?.identity).toBe('rita');
    await sig.close();
    const classical = await connectSignal(only.wsUrl, await only.token('v2-only', 'sam'));
    expect(classical.join.participant?.identity).toBe('sam');
    await classical.close();
  } finally {
    await only.close();
  }
});

describe('a proxy with no KEM key', () => {
  let plain: TestProxy;
  beforeAll(async () => {
    plain = await startTestProxy(livekit);
  });
  afterAll(() => plain?.close());

  it('publishes no key document and refuses a v2-only upgrade with 403', async () => {
    expect((await fetch(`${plain.url}/.well-known/volly-pq`)).status).toBe(404);
    const { flight, path } = await newFlight(proxy.wsUrl, await proxy.token('v2-none', 'quinn'));
    expect(await upgradeStatus(flightUrl(plain.wsUrl, path, flight), [...flight.protocols])).toBe(403);
  });
});
