// Faults around the proxy, each against real servers:
// - LiveKit SIGKILLed mid-session and restarted: the proxy stays up, the live
//   sealed session ends with 4502 (sealed error first), /readyz goes 503 and
//   back to 200, joins in between fail with 4502, joins after succeed again;
// - Redis restarted under two LiveKit nodes with a proxy each: joins through
//   both proxies work again afterwards and meet in one room;
// - the proxy (a child process) SIGKILLed and started again on its ports:
//   clients see the drop, come back, and LiveKit keeps one participant each;
// - a client that stops reading while LiveKit pushes tens of MB at it: the
//   proxy stops reading LiveKit (its upstream socket's kernel receive queue
//   fills), relays no more than its buffer limit plus socket buffers, and its
//   RSS stays bounded; the client resumes when it reads again, and one that
//   never reads again is ended by the idle timeout.

import { readFileSync } from 'node:fs';
import type { SignalRequest, SignalResponse } from '@livekit/protocol';
import { CloseCode } from '@volly/shared';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildProxy, startChildProxy } from '../harness/child-proxy.ts';
import { generateApiKeyPair, type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { connectPq, PqConnectError } from '../harness/pq-signal.ts';
import { waitFor } from '../harness/process.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { openRawPq } from '../harness/raw-pq.ts';
import { type RedisServer, startRedis } from '../harness/redis.ts';
import { token } from '../harness/tokens.ts';
import { upstreamRecvQueue } from './lib/procnet.ts';

const log = (line: string) => process.stderr.write(`[faults] ${line}\n`);
const mib = (n: number) => `${(n / 1024 / 1024).toFixed(1)} MiB`;

/** A LiveKit and a proxy (child process) in front of it for one describe block. */
function withLiveKitAndProxy(env: Record<string, string> = {}): { livekit: LiveKitServer; proxy: ChildProxy } {
  const it = {} as { livekit: LiveKitServer; proxy: ChildProxy };
  beforeAll(async () => {
    it.livekit = await startLiveKit({ logLevel: 'warn' });
    it.proxy = await startChildProxy(it.livekit, { env });
  });
  afterAll(async () => {
    await it.proxy?.stop();
    await it.livekit?.stop();
  });
  return it;
}

const pingReq = (): SignalRequest['message'] => ({ case: 'pingReq', value: { timestamp: BigInt(Date.now()), rtt: 0n } as never });

describe('LiveKit killed and restarted mid-session', () => {
  const servers = withLiveKitAndProxy();

  it('a proxy just started in front of a live LiveKit answers its first /readyz with 200', async () => {
    const { livekit } = servers;
    // The first ask comes as soon as the admin port answers, well within a
    // second of the process start (the readiness cache once took that for
    // "checked: not ready").
    const fresh = await startChildProxy(livekit, { noWait: true, inspect: false });
    try {
      let first = 0;
      await waitFor(
        'the admin port to answer',
        async () => {
          first = (await fetch(`${fresh.adminUrl}/readyz`)).status;
          return true;
        },
        { timeoutMs: 20_000, intervalMs: 10, proc: fresh.proc },
      );
      expect(first).toBe(200);
    } finally {
      await fresh.stop();
    }
  });

  it('the proxy stays up, the live session ends 4502, /readyz flips 503 and back, and clients rejoin', async () => {
    const { livekit, proxy } = servers;
    const room = 'lk-crash';
    const raw = await openRawPq(proxy.wsUrl, await token(proxy, room, 'raw'));
    const sig = await connectPq(proxy.wsUrl, await token(proxy, room, 'pq'));
    expect(await proxy.readyz()).toBe(200);

    const t0 = performance.now();
    livekit.kill('SIGKILL');
    await livekit.process.exited;
    // LiveKit's drop becomes 4502, after a sealed error the client can read.
    const rawClosed = await raw.closed;
    expect(rawClosed.code).toBe(CloseCode.Upstream);
    expect(raw.session.state).not.toBe('open');
    expect((await sig.closed).code).toBe(CloseCode.Upstream);
    await waitFor('/readyz to fail', async () => (await proxy.readyz()) === 503, { timeoutMs: 5_000, intervalMs: 100 });
    const downAfter = performance.now() - t0;
    // A join meanwhile is refused with 4502 (LiveKit unreachable), the proxy still serves.
    const refused = await connectPq(proxy.wsUrl, await token(proxy, room, 'meanwhile')).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(PqConnectError);
    expect((refused as PqConnectError).code).toBe(CloseCode.Upstream);
    expect((await fetch(`${proxy.adminUrl}/healthz`)).status).toBe(200);
    expect(proxy.proc.running()).toBe(true);

    const t1 = performance.now();
    await livekit.restart();
    await waitFor('/readyz to recover', async () => (await proxy.readyz()) === 200, { timeoutMs: 10_000, intervalMs: 100 });
    const upAfter = performance.now() - t1;
    // The clients come back with the tokens they had: fresh joins, same identities.
    const raw2 = await openRawPq(proxy.wsUrl, await token(proxy, room, 'raw'));
    const sig2 = await connectPq(proxy.wsUrl, await token(proxy, room, 'pq'));
    expect(sig2.join.participant?.identity).toBe('pq');
    expect(sig2.join.otherParticipants.map((p) => p.identity)).toContain('raw');
    raw2.send(pingReq());
    await raw2.waitFor((m) => m.message.case === 'pongResp');
    expect(proxy.proc.running()).toBe(true);
    log(
      `LiveKit SIGKILL: sessions closed 4502 (${rawClosed.reason}); /readyz 503 after ${downAfter.toFixed(0)} ms; 200 again ${upAfter.toFixed(0)} ms after the restart began; rejoin ok`,
    );
    raw2.ws.close();
    await sig2.close();
  });
});

describe('Redis restarted under two LiveKit nodes, a proxy each', () => {
  let redis: RedisServer;
  let nodes: LiveKitServer[] = [];
  let proxies: TestProxy[] = [];
  const upstream = generateApiKeyPair();
  const client = generateApiKeyPair();
  beforeAll(async () => {
    redis = await startRedis();
    nodes = await Promise.all([0, 1].map(() => startLiveKit({ redis, ...upstream, logLevel: 'warn' })));
    proxies = await Promise.all(nodes.map((n) => startTestProxy(n, { LIVEKIT_KEYS: `${client.apiKey}: ${client.apiSecret}` })));
  });
  afterAll(async () => {
    for (const p of proxies) await p.close().catch(() => {});
    for (const n of nodes) await n.stop().catch(() => {});
    await redis?.stop();
  });

  it('joins through both proxies meet in one room again after the restart', async () => {
    const [p1, p2] = proxies as [TestProxy, TestProxy];
    const before1 = await connectPq(p1.wsUrl, await token(client, 'redis-before', 'one'));
    const before2 = await connectPq(p2.wsUrl, await token(client, 'redis-before', 'two'));
    expect(before2.join.otherParticipants.map((p) => p.identity)).toContain('one');

    const t0 = performance.now();
    await redis.restart();
    const restartMs = performance.now() - t0;
    // What the sessions that were live saw (they are not asserted on: LiveKit's call).
    const fate = async (s: typeof before1) => {
      const c = await Promise.race([s.closed, new Promise<undefined>((r) => setTimeout(() => r(undefined), 1_000))]);
      return c ? `closed ${c.code}` : 'open';
    };
    const fates = [await fate(before1), await fate(before2)];

    // New joins through both proxies: retried (bounded) while the nodes find Redis again.
    let attempts = 0;
    const t1 = performance.now();
    let one: Awaited<ReturnType<typeof connectPq>> | undefined;
    let two: Awaited<ReturnType<typeof connectPq>> | undefined;
    await waitFor(
      'joins through both proxies to meet after the Redis restart',
      async () => {
        attempts++;
        const room = `redis-after-${attempts}`;
        one = await connectPq(p1.wsUrl, await token(client, room, 'one'), { timeoutMs: 5_000 });
        try {
          two = await connectPq(p2.wsUrl, await token(client, room, 'two'), { timeoutMs: 5_000 });
        } catch (err) {
          await one.close();
          throw err;
        }
        return true;
      },
      { timeoutMs: 30_000, intervalMs: 250 },
    );
    const recoverMs = performance.now() - t1;
    expect(two?.join.otherParticipants.map((p) => p.identity)).toContain('one');
    const svc = new RoomServiceClient(nodes[0]!.url, upstream.apiKey, upstream.apiSecret);
    expect((await svc.listParticipants(`redis-after-${attempts}`)).map((p) => p.identity).sort()).toEqual(['one', 'two']);
    expect((await fetch(`${p1.adminUrl}/readyz`)).status).toBe(200);
    expect((await fetch(`${p2.adminUrl}/readyz`)).status).toBe(200);
    log(
      `Redis restart (${restartMs.toFixed(0)} ms): live sessions ${fates.join(', ')}; joins through both proxies met again after ${recoverMs.toFixed(0)} ms (${attempts} attempt(s))`,
    );
    await one?.close();
    await two?.close();
    for (const s of [before1, before2]) s.ws.close();
  });
});

describe('the proxy SIGKILLed and restarted (child process)', () => {
  const servers = withLiveKitAndProxy();

  it('clients see the drop, come back through the restarted proxy, and LiveKit keeps one participant each', async () => {
    const { livekit, proxy } = servers;
    const room = 'proxy-crash';
    const raw = await openRawPq(proxy.wsUrl, await token(proxy, room, 'raw'));
    const sig = await connectPq(proxy.wsUrl, await token(proxy, room, 'pq'));
    const oldPid = proxy.pid;
    const t0 = performance.now();
    proxy.kill('SIGKILL');
    expect((await proxy.proc.exited).signal).toBe('SIGKILL');
    // No close frame can come from a killed process: 1006 at the client.
    expect((await raw.closed).code).toBe(1006);
    expect((await sig.closed).code).toBe(1006);
    const refused = await connectPq(proxy.wsUrl, await token(proxy, room, 'meanwhile'), { timeoutMs: 3_000 }).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(Error);

    await proxy.restart();
    expect(proxy.pid).not.toBe(oldPid);
    await waitFor('/readyz 200 from the new proxy', async () => (await proxy.readyz()) === 200, { timeoutMs: 10_000 });
    const back = performance.now() - t0;
    const raw2 = await openRawPq(proxy.wsUrl, await token(proxy, room, 'raw'));
    const sig2 = await connectPq(proxy.wsUrl, await token(proxy, room, 'pq'));
    expect(sig2.join.participant?.identity).toBe('pq');
    raw2.send(pingReq());
    await raw2.waitFor((m) => m.message.case === 'pongResp');
    // LiveKit let the dropped sessions go (or replaced them): one of each identity.
    const svc = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
    await expect.poll(async () => (await svc.listParticipants(room)).map((p) => p.identity).sort(), { timeout: 15_000, interval: 250 }).toEqual(['pq', 'raw']);
    log(`proxy SIGKILL: clients closed 1006; restarted and ready ${back.toFixed(0)} ms after the kill; rejoin ok`);
    raw2.ws.close();
    await sig2.close();
  });
});

interface Held {
  /** RSS after a full GC (bytes). */
  rss: number;
  /** V8 heap used + external memory (Buffers) after a full GC: what the proxy still holds. */
  live: number;
}

async function held(p: ChildProxy): Promise<Held> {
  const rss = (await p.rssAfterGcKiB()) * 1024;
  const m = await p.metrics();
  return { rss, live: (m.get('volly_nodejs_heap_size_used_bytes') ?? Number.NaN) + (m.get('volly_nodejs_external_memory_bytes') ?? Number.NaN) };
}

/** The proxy's session_end log line for `identity`, if logged yet. */
function sessionEnd(p: ChildProxy, identity: string): Record<string, unknown> | undefined {
  const lines = readFileSync(p.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.startsWith('{'));
  return lines.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l.event === 'session_end' && l.identity === identity);
}

