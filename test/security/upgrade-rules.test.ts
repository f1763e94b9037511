// The v1 upgrade and early-frame rules against the real LiveKit (audit items
// of issue 12): everything LiveKit sees comes from sealed data, frames sent
// with VollyConnect in one write are relayed in order, a text frame queued
// before the relay still ends the session, token-bound clients need their
// replay guard, and once keys exist no detail travels unsealed.

import { ParticipantInfo_State, Ping, type SignalRequest } from '@livekit/protocol';
import { CloseCode, decodeResponse, getKem } from '@volly/shared';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nothingReachesLiveKit } from '../harness/leaks.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { openRawPq, type RawPq, startRawPq } from '../harness/raw-pq.ts';
import { encodeJoinRequest } from '../harness/signal.ts';

let livekit: LiveKitServer;
let proxy: TestProxy;
let lenient: TestProxy;
let direct: RoomServiceClient;

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit);
  lenient = await startTestProxy(livekit, { VOLLY_V1_ALLOW_MISSING_SID: '1' });
  direct = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
});
afterAll(async () => {
  await proxy?.close();
  await lenient?.close();
  await livekit?.stop();
});

let n = 0;
const roomName = (what: string) => `up-${what}-${++n}-${Date.now().toString(36)}`;
/** LiveKit answers a PingReq with a PongResp echoing its timestamp: the order of the answers is the order LiveKit got them. */
const ping = (i: number): SignalRequest['message'] => ({ case: 'pingReq', value: new Ping({ timestamp: BigInt(1000 + i) }) });
const pongs = (raw: RawPq) => raw.messages.flatMap((m) => (m.message.case === 'pongResp' ? [Number(m.message.value.lastPingTimestamp)] : []));
const bound = (alg: 'ML-KEM-768' | 'X-Wing') => {
  const keyPair = getKem(alg).keygen();
  return { keyPair, bind: { algorithm: alg, publicKey: keyPair.publicKey } };
};
const listed = async (room: string) => (await direct.listParticipants(room).catch(() => [])).filter((p) => p.state !== ParticipantInfo_State.DISCONNECTED);

describe('early frames pipelined with VollyConnect', () => {
  it.each(['in-band', 'token-bound'] as const)('%s: 20 sessions × (connect + 5 sealed pings in one TCP write) all get 5 pongs, in order', async (flow) => {
    for (let i = 0; i < 20; i++) {
      const room = roomName('early');
      const b = flow === 'token-bound' ? bound('ML-KEM-768') : undefined;
      const raw = await openRawPq(proxy.wsUrl, await proxy.token(room, `early-${i}`, b ? { bind: b.bind } : {}), {
        ...(b ? { keyPair: b.keyPair } : {}),
        early: [0, 1, 2, 3, 4].map(ping),
      });
      await raw.waitFor(() => pongs(raw).length === 5, 10_000);
      expect(pongs(raw)).toEqual([1000, 1001, 1002, 1003, 1004]);
      raw.ws.close();
    }
  });

  it('16 early frames are relayed; a 17th before LiveKit answers ends the session with 4400', async () => {
    const room = roomName('many');
    const ok = await openRawPq(proxy.wsUrl, await proxy.token(room, 'sixteen'), { early: Array.from({ length: 16 }, (_, i) => ping(i)) });
    await ok.waitFor(() => pongs(ok).length === 16, 10_000);
    expect(pongs(ok)).toEqual(Array.from({ length: 16 }, (_, i) => 1000 + i));
    ok.ws.close();
    const raw = startRawPq(proxy.wsUrl, await proxy.token(room, 'seventeen'), { early: Array.from({ length: 17 }, (_, i) => ping(i)) });
    expect((await raw.closed).code).toBe(CloseCode.Malformed);
  });

  it('a text frame queued with VollyConnect keeps its type: 4400, and not one frame reaches LiveKit', async () => {
    const room = roomName('text');
    const { code } = await nothingReachesLiveKit(
      proxy,
      livekit,
      'texter',
      async () => {
        const raw = startRawPq(proxy.wsUrl, await proxy.token(room, 'texter'), { early: [ping(0), 'a text frame'] });
        return raw.closed;
      },
      // The dial happens (the connect was good) and the ping before the text frame is relayed; the text frame is not.
      { dials: 1, frames: 1, sessions: 1 },
    );
    expect(code).toBe(CloseCode.Malformed);
  });
});

