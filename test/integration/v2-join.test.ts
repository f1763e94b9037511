// volly-pq.v2 joins through the real proxy in front of the real LiveKit:
// both static-key algorithms × unbound and bound tokens reach LiveKit (listed
// by RoomService) and relay both ways; the upgrade request carries nothing but
// the first flight; unknown key ids, skewed clocks and key rotation end the
// way PROTOCOL.md v2.4-v2.9 says; v1 keeps working next to v2.

import { closeCodeInfo, getKem, KEM_ALGORITHMS, type KemAlgorithm, v2 } from '@volly/shared';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kemKeyFile } from '../harness/key-files.ts';
import { nothingReachesLiveKit } from '../harness/leaks.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricSum } from '../harness/metrics.ts';
import { connectPq } from '../harness/pq-signal.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { connectV2, fetchServerKeys, joinV2, recordingTee, V2ConnectError } from '../harness/v2-signal.ts';

/** A v2 static key file, as `volly-pq keygen --algorithm <alg> --out` writes it. */
const XWING = kemKeyFile('X-Wing');
const MLKEM = kemKeyFile('ML-KEM-768');
const OLD = kemKeyFile('X-Wing');

let livekit: LiveKitServer;
let proxy: TestProxy;
let keys: v2.ServerStaticKey[];
const keyOf = (algorithm: KemAlgorithm) => keys.find((k) => k.algorithm === algorithm) as v2.ServerStaticKey;

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: `${XWING},${MLKEM}` });
  keys = await fetchServerKeys(proxy.url);
});
afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
});

const rooms = () => new RoomServiceClient(proxy.url, proxy.apiKey, proxy.apiSecret);

