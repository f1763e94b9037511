// Smoke test of the harness against the real, stock livekit-server: it starts,
// speaks Twirp (RoomService) and signaling (/rtc WebSocket) with a generated
// key, refuses other keys, and runs two nodes against one Redis.

import { SignalRequest, SignalResponse } from '@livekit/protocol';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { WebSocket } from 'ws';
import { type LiveKitServer, liveKitHealthy, startLiveKit } from '../harness/livekit.ts';
import { LIVEKIT_VERSION } from '../harness/livekit-binary.ts';
import { type RedisServer, redisPing, startRedis } from '../harness/redis.ts';
import { connectSignal, SignalHttpError } from '../harness/signal.ts';
import { token } from '../harness/tokens.ts';

describe('stock livekit-server', () => {
  let lk: LiveKitServer;
  let rooms: RoomServiceClient;

  beforeAll(async () => {
    lk = await startLiveKit({ room: { emptyTimeout: 30 } });
    rooms = new RoomServiceClient(lk.url, lk.apiKey, lk.apiSecret);
  });
  afterAll(async () => {
    await lk?.stop();
  });

  it('is the pinned version, built by global setup', async () => {
    expect(inject('livekitVersion')).toBe(LIVEKIT_VERSION);
    expect(inject('livekitBinary')).toBeTruthy();
    const res = await fetch(`${lk.url}/`);
    expect(res.status).toBe(200);
    expect((await res.text()).trim()).toBe('OK');
    expect(lk.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('creates and lists rooms through RoomService', async () => {
    const created = await rooms.createRoom({ name: 'smoke-room', emptyTimeout: 60 });
    expect(created.name).toBe('smoke-room');
    expect(created.sid).toMatch(/^RM_/);
    const listed = await rooms.listRooms();
    expect(listed.map((r) => r.name)).toContain('smoke-room');
  });

  it('joins over the raw /rtc WebSocket and shows the participant', async () => {
    const jwt = await token(lk, 'smoke-room', 'smoke-alice');
    const sig = await connectSignal(lk.wsUrl, jwt);
    try {
      // The first server frame is a SignalResponse{join} naming room and identity.
      const first = sig.received[0];
      expect(first).toBeInstanceOf(SignalResponse);
      expect(first?.message.case).toBe('join');
      expect(sig.join.room?.name).toBe('smoke-room');
      expect(sig.join.participant?.identity).toBe('smoke-alice');
      expect(sig.join.serverInfo?.version).toBe(LIVEKIT_VERSION.replace(/^v/, ''));

      const participants = await rooms.listParticipants('smoke-room');
      expect(participants.map((p) => p.identity)).toContain('smoke-alice');

      // The connection stays usable: a ping gets a pong.
      sig.send(new SignalRequest({ message: { case: 'pingReq', value: { timestamp: BigInt(Date.now()), rtt: 0n } } }));
      const pong = await sig.waitFor('pongResp', 10_000);
      expect(pong.lastPingTimestamp).toBeGreaterThan(0n);
    } finally {
      await sig.close();
    }
  });

  it('joins over /rtc/v1 with a join_request', async () => {
    const jwt = await token(lk, 'smoke-room-v1', 'smoke-bob');
    const sig = await connectSignal(lk.wsUrl, jwt, undefined, { path: '/rtc/v1' });
    try {
      expect(sig.join.room?.name).toBe('smoke-room-v1');
      expect(sig.join.participant?.identity).toBe('smoke-bob');
    } finally {
      await sig.close();
    }
  });

  it('refuses a token signed with another key: HTTP 401 on upgrade and on /rtc/validate', async () => {
    const other = { apiKey: lk.apiKey, apiSecret: 'not-the-secret-not-the-secret-not-the-secret' };
    const jwt = await token(other, 'smoke-room', 'mallory');
    const err = await connectSignal(lk.wsUrl, jwt).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(SignalHttpError);
    expect((err as SignalHttpError).status).toBe(401);
    expect((err as SignalHttpError).body).toMatch(/^invalid token: .*signature is invalid/);

    const res = await fetch(`${lk.url}/rtc/validate?access_token=${jwt}`);
    expect(res.status).toBe(401);
    const good = await fetch(`${lk.url}/rtc/validate?access_token=${await token(lk, 'smoke-room', 'x')}`);
    expect(good.status).toBe(200);
    expect(await good.text()).toBe('success');
  });

  it('restarts on the same port', async () => {
    const pid = lk.pid;
    await lk.restart();
    expect(lk.pid).not.toBe(pid);
    expect(await liveKitHealthy(lk.url)).toBe(true);
    const sig = await connectSignal(lk.wsUrl, await token(lk, 'after-restart', 'carol'));
    expect(sig.join.participant?.identity).toBe('carol');
    await sig.close();
  });
});

describe('multi-node livekit-server with Redis', () => {
  let redis: RedisServer;
  const nodes: LiveKitServer[] = [];

  beforeAll(async () => {
    redis = await startRedis();
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.stop()));
    await redis?.stop();
  });

  it('brings up two nodes sharing one Redis, on distinct ports', async () => {
    const a = await startLiveKit({ redis });
    nodes.push(a);
    const b = await startLiveKit({ redis, apiKey: a.apiKey, apiSecret: a.apiSecret });
    nodes.push(b);
    expect(await redisPing(redis.host, redis.port)).toBe(true);
    for (const n of nodes) expect(await liveKitHealthy(n.url)).toBe(true);

    const ports = nodes.flatMap((n) => [n.port, n.rtcTcpPort, n.udpPort]);
    expect(new Set(ports).size).toBe(ports.length);

    // A room created on one node is visible through the other (shared state in Redis).
    await new RoomServiceClient(a.url, a.apiKey, a.apiSecret).createRoom({ name: 'shared-room' });
    const seen = await new RoomServiceClient(b.url, b.apiKey, b.apiSecret).listRooms();
    expect(seen.map((r) => r.name)).toContain('shared-room');

    // Signaling works on both nodes.
    for (const [i, n] of nodes.entries()) {
      const sig = await connectSignal(n.wsUrl, await token(n, 'shared-room', `node-${i}`));
      expect(sig.join.room?.name).toBe('shared-room');
      await sig.close();
    }
  });
});

describe('harness process hygiene', () => {
  it('stop() leaves nothing listening', async () => {
    const lk = await startLiveKit({ logLevel: 'warn' });
    await lk.stop();
    expect(lk.running()).toBe(false);
    expect(await liveKitHealthy(lk.url)).toBe(false);
    const ws = new WebSocket(`${lk.wsUrl}/rtc`);
    const outcome = await new Promise<string>((resolve) => {
      ws.once('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? 'error'));
      ws.once('open', () => resolve('open'));
    });
    expect(outcome).toBe('ECONNREFUSED');
  });
});