describe('the upgrade URL only routes', () => {
  const evil = encodeJoinRequest({ metadata: 'SET-BY-MITM', participantAttributes: { role: 'injected' } });

  it('a sealed /rtc/v1 join_request is what LiveKit records', async () => {
    const room = roomName('sealed');
    const t = await proxy.token(room, 'honest', { grant: { canUpdateOwnMetadata: true } });
    const raw = await openRawPq(proxy.wsUrl, t, { path: '/rtc/v1', joinRequest: { metadata: 'sealed-meta' } });
    const [p] = await listed(room);
    expect(p?.metadata).toBe('sealed-meta');
    raw.ws.close();
  });

  it.each([
    ['in-band', { join_request: evil }],
    ['in-band', { access_token: 'x', metadata: 'x' }],
    ['token-bound', { join_request: evil }],
    ['token-bound', { auto_subscribe: '0' }],
  ] as const)('%s with %j appended by an on-path attacker: 4400 before anything is dialed', async (flow, urlQuery) => {
    const room = roomName('inject');
    const b = flow === 'token-bound' ? bound('X-Wing') : undefined;
    const t = await proxy.token(room, 'victim', { grant: { canUpdateOwnMetadata: true }, ...(b ? { bind: b.bind } : {}) });
    const { code, first } = await nothingReachesLiveKit(proxy, livekit, 'victim', async () => {
      const raw = startRawPq(proxy.wsUrl, t, { path: '/rtc/v1', urlQuery, ...(b ? { keyPair: b.keyPair } : {}) });
      const closed = await raw.closed;
      return { code: closed.code, first: raw.received[0] };
    });
    expect(code).toBe(CloseCode.Malformed);
    expect(decodeResponse(first as Uint8Array)).toMatchObject({
      success: false,
      error: expect.stringMatching(/upgrade URL|token-bound|bound to a post-quantum key/),
    });
    expect(await listed(room)).toEqual([]);
  });

  it('a plain (unbound) token in the URL is refused: it belongs sealed in VollyConnect', async () => {
    const room = roomName('plain-url');
    const raw = startRawPq(proxy.wsUrl, await proxy.token(room, 'plain'), { urlQuery: { access_token: await proxy.token(room, 'plain') } });
    expect((await raw.closed).code).toBe(CloseCode.Malformed);
    expect(decodeResponse(raw.received[0] as Uint8Array).error).toMatch(/must be bound/);
  });
});

describe('token-bound replay guard (volly_sid)', () => {
  const sidMetric = async (p: TestProxy, result: string) =>
    Number(
      (await p.metrics())
        .split('\n')
        .find((l) => l.startsWith(`volly_v1_missing_sid_total{result="${result}"}`))
        ?.split(' ')
        .pop() ?? 0,
    );

  it('without volly_sid: refused with 4400 by default and counted', async () => {
    const room = roomName('nosid');
    const b = bound('ML-KEM-768');
    const before = await sidMetric(proxy, 'refused');
    const raw = startRawPq(proxy.wsUrl, await proxy.token(room, 'old-client', { bind: b.bind }), { keyPair: b.keyPair, omitSessionId: true });
    expect((await raw.closed).code).toBe(CloseCode.Malformed);
    expect(await sidMetric(proxy, 'refused')).toBe(before + 1);
  });

  it('VOLLY_V1_ALLOW_MISSING_SID admits old clients, counted', async () => {
    const room = roomName('nosid-ok');
    const b = bound('ML-KEM-768');
    const raw = await openRawPq(lenient.wsUrl, await lenient.token(room, 'old-client', { bind: b.bind }), { keyPair: b.keyPair, omitSessionId: true });
    expect(await sidMetric(lenient, 'admitted')).toBe(1);
    raw.ws.close();
  });
});

describe('close reasons once keys exist', () => {
  it('LiveKit’s refusal: the unsealed reason is only the code’s name; status and LiveKit’s text come sealed', async () => {
    const room = roomName('refused');
    const raw = startRawPq(proxy.wsUrl, await proxy.token(room, 'no-join', { grant: { roomJoin: false } }));
    const closed = await raw.closed;
    expect(closed).toEqual({ code: CloseCode.Upstream, reason: 'Upstream' });
    expect(raw.failure()).toMatchObject({ closeCode: CloseCode.Upstream, status: 401, message: expect.stringMatching(/permission|not allowed|join/i) });
  });
});