describe('GET /.well-known/volly-pq', () => {
  it('lists every static key, the first current, cacheable and readable from any origin', async () => {
    const res = await fetch(`${proxy.url}/.well-known/volly-pq`, { headers: { origin: 'https://app.example' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json');
    expect(res.headers.get('cache-control')).toBe('public, max-age=300');
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(keys.map((k) => k.algorithm)).toEqual(['X-Wing', 'ML-KEM-768']);
    expect(v2.currentKey(keys, Date.now() / 1000)?.algorithm).toBe('X-Wing');
  });
});

describe.each(KEM_ALGORITHMS)('%s static key', (algorithm) => {
  it('unbound join reaches LiveKit, is listed by RoomService, and relays both ways', async () => {
    const room = `v2-unbound-${algorithm}`.replace(/[^a-z0-9-]/gi, '');
    const sig = await connectV2(proxy.wsUrl, await proxy.token(room, 'alice'), { serverKey: keyOf(algorithm) });
    expect(sig.ws.protocol).toBe('volly-pq.v2');
    expect(sig.join.room?.name).toBe(room);
    expect(sig.join.participant?.identity).toBe('alice');
    expect((await rooms().listParticipants(room)).map((p) => p.identity)).toContain('alice');
    // Client → LiveKit and back: a ping answered by LiveKit's pong, through the sealed relay.
    sig.send({ case: 'pingReq', value: { timestamp: 42n, rtt: 0n } });
    expect((await sig.waitFor('pongResp')).lastPingTimestamp).toBe(42n);
    await sig.close();
  });

  it('bound join (bound key of the other algorithm) reaches LiveKit and relays both ways', async () => {
    const room = `v2-bound-${algorithm}`.replace(/[^a-z0-9-]/gi, '');
    // The bound key's algorithm is the other one: a bound key may differ from the session algorithm.
    const boundAlgorithm = algorithm === 'X-Wing' ? 'ML-KEM-768' : 'X-Wing';
    const keyPair = getKem(boundAlgorithm).keygen();
    const token = await proxy.token(room, 'bob', { bind: { algorithm: boundAlgorithm, publicKey: keyPair.publicKey } });
    const sig = await connectV2(proxy.wsUrl, token, { serverKey: keyOf(algorithm), bound: { algorithm: boundAlgorithm, keyPair } });
    expect(sig.join.participant?.identity).toBe('bob');
    expect((await rooms().listParticipants(room)).map((p) => p.identity)).toContain('bob');
    sig.send({ case: 'pingReq', value: { timestamp: 7n, rtt: 0n } });
    expect((await sig.waitFor('pongResp')).lastPingTimestamp).toBe(7n);
    await sig.close();
  });
});

it('a bound token without the bound secret key never reaches LiveKit', async () => {
  const bound = getKem('X-Wing').keygen();
  const token = await proxy.token('v2-stolen', 'mallory', { bind: { algorithm: 'X-Wing', publicKey: bound.publicKey } });
  // The thief holds the token, not the key: its ServerHello has a ct_b it cannot decapsulate.
  const thief = getKem('X-Wing').keygen();
  const err = await nothingReachesLiveKit(proxy, livekit, 'mallory', () =>
    connectV2(proxy.wsUrl, token, {
      serverKey: keyOf('X-Wing'),
      bound: { algorithm: 'X-Wing', keyPair: { secretKey: thief.secretKey, publicKey: bound.publicKey } },
    }).catch((e: unknown) => e),
  );
  expect(err).toBeInstanceOf(V2ConnectError);
});

it('the upgrade request carries only the path and the first flight: no token, LiveKit query or SDP', async () => {
  const tee = await recordingTee(proxy.proxy.port);
  try {
    const token = await proxy.token('v2-wire', 'carol');
    const sig = await connectV2(tee.url, token, { serverKey: keyOf('X-Wing') });
    await sig.close();
    const [head] = tee.heads;
    const [requestLine = '', ...headers] = (head ?? '').split('\r\n');
    expect(requestLine).toMatch(/^GET \/rtc\/v1\?volly_early=[A-Za-z0-9_-]+ HTTP\/1\.1$/);
    expect(head).not.toContain(token);
    expect(head).not.toContain(token.split('.')[1]);
    // Nothing else rides along: only the WebSocket handshake's own headers (names; values are random or fixed).
    const names = headers.map((h) => h.split(':')[0]?.toLowerCase()).sort();
    expect(names).toEqual([
      'connection',
      'host',
      'sec-websocket-extensions',
      'sec-websocket-key',
      'sec-websocket-protocol',
      'sec-websocket-version',
      'upgrade',
    ]);
    const protocolHeader = headers.find((h) => h.toLowerCase().startsWith('sec-websocket-protocol:')) ?? '';
    expect(
      protocolHeader
        .split(':')[1]
        ?.split(',')
        .map((p) => p.trim().split('.').slice(0, 2).join('.')),
    ).toEqual(['volly-pq.v2', 'volly-pq.v2']);
  } finally {
    await tee.close();
  }
});

describe('error fidelity, sealed as in v1', () => {
  it('a token the proxy refuses: a sealed 4401 with the reason; the unsealed close says only the code name', async () => {
    const forged = await new AccessToken('APInot-ours', 'z'.repeat(40), { identity: 'hank' }).toJwt();
    const err = (await nothingReachesLiveKit(proxy, livekit, 'hank', () => connectV2(proxy.wsUrl, forged).catch((e: unknown) => e))) as V2ConnectError;
    expect(err).toBeInstanceOf(V2ConnectError);
    expect(err.code).toBe(4401);
    expect(err.reason).toBe(closeCodeInfo(4401).name);
    expect(err.failure).toMatchObject({ closeCode: 4401, message: 'token signed with an unknown API key' });
  });

  it('LiveKit’s refusal of a token (unbound, dialed at once): sealed 4502 with LiveKit’s HTTP status', async () => {
    const err = (await connectV2(proxy.wsUrl, await proxy.token('v2-nojoin', 'ida', { grant: { roomJoin: false } })).catch(
      (e: unknown) => e,
    )) as V2ConnectError;
    expect(err.code).toBe(4502);
    expect(err.failure?.status).toBe(401);
    expect(err.failure?.message.length).toBeGreaterThan(0);
  });
});

it('an unknown key id: 4421 before anything is dialed; the client refetches the document and joins', async () => {
  const stranger = v2.staticKey('X-Wing', getKem('X-Wing').keygen().publicKey, 2_000_000_000);
  const err = await nothingReachesLiveKit(proxy, livekit, 'dave', async () =>
    connectV2(proxy.wsUrl, await proxy.token('v2-unknown', 'dave'), { serverKey: stranger }).catch((e: unknown) => e),
  );
  expect(err).toMatchObject({ code: 4421, failure: { retry: { kind: 'refetch-keys' } } });
  const { signal, retries } = await joinV2(proxy.wsUrl, await proxy.token('v2-unknown', 'dave'), { serverKey: stranger });
  expect(retries.map((r) => r.code)).toEqual([4421]);
  expect(signal.join.participant?.identity).toBe('dave');
  await signal.close();
});

describe.each([
  ['ahead', 3_600_000],
  ['behind', -3_600_000],
])('a client clock an hour %s', (_name, skew) => {
  it('is refused with a sealed 4425 carrying the server time, nothing dialed; one retry with it joins', async () => {
    const now = () => Date.now() + skew;
    const token = await proxy.token('v2-clock', `erin${skew > 0 ? 'a' : 'b'}`);
    const identity = `erin${skew > 0 ? 'a' : 'b'}`;
    const err = await nothingReachesLiveKit(proxy, livekit, identity, () =>
      connectV2(proxy.wsUrl, token, { serverKey: keyOf('ML-KEM-768'), now }).catch((e: unknown) => e),
    );
    // The server time travels sealed; the unsealed close reason is a fixed name.
    expect(err).toMatchObject({ code: 4425, reason: 'StaleClock', failure: { code: 'ERR_V2_STALE', retry: { kind: 'clock' } } });
    const offset =
      (err as V2ConnectError).failure?.retry?.kind === 'clock' ? (err as { failure: { retry: { clockOffsetMs: number } } }).failure.retry.clockOffsetMs : 0;
    expect(Math.abs(offset + skew)).toBeLessThan(5_000);
    const { signal, retries } = await joinV2(proxy.wsUrl, token, { serverKey: keyOf('ML-KEM-768'), now });
    expect(retries.map((r) => r.code)).toEqual([4425]);
    expect(signal.join.participant?.identity).toBe(identity);
    await signal.close();
  });
});

it('rotation: a flight to the second (old) key joins; once the key is removed it is 4421, and the refetched document works', async () => {
  const both = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: `${XWING},${OLD}` });
  const oldKey = (await fetchServerKeys(both.url))[1] as v2.ServerStaticKey;
  try {
    const sig = await connectV2(both.wsUrl, await both.token('v2-rotate', 'frank'), { serverKey: oldKey });
    expect(sig.join.participant?.identity).toBe('frank');
    await sig.close();
  } finally {
    await both.close();
  }
  const rotated = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: XWING });
  try {
    const err = await connectV2(rotated.wsUrl, await rotated.token('v2-rotate', 'frank'), { serverKey: oldKey }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 4421 });
    const { signal } = await joinV2(rotated.wsUrl, await rotated.token('v2-rotate', 'frank'), { serverKey: oldKey });
    expect(signal.join.participant?.identity).toBe('frank');
    await signal.close();
  } finally {
    await rotated.close();
  }
});

it('v1 and v2 side by side: a v1 client still joins, and metrics tell the protocols apart', async () => {
  const sig = await connectPq(proxy.wsUrl, await proxy.token('v2-side', 'gina'), { path: '/rtc/v1' });
  expect(sig.ws.pq).toMatchObject({ mode: 'in-band' });
  await sig.close();
  await new Promise((r) => setTimeout(r, 200));
  const text = await proxy.metrics();
  expect(metricSum(text, 'volly_sessions_total', 'protocol="v1"')).toBeGreaterThanOrEqual(1);
  expect(metricSum(text, 'volly_sessions_total', 'protocol="v2"')).toBeGreaterThanOrEqual(4);
  expect(metricSum(text, 'volly_handshake_duration_seconds_count', 'protocol="v2"')).toBeGreaterThanOrEqual(4);
  expect(metricSum(text, 'volly_v2_first_flights_total', 'result="unknown_key"')).toBeGreaterThanOrEqual(1);
});