describe('a client that stops reading', () => {
  const MAX_BUFFERED = 256 * 1024;
  const METADATA = 500_000;
  const PUSHES = 60;
  /** What the proxy may relay toward two paused clients: its buffer and one message each, plus the loopback socket buffers (~4 MiB each). */
  const RELAY_BOUND = 2 * (MAX_BUFFERED + METADATA) + 10 * 1024 * 1024;
  const servers = withLiveKitAndProxy({ VOLLY_MAX_BUFFERED_BYTES: String(MAX_BUFFERED), VOLLY_IDLE_TIMEOUT_MS: '8000' });

  it('does not grow the proxy: it stops reading LiveKit, relays at most its buffer plus socket buffers, and the client resumes when it reads again; one that never does is ended', {
    timeout: 120_000,
  }, async () => {
    const { livekit, proxy } = servers;
    const room = 'slow-reader';
    const slow = await openRawPq(proxy.wsUrl, await token(proxy, room, 'slow'));
    const stuck = await openRawPq(proxy.wsUrl, await token(proxy, room, 'stuck'));
    // The slow reader keeps pinging (writes still go) so the idle timeout spares it; the stuck one is silent.
    const pinger = setInterval(() => slow.send(pingReq()), 2_000);
    try {
      const bytes0 = await proxy.metric('volly_bytes_total', 'direction="upstream_to_client"');
      const before = await held(proxy);
      slow.ws.pause();
      stuck.ws.pause();
      const nSlow = slow.messages.length;

      // LiveKit sends a participant its own metadata updates at once (no batching): 2 x 80 x 500 kB.
      const svc = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
      const big = 'm'.repeat(METADATA);
      let pushed = 0;
      const until = performance.now() + 18_000;
      let peakRss = 0;
      let peakRecvQ = 0;
      let mid: Held | undefined;
      for (let i = 0; i < PUSHES && performance.now() < until; i++) {
        // (The stuck one is ended by the idle timeout part way: LiveKit then no longer knows it.)
        const sent = await Promise.all(
          ['slow', 'stuck'].map((who) =>
            svc.updateParticipant(room, who, { metadata: `${i}:${big}` }).then(
              () => 1,
              () => 0,
            ),
          ),
        );
        pushed += (sent[0]! + sent[1]!) * METADATA;
        peakRss = Math.max(peakRss, proxy.rssKiB() * 1024);
        peakRecvQ = Math.max(peakRecvQ, upstreamRecvQueue(proxy.pid, livekit.port));
        if (i === PUSHES / 2) mid = await held(proxy);
      }
      await new Promise((r) => setTimeout(r, 1_000));
      peakRss = Math.max(peakRss, proxy.rssKiB() * 1024);
      peakRecvQ = Math.max(peakRecvQ, upstreamRecvQueue(proxy.pid, livekit.port));
      const end = await held(proxy);
      const relayed = (await proxy.metric('volly_bytes_total', 'direction="upstream_to_client"')) - bytes0;
      log(
        `paused readers: LiveKit asked to send ${mib(pushed)}; the proxy relayed ${mib(relayed)}, its upstream sockets hold ${mib(peakRecvQ)} unread; ` +
          `proxy RSS ${mib(before.rss)} → raw peak ${mib(peakRss)}; after GC heap+external ${mib(before.live)} → ${mib(mid?.live ?? Number.NaN)} (half-way) → ${mib(end.live)} (end), RSS ${mib(end.rss)}`,
      );
      expect(pushed).toBeGreaterThanOrEqual(2 * RELAY_BOUND);
      // The proxy stopped reading LiveKit: bytes wait in its upstream sockets' kernel queues…
      expect(peakRecvQ).toBeGreaterThan(MAX_BUFFERED);
      // …it relayed no more than its two buffers plus what the loopback sockets toward the clients hold…
      expect(relayed).toBeLessThan(RELAY_BOUND);
      // …and what it holds does not grow with what LiveKit has to send.
      expect(end.live - before.live).toBeLessThan(16 * 1024 * 1024);
      expect(Math.abs(end.live - (mid?.live ?? Number.NaN))).toBeLessThan(8 * 1024 * 1024);
      expect(peakRss - before.rss).toBeLessThan(96 * 1024 * 1024);
      expect(slow.messages.length).toBe(nSlow);

      // The slow reader reads again: what was held comes, the session goes on.
      slow.ws.resume();
      await waitFor('the held updates to reach the slow reader', () => slow.messages.length > nSlow, { timeoutMs: 15_000 });
      await svc.updateParticipant(room, 'slow', { metadata: 'after' });
      await slow.waitFor((m: SignalResponse) => m.message.case === 'update' && m.message.value.participants.some((p) => p.metadata === 'after'), 15_000);
      const pongs = slow.messages.filter((m) => m.message.case === 'pongResp').length;
      slow.send(pingReq());
      await waitFor('a pong after resuming', () => slow.messages.filter((m) => m.message.case === 'pongResp').length > pongs, { timeoutMs: 10_000 });

      // The stuck one never reads again: the idle timeout (8 s) ends it; its socket goes at ws's
      // close timeout (30 s), when the session's end is logged. (All within LiveKit's one minute.)
      await waitFor('the stuck session to end', () => sessionEnd(proxy, 'stuck') !== undefined, { timeoutMs: 45_000, intervalMs: 500 });
      expect(sessionEnd(proxy, 'stuck')).toMatchObject({ code: CloseCode.HandshakeTimeout, reason: 'idle timeout' });
      const after = await held(proxy);
      log(
        `slow reader resumed (${slow.messages.length - nSlow} messages after the pause); stuck session ended; after GC heap+external ${mib(after.live)}, RSS ${mib(after.rss)}`,
      );
      expect(after.live - before.live).toBeLessThan(8 * 1024 * 1024);
    } finally {
      clearInterval(pinger);
      slow.ws.terminate();
      stuck.ws.terminate();
    }
  });
});
