// A recorded volly-pq.v2 first flight, replayed — to the same proxy and to a
// second proxy sharing the Redis register — never reaches LiveKit, and the
// real participant stays connected. With Redis stopped or hung, v2 first
// flights are refused with 4503 (fail closed) while v1 and classical joins
// go on. Real LiveKit, real Redis, two real proxies.

import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kemKeyFile } from '../harness/key-files.ts';
import { nothingReachesLiveKit } from '../harness/leaks.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricSum } from '../harness/metrics.ts';
import { connectPq } from '../harness/pq-signal.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { type RedisServer, startRedis } from '../harness/redis.ts';
import { connectSignal } from '../harness/signal.ts';
import { connectV2, replayFlight, type V2Signal } from '../harness/v2-signal.ts';

const KEY = kemKeyFile();

let livekit: LiveKitServer;
let redis: RedisServer;
let a: TestProxy;
let b: TestProxy;
let alone: TestProxy;

beforeAll(async () => {
  [livekit, redis] = await Promise.all([startLiveKit(), startRedis()]);
  const shared = { VOLLY_SERVER_KEYS: KEY, VOLLY_REDIS_URL: `redis://${redis.address}` };
  a = await startTestProxy(livekit, shared);
  b = await startTestProxy(livekit, shared);
  alone = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: KEY });
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close(), alone?.close()]);
  await Promise.all([livekit?.stop(), redis?.stop()]);
});

/** The real participant still relays: a ping through its sealed session is answered, and RoomService lists it. */
async function stillConnected(sig: V2Signal, proxy: TestProxy, room: string, identity: string): Promise<void> {
  sig.send({ case: 'pingReq', value: { timestamp: 99n, rtt: 0n } });
  expect((await sig.waitFor('pongResp')).lastPingTimestamp).toBe(99n);
  const people = await new RoomServiceClient(proxy.url, proxy.apiKey, proxy.apiSecret).listParticipants(room);
  expect(people.map((p) => p.identity)).toContain(identity);
}

describe('a replayed first flight', () => {
  it('to the same proxy and to a second proxy sharing Redis: 4409, nothing reaches LiveKit, the participant stays', async () => {
    const sig = await connectV2(a.wsUrl, await a.token('replay-redis', 'alice'));
    expect(sig.join.participant?.identity).toBe('alice');
    for (const target of [a, b]) {
      const replay = await nothingReachesLiveKit(target, livekit, 'alice', () => replayFlight(target.wsUrl, '/rtc/v1', sig.flight));
      // Unsealed and before any reply: the replayer gets no ServerHello to work on.
      expect(replay).toEqual({ code: 4409, reason: 'session id already used', received: 0 });
    }
    await stillConnected(sig, a, 'replay-redis', 'alice');
    expect(metricSum(await b.metrics(), 'volly_v2_first_flights_total', 'result="replay"')).toBe(1);
    await sig.close();
  });

  it('to a proxy with the in-memory register: 4409, nothing reaches LiveKit, the participant stays', async () => {
    const sig = await connectV2(alone.wsUrl, await alone.token('replay-memory', 'bob'));
    const replay = await nothingReachesLiveKit(alone, livekit, 'bob', () => replayFlight(alone.wsUrl, '/rtc/v1', sig.flight));
    expect(replay.code).toBe(4409);
    await stillConnected(sig, alone, 'replay-memory', 'bob');
    await sig.close();
  });
});

describe('the register fails closed', () => {
  it('Redis stopped: v2 first flights get 4503 and reach nothing, v1 and classical still join; back up, v2 joins', async () => {
    await redis.stop();
    try {
      const err = await nothingReachesLiveKit(a, livekit, 'carol', async () =>
        connectV2(a.wsUrl, await a.token('redis-down', 'carol')).catch((e: unknown) => e),
      );
      expect(err).toMatchObject({ code: 4503 });
      const v1 = await connectPq(a.wsUrl, await a.token('redis-down', 'dave'), { path: '/rtc/v1' });
      expect(v1.join.participant?.identity).toBe('dave');
      await v1.close();
      const classical = await connectSignal(a.wsUrl, await a.token('redis-down', 'erin'));
      expect(classical.join.participant?.identity).toBe('erin');
      await classical.close();
    } finally {
      await redis.restart();
    }
    // ioredis reconnects on its own (retry every ≤ 2 s): the next flights are served again.
    const until = Date.now() + 10_000;
    for (;;) {
      const sig = await connectV2(a.wsUrl, await a.token('redis-back', 'carol')).catch((e: unknown) => e);
      if (!(sig instanceof Error)) {
        expect((sig as V2Signal).join.participant?.identity).toBe('carol');
        await (sig as V2Signal).close();
        break;
      }
      expect(sig).toMatchObject({ code: 4503 });
      if (Date.now() > until) throw sig;
      await new Promise((r) => setTimeout(r, 250));
    }
  });

  it('Redis hung (SIGSTOP): refused with 4503 within the register timeout, not left waiting', async () => {
    redis.kill('SIGSTOP');
    try {
      const started = Date.now();
      const err = await nothingReachesLiveKit(b, livekit, 'frank', async () =>
        connectV2(b.wsUrl, await b.token('redis-hung', 'frank')).catch((e: unknown) => e),
      );
      expect(err).toMatchObject({ code: 4503 });
      expect(Date.now() - started).toBeLessThan(3_000);
    } finally {
      redis.kill('SIGCONT');
    }
  });
});
