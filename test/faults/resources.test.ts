// Resource attacks on the proxy, run as a child process in front of the real
// LiveKit; the attacker is another child process (lib/attacker.ts) speaking
// raw TCP. Honest clients are connectPq joins from this process.
//
// 1. 5,000 half-open PQ handshakes (WebSocket upgrades offering volly-pq.v1,
//    half silent, half dribbling a frame one byte at a time) plus a paced
//    connection flood (200/s: connect+close, upgrade and drop, no-token
//    classical, garbage): 3 x 200 honest joins still succeed, with p99 at
//    most 2x the idle baseline measured in the same test (100 joins before
//    the attack, 100 after; the best of the three attacked windows counts,
//    see below); every half-open handshake is closed 4408 at the handshake
//    timeout; the proxy's RSS stays bounded per connection and its files and
//    handshake count return to the baseline after.
// 2. The concurrency limit: beyond VOLLY_MAX_HANDSHAKES upgrades get HTTP 429
//    (an honest one too: the limit is global), and the slots come back at
//    the timeout.
// 3. TCP slowloris on the HTTP upgrade itself (headers dribbled a byte at a
//    time, never finished): Node's headersTimeout (10 s in server.ts) cuts
//    each one off with 408, and honest joins go on meanwhile.
//
// Sized for CI (~1-2 min): the open-file limit needed is about 2x the
// half-open count per process (checked in beforeAll).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HttpRefused, openSession } from '../bench/lib/client.ts';
import { quantile } from '../bench/lib/stats.ts';
import { type ChildProxy, startChildProxy } from '../harness/child-proxy.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { connectPq } from '../harness/pq-signal.ts';
import { waitFor } from '../harness/process.ts';
import { fdLimit, raiseFdLimit } from '../harness/procfs.ts';
import { token } from '../harness/tokens.ts';
import { type Attacker, startAttacker } from './lib/attack.ts';
import { honestJoins } from './lib/honest.ts';

const HALF_OPEN = 5_000;
/** The attacked proxy's handshake timeout: long enough to measure honest joins while all are held. */
const HOLD_MS = 40_000;
const JOINS = 200;
/** The connection flood beside the half-open handshakes: connect+close, upgrade and drop, no-token classical, garbage. */
const FLOOD = 5_000;
const FLOOD_PER_S = 200;
/** server.ts: headersTimeout. */
const HEADERS_TIMEOUT_MS = 10_000;
const HEADER_DRIBBLERS = 1_000;

let livekit: LiveKitServer;
let attacker: Attacker;
let proxy: ChildProxy;
const figures: Record<string, unknown> = {};

const log = (line: string) => process.stderr.write(`[resources] ${line}\n`);
const mib = (kib: number) => `${(kib / 1024).toFixed(1)} MiB`;
const p99 = (xs: number[]) => quantile(xs, 0.99);
const round = (x: number) => Math.round(x * 10) / 10;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

beforeAll(async () => {
  const want = HALF_OPEN + HEADER_DRIBBLERS + 2_000;
  const fd = raiseFdLimit(want);
  if (fd.soft < want) throw new Error(`open-file limit ${fd.soft} < ${want}: raise \`ulimit -n\` (the attacker and the proxy each hold ~${HALF_OPEN} sockets)`);
  livekit = await startLiveKit({ logLevel: 'warn' });
  attacker = startAttacker();
  proxy = await startChildProxy(livekit, {
    // Every attacker here dials from 127.0.0.1, and the whole hold is one timeout: the per-address
    // share and the first-message deadline (share.test.ts tests both) are out of the way.
    env: {
      VOLLY_MAX_HANDSHAKES: String(HALF_OPEN + 1_000),
      VOLLY_MAX_HANDSHAKES_PER_SOURCE: String(HALF_OPEN + 1_000),
      VOLLY_HANDSHAKE_TIMEOUT_MS: String(HOLD_MS),
      VOLLY_FIRST_MESSAGE_TIMEOUT_MS: String(HOLD_MS),
      VOLLY_LOG_LEVEL: 'warn',
    },
  });
  expect(fdLimit(proxy.pid).soft).toBeGreaterThanOrEqual(want);
});
afterAll(async () => {
  await attacker?.close();
  await proxy?.stop();
  await livekit?.stop();
  log(`figures ${JSON.stringify(figures)}`);
});

describe('resource attacks on the proxy (child process, real LiveKit)', () => {
  it(`5,000 half-open handshakes and a connection flood: honest joins keep p99 within 2x the idle baseline, all 5,000 end 4408, memory bounded`, {
    timeout: 150_000,
  }, async () => {
    await honestJoins(proxy, 10, 'warm');
    // The idle baseline is measured before and after the attack, so a drift of the machine's own load counts on both sides.
    const baseline = await honestJoins(proxy, JOINS / 2, 'base-a');
    const before = { rssKiB: await proxy.rssAfterGcKiB(), fds: proxy.fds() };

    // From the ramp's start: its first handshakes time out first (the ramp alone takes 4-6 s on a busy machine).
    const heldAt = performance.now();
    const sl = await attacker.slowloris({ port: proxy.port, count: HALF_OPEN, dribble: 0.5, byteEveryMs: 1_000 });
    expect(sl.statuses).toEqual({ 101: HALF_OPEN });
    expect(await proxy.metric('volly_handshakes_active')).toBe(HALF_OPEN);
    log(`${HALF_OPEN} half-open handshakes up in ${sl.ms} ms`);
    // The state under test is 5,000 held, not the ramp's own aftermath.
    await sleep(1_500);

    const flooding = attacker.flood({ port: proxy.port, count: FLOOD, concurrency: 32, perSecond: FLOOD_PER_S, maxMs: 26_000 });
    const floodUntil = performance.now() + (1000 * FLOOD) / FLOOD_PER_S;
    // On a shared machine a scheduler stall of another process can land a
    // few 100+ ms joins in one window; a proxy slowed by the attack is slow in
    // every window. So three attacked windows (same attack) are measured, and
    // the best one counts.
    const windows: number[][] = [];
    for (let w = 1; w <= 3; w++) windows.push(await honestJoins(proxy, JOINS, `attack-${w}`));
    const during = { rssKiB: proxy.rssKiB(), fds: proxy.fds(), handshakes: await proxy.metric('volly_handshakes_active') };
    // The flood ran beside every attacked window.
    expect(performance.now()).toBeLessThan(floodUntil + 1_000);
    const flood = await flooding;
    const held = await attacker.report();
    // Everything above happened while every half-open handshake was still held.
    expect(performance.now() - heldAt).toBeLessThan(HOLD_MS - 1_000);
    expect(held.open).toBe(HALF_OPEN);
    expect(during.handshakes).toBeGreaterThanOrEqual(HALF_OPEN);
    // What the held handshakes pin, without the garbage of the flood's dropped sessions.
    const heldGcKiB = await proxy.rssAfterGcKiB();
    expect((await attacker.report()).open).toBe(HALF_OPEN);

    // Every half-open handshake ends with 4408 at the timeout, not before.
    await waitFor('every half-open handshake to be closed', async () => (await attacker.report()).open === 0, { timeoutMs: HOLD_MS + 15_000, intervalMs: 250 });
    const ended = await attacker.report();
    expect(ended.closeCodes).toEqual({ 4408: HALF_OPEN });
    expect(ended.closedAfterMs?.[0]).toBeGreaterThanOrEqual(HOLD_MS - 250);
    expect(ended.closedAfterMs?.[1]).toBeLessThan(HOLD_MS + 10_000);
    await attacker.reset();
    await waitFor('the proxy to hold no handshake', async () => (await proxy.metric('volly_handshakes_active')) === 0, { timeoutMs: 10_000 });
    await waitFor('the proxy to close the attackers’ sockets', () => proxy.fds() <= before.fds + 10, { timeoutMs: 20_000, intervalMs: 250 });
    const after = { rssKiB: await proxy.rssAfterGcKiB(), fds: proxy.fds() };
    baseline.push(...(await honestJoins(proxy, JOINS / 2, 'base-b')));
    const attacked = windows.reduce((best, w) => (p99(w) < p99(best) ? w : best));

    const fig = {
      baselineP50Ms: round(quantile(baseline, 0.5)),
      baselineP99Ms: round(p99(baseline)),
      attackP50Ms: round(quantile(attacked, 0.5)),
      attackP99Ms: round(p99(attacked)),
      attackWindowsP99Ms: windows.map((w) => round(p99(w))),
      rssKiB: { before: before.rssKiB, during: during.rssKiB, after: after.rssKiB },
      rssKiBPerHalfOpen: round((during.rssKiB - before.rssKiB) / HALF_OPEN),
      rssKiBPerHalfOpenAfterGc: round((heldGcKiB - before.rssKiB) / HALF_OPEN),
      fds: { before: before.fds, during: during.fds, after: after.fds },
      ramp: { ms: sl.ms },
      flood,
      closedAfterMs: ended.closedAfterMs,
    };
    figures.halfOpen = fig;
    log(`half-open + flood: ${JSON.stringify(fig)}`);
    expect(attacked).toHaveLength(JOINS);
    expect(p99(attacked)).toBeLessThanOrEqual(2 * p99(baseline));
    // Bounded: a half-open handshake costs the proxy a socket and a few small objects. After a full GC
    // that is what 5,000 held ones pin (17.7 KiB each on 2026-11-29); the raw figure also carries the
    // flood's garbage until V8 collects it (28-41 KiB), so it gets a looser bound.
    expect(fig.rssKiBPerHalfOpenAfterGc).toBeLessThan(40);
    expect(fig.rssKiBPerHalfOpen).toBeLessThan(64);
    expect(after.rssKiB).toBeLessThan(before.rssKiB + 0.25 * (during.rssKiB - before.rssKiB) + 8 * 1024);
  });

  it('beyond VOLLY_MAX_HANDSHAKES upgrades get HTTP 429 (an honest one too: the limit is global) and slots come back at the 4408 timeout', {
    timeout: 60_000,
  }, async () => {
    // A clean slate even if the test before failed with its half-open handshakes still held.
    await attacker.reset();
    // No queue (VOLLY_HANDSHAKE_QUEUE=0): 429 at the limit itself; one address may take every slot here.
    const small = await startChildProxy(livekit, {
      env: {
        VOLLY_MAX_HANDSHAKES: '200',
        VOLLY_MAX_HANDSHAKES_PER_SOURCE: '1000',
        VOLLY_HANDSHAKE_QUEUE: '0',
        VOLLY_HANDSHAKE_TIMEOUT_MS: '2000',
        VOLLY_FIRST_MESSAGE_TIMEOUT_MS: '2000',
        VOLLY_LOG_LEVEL: 'error',
      },
    });
    try {
      const sl = await attacker.slowloris({ port: small.port, count: 300, dribble: 0.5, byteEveryMs: 200, concurrency: 300 });
      expect(sl.statuses).toEqual({ 101: 200, 429: 100 });
      const t = await token(small, 'limit', 'honest');
      const refused = await openSession({ baseUrl: small.wsUrl, token: t, sealed: { algorithm: 'ML-KEM-768', flow: 'in-band' } }).catch((e: unknown) => e);
      expect(refused).toBeInstanceOf(HttpRefused);
      expect((refused as HttpRefused).status).toBe(429);
      await waitFor('the 200 held handshakes to time out', async () => (await attacker.report()).open === 0, { timeoutMs: 10_000, intervalMs: 100 });
      const r = await attacker.report();
      expect(r.closeCodes).toEqual({ 4408: 200 });
      expect(r.closedAfterMs?.[0]).toBeGreaterThanOrEqual(1_750);
      expect(r.closedAfterMs?.[1]).toBeLessThan(4_000);
      expect(await small.metric('volly_handshakes_active')).toBe(0);
      expect(await small.metric('volly_failures_total', 'code="4429"')).toBe(101);
      expect(await small.metric('volly_failures_total', 'code="4408"')).toBe(200);
      // The slots are free again.
      const sig = await connectPq(small.wsUrl, t);
      expect(sig.join.participant?.identity).toBe('honest');
      await sig.close();
      figures.limit = { statuses: sl.statuses, closedAfterMs: r.closedAfterMs };
    } finally {
      await attacker.reset();
      await small.stop();
    }
  });

  it(`TCP slowloris on the upgrade request (headers dribbled) is cut off with 408 at headersTimeout (${HEADERS_TIMEOUT_MS / 1000} s); honest joins go on`, {
    timeout: 60_000,
  }, async () => {
    const before = await proxy.rssAfterGcKiB();
    const fds = proxy.fds();
    await attacker.headers({ port: proxy.port, count: HEADER_DRIBBLERS, byteEveryMs: 1_000 });
    const t0 = performance.now();
    await waitFor('the dribblers to be connected', () => proxy.fds() >= fds + HEADER_DRIBBLERS * 0.95, { timeoutMs: 10_000 });
    const during = proxy.rssKiB();
    // They are not handshakes (the upgrade has not happened): honest joins are unaffected.
    const joins = await honestJoins(proxy, 10, 'headers');
    expect(await proxy.metric('volly_handshakes_active')).toBe(0);
    expect((await attacker.report()).headersOpen).toBe(HEADER_DRIBBLERS);
    // Node checks headersTimeout every connectionsCheckingInterval: with its 30 s
    // default, a 10 s headersTimeout would hold each socket for 30 s or more.
    await waitFor('every header dribbler to be cut off', async () => (await attacker.report()).headersOpen === 0, {
      timeoutMs: HEADERS_TIMEOUT_MS + 25_000,
      intervalMs: 250,
    });
    const waited = performance.now() - t0;
    const r = await attacker.report();
    log(
      `header dribblers: ${JSON.stringify(r.httpReplies)} after ${JSON.stringify(r.headerClosedAfterMs)} ms; proxy RSS ${mib(before)} → ${mib(during)}; honest p99 ${p99(joins).toFixed(1)} ms`,
    );
    figures.headers = { httpReplies: r.httpReplies, closedAfterMs: r.headerClosedAfterMs, rssKiB: { before, during } };
    await attacker.reset();
    expect(r.httpReplies).toEqual({ 408: HEADER_DRIBBLERS });
    expect(r.headerClosedAfterMs?.[0]).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 250);
    expect(r.headerClosedAfterMs?.[1]).toBeLessThan(HEADERS_TIMEOUT_MS + 2_500);
    expect(waited).toBeLessThan(HEADERS_TIMEOUT_MS + 5_000);
    expect((during - before) / HEADER_DRIBBLERS).toBeLessThan(40);
  });
});
