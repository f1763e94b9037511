// Soak: many sealed sessions held open through one proxy process for a long
// time, pinging like livekit-client (a SignalRequest `ping` and a `pingReq`
// every 5 s; LiveKit answers `pong` / `pongResp`), with a few sessions
// churned (leave + a fresh join) every minute. Every `--sample-seconds` the
// proxy's RSS is read from /proc (raw, then again after a full GC through the
// inspector), with its heap, open files, sessions and failures from /metrics.
//
//   npm exec -- node test/scripts/soak.ts --minutes 30 --sessions 500 [--out FILE]
//
// LiveKit v1.13.5 removes a participant whose peer connection has not come
// up one minute after it joined (room.go: Verify() after time.Minute, leave
// with reason JOIN_FAILURE, then the socket closes 1000); these clients speak
// signaling only, so every session lives ~60 s and then rejoins at once, as
// a fresh sealed join. The ramp is spread over that minute, so the ~500
// sessions expire and rejoin evenly (~SESSIONS/60 joins a second) on top of
// the explicit churn. Such expiries are counted, not errors (LiveKit closes
// some of those sockets without a close frame, at times without the leave
// first, which the proxy reports as 4502: also an expiry when it comes at
// LiveKit's minute).
//
// Pass: no error (every join succeeds, no session ends but by our leave or
// LiveKit's JOIN_FAILURE expiry, every ping is answered within 20 s, the
// proxy counts no failure but those 4502s, the proxy process stays up) and memory
// flat: after the warm-up every post-GC RSS sample is within 10% of the
// first post-warm-up one. Exit 0 on pass, 1 on fail. Everything runs on
// loopback; every loop is bounded.

import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { DisconnectReason, type SignalResponse } from '@livekit/protocol';
import { getKem, type KemAlgorithm } from '@volly/shared';
import { type BenchSession, openSession, pool } from '../bench/lib/client.ts';
import { startBenchProxy } from '../bench/lib/servers.ts';
import { quantile } from '../bench/lib/stats.ts';
import { mintToken } from '../bench/lib/tokens.ts';
import { startLiveKit } from '../harness/livekit.ts';
import { metricSum } from '../harness/metrics.ts';
import { fdLimit, rssKiB } from '../harness/procfs.ts';

const { values: args } = parseArgs({
  options: {
    minutes: { type: 'string', default: '30' },
    sessions: { type: 'string', default: '500' },
    'room-size': { type: 'string', default: '10' },
    'ping-seconds': { type: 'string', default: '5' },
    'sample-seconds': { type: 'string', default: '30' },
    'churn-per-minute': { type: 'string', default: '6' },
    'warmup-minutes': { type: 'string' },
    tolerance: { type: 'string', default: '0.10' },
    out: { type: 'string', default: fileURLToPath(new URL('../faults/out/soak.json', import.meta.url)) },
  },
});

const MINUTES = Number(args.minutes);
const SESSIONS = Number(args.sessions);
const ROOM_SIZE = Number(args['room-size']);
const PING_MS = Number(args['ping-seconds']) * 1000;
const SAMPLE_MS = Number(args['sample-seconds']) * 1000;
const CHURN_PER_MIN = Number(args['churn-per-minute']);
// Warm-up: the first sixth of the run (5 min of 30), at least one sample.
const WARMUP_MS = args['warmup-minutes'] !== undefined ? Number(args['warmup-minutes']) * 60_000 : Math.max(SAMPLE_MS, (MINUTES * 60_000) / 6);
const TOLERANCE = Number(args.tolerance);
const PONG_DEADLINE_MS = 20_000;
for (const [k, v] of Object.entries({ MINUTES, SESSIONS, ROOM_SIZE, PING_MS, SAMPLE_MS, CHURN_PER_MIN, WARMUP_MS, TOLERANCE })) {
  if (!Number.isFinite(v) || v < 0) throw new Error(`bad --${k.toLowerCase()}: ${v}`);
}

const log = (line: string) => process.stderr.write(`[soak ${new Date().toISOString().slice(11, 19)}] ${line}\n`);
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

interface SoakError {
  readonly atS: number;
  readonly kind: 'join' | 'closed' | 'pong' | 'leave' | 'proxy';
  readonly detail: string;
}

interface Sample {
  readonly atS: number;
  readonly rssKiB: number;
  readonly rssAfterGcKiB: number;
  readonly heapUsedKiB: number;
  readonly fds: number;
  readonly sessionsOpen: number;
  readonly proxySessionsActive: number;
  /** volly_failures_total but for 4502 (LiveKit's abrupt close after an expiry leave). */
  readonly proxyFailures: number;
  readonly proxyUpstreamDrops: number;
  readonly livekitRssKiB: number;
  readonly pings: number;
  readonly pongs: number;
  readonly rttP99Ms: number;
  readonly churned: number;
  readonly expired: number;
  readonly expiredAbrupt: number;
  readonly joins: number;
  readonly joinP99Ms: number;
  readonly errors: number;
}

interface Slot {
  readonly index: number;
  readonly room: string;
  generation: number;
  sess?: BenchSession;
  timer?: ReturnType<typeof setInterval>;
  /** Set while we are closing it ourselves (churn, shutdown): its close is no error. */
  leaving: boolean;
  lastPong: number;
  pongTimedOut: boolean;
  /** LiveKit sent leave(JOIN_FAILURE): its one-minute limit for a session without media. */
  expiring: boolean;
}

const started = performance.now();
const since = () => Math.round((performance.now() - started) / 1000);
const errors: SoakError[] = [];
const error = (kind: SoakError['kind'], detail: string) => {
  errors.push({ atS: since(), kind, detail });
  log(`ERROR ${kind}: ${detail}`);
};

const livekit = await startLiveKit({ logLevel: 'warn' });
const proxy = await startBenchProxy(livekit, { inspect: true });
const proxyFdLimit = fdLimit(proxy.pid).soft;
log(`LiveKit ${livekit.url} (pid ${livekit.pid}), proxy ${proxy.wsUrl} (pid ${proxy.pid}, open-file limit ${proxyFdLimit})`);
log(
  `${SESSIONS} sessions in rooms of ${ROOM_SIZE}, ping every ${PING_MS / 1000} s, ${CHURN_PER_MIN} churned a minute, sample every ${SAMPLE_MS / 1000} s, ${MINUTES} min (warm-up ${WARMUP_MS / 60_000} min)`,
);
if (proxyFdLimit < 2 * SESSIONS + 256) throw new Error(`the proxy's open-file limit ${proxyFdLimit} is too low for ${SESSIONS} sessions`);

let pings = 0;
let pongs = 0;
let rtts: number[] = [];
let churned = 0;
let expired = 0;
let expiredAbrupt = 0;
let joins = 0;
let joinMs: number[] = [];
let stopping = false;
const slots: Slot[] = Array.from({ length: SESSIONS }, (_, i) => ({
  index: i,
  room: `soak-${Math.floor(i / ROOM_SIZE)}`,
  generation: 0,
  leaving: false,
  lastPong: 0,
  pongTimedOut: false,
  expiring: false,
}));
// Half ML-KEM-768, half X-Wing; every third session token-bound.
const algorithmOf = (i: number): KemAlgorithm => (i % 2 === 0 ? 'ML-KEM-768' : 'X-Wing');

async function open(slot: Slot): Promise<void> {
  slot.generation++;
  const identity = `p${slot.index}-g${slot.generation}`;
  const algorithm = algorithmOf(slot.index);
  const bound = slot.index % 3 === 0;
  const keyPair = bound ? getKem(algorithm).keygen() : undefined;
  const token = await mintToken(proxy, slot.room, identity, keyPair ? { algorithm, publicKey: keyPair.publicKey } : undefined);
  let sess: BenchSession;
  try {
    sess = await openSession({
      baseUrl: proxy.wsUrl,
      token,
      sealed: { algorithm, flow: bound ? 'token-bound' : 'in-band', ...(keyPair ? { keyPair } : {}) },
      timeoutMs: 30_000,
      onMessage: (m: SignalResponse) => {
        if (m.message.case === 'pongResp') {
          pongs++;
          slot.lastPong = performance.now();
          rtts.push(Date.now() - Number(m.message.value.lastPingTimestamp));
        } else if (m.message.case === 'leave' && !slot.leaving && !stopping) {
          if (m.message.value.reason === DisconnectReason.JOIN_FAILURE) slot.expiring = true;
          else error('leave', `${identity}: LiveKit sent leave (reason ${DisconnectReason[m.message.value.reason]})`);
        }
      },
    });
  } catch (err) {
    error('join', `${identity}: ${(err as Error).message}`);
    return;
  }
  joins++;
  joinMs.push(sess.joinMs);
  const joinedAt = performance.now();
  slot.sess = sess;
  slot.leaving = false;
  slot.expiring = false;
  slot.lastPong = performance.now();
  slot.pongTimedOut = false;
  const ping = () => {
    const now = Date.now();
    sess.send({ case: 'ping', value: BigInt(now) });
    sess.send({ case: 'pingReq', value: { timestamp: BigInt(now), rtt: 0n } as never });
    pings++;
    if (!slot.pongTimedOut && performance.now() - slot.lastPong > PONG_DEADLINE_MS) {
      slot.pongTimedOut = true;
      error('pong', `${identity}: no pongResp for ${Math.round((performance.now() - slot.lastPong) / 1000)} s`);
    }
  };
  // Spread the pings over the interval, as independent clients would be.
  const first = setTimeout(() => {
    if (slot.sess !== sess) return;
    ping();
    slot.timer = setInterval(ping, PING_MS);
  }, Math.random() * PING_MS);
  void sess.closed.then((code) => {
    clearTimeout(first);
    if (slot.sess === sess) {
      clearInterval(slot.timer);
      if (!slot.leaving && !stopping) {
        // At its one-minute limit LiveKit sends leave and closes, now and then
        // without a close frame (and then at times without the leave): the
        // proxy reports that drop as 4502, as it should.
        const age = performance.now() - joinedAt;
        const atLimit = age >= 59_500 && age < 70_000;
        if ((slot.expiring && (code === 1000 || code === 4502)) || (atLimit && code === 4502)) {
          expired++;
          if (code === 4502) expiredAbrupt++;
        } else error('closed', `${identity}: closed ${code} by the other side${slot.expiring ? ' after leave(JOIN_FAILURE)' : ''}`);
        slot.sess = undefined;
        // Keep the load up: rejoin at once.
        void open(slot);
      }
    }
  });
}

async function churnOne(): Promise<void> {
  const slot = slots[Math.floor(Math.random() * slots.length)] as Slot;
  const sess = slot.sess;
  if (!sess) return;
  slot.leaving = true;
  clearInterval(slot.timer);
  sess.close();
  await Promise.race([sess.closed, sleep(5_000)]);
  slot.sess = undefined;
  churned++;
  await open(slot);
}

async function metrics(): Promise<Map<string, number>> {
  try {
    return await proxy.metrics();
  } catch (err) {
    error('proxy', `/metrics: ${(err as Error).message}`);
    return new Map();
  }
}

const samples: Sample[] = [];
async function sample(): Promise<Sample> {
  if (!proxy.proc.running()) error('proxy', `proxy process exited: ${JSON.stringify(proxy.proc.exitInfo)}`);
  const raw = rssKiB(proxy.pid);
  await proxy.collectGarbage();
  await sleep(200);
  const m = await metrics();
  const s: Sample = {
    atS: since(),
    rssKiB: raw,
    rssAfterGcKiB: rssKiB(proxy.pid),
    heapUsedKiB: Math.round((m.get('volly_nodejs_heap_size_used_bytes') ?? Number.NaN) / 1024),
    fds: readdirSync(`/proc/${proxy.pid}/fd`).length,
    sessionsOpen: slots.filter((x) => x.sess?.ws.readyState === 1).length,
    proxySessionsActive: metricSum(m, 'volly_sessions_active'),
    proxyFailures: metricSum(m, 'volly_failures_total') - metricSum(m, 'volly_failures_total', 'code="4502"'),
    proxyUpstreamDrops: metricSum(m, 'volly_failures_total', 'code="4502"'),
    livekitRssKiB: rssKiB(livekit.pid),
    pings,
    pongs,
    rttP99Ms: Math.round(quantile(rtts, 0.99)),
    churned,
    expired,
    expiredAbrupt,
    joins,
    joinP99Ms: Math.round(quantile(joinMs, 0.99)),
    errors: errors.length,
  };
  rtts = [];
  joinMs = [];
  samples.push(s);
  log(
    `t=${s.atS}s proxy RSS ${(s.rssKiB / 1024).toFixed(1)} MiB (after GC ${(s.rssAfterGcKiB / 1024).toFixed(1)}), heap ${(s.heapUsedKiB / 1024).toFixed(1)} MiB, fds ${s.fds}, ` +
      `sessions ${s.sessionsOpen} (proxy ${s.proxySessionsActive}), failures ${s.proxyFailures} (+${s.proxyUpstreamDrops} 4502), pings ${s.pings} pongs ${s.pongs} rtt p99 ${s.rttP99Ms} ms, joins ${s.joins} (p99 ${s.joinP99Ms} ms), expired ${s.expired} (${s.expiredAbrupt} dropped), churned ${s.churned}, errors ${s.errors}, LiveKit RSS ${(s.livekitRssKiB / 1024).toFixed(0)} MiB`,
  );
  return s;
}

let verdict: Record<string, unknown> = {};
let exitCode = 1;
try {
  // Ramp over LiveKit's one-minute limit, so expiries (and rejoins) come evenly.
  const t0 = performance.now();
  const rampMs = Math.min(60_000, MINUTES * 60_000);
  await pool(SESSIONS, 16, async (i) => {
    await sleep(Math.max(0, t0 + (i * rampMs) / SESSIONS - performance.now()));
    await open(slots[i] as Slot);
  });
  log(`ramp: ${slots.filter((s) => s.sess).length}/${SESSIONS} joined in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  await sample();

  const runStart = performance.now();
  const end = runStart + MINUTES * 60_000;
  const churnEvery = CHURN_PER_MIN > 0 ? 60_000 / CHURN_PER_MIN : Number.POSITIVE_INFINITY;
  let nextChurn = runStart + churnEvery;
  let nextSample = runStart + SAMPLE_MS;
  const churning = new Set<Promise<void>>();
  while (performance.now() < end) {
    const now = performance.now();
    if (now >= nextChurn) {
      nextChurn += churnEvery;
      const p = churnOne().finally(() => churning.delete(p));
      churning.add(p);
    }
    if (now >= nextSample) {
      nextSample += SAMPLE_MS;
      await sample();
    }
    await sleep(Math.max(10, Math.min(nextChurn, nextSample, end) - performance.now()));
  }
  await Promise.all(churning);
  await sample();

  const warmS = (runStart - started + WARMUP_MS) / 1000;
  const after = samples.filter((s) => s.atS >= warmS);
  const ref = after[0]?.rssAfterGcKiB ?? Number.NaN;
  const within = (s: Sample) => Math.abs(s.rssAfterGcKiB - ref) <= TOLERANCE * ref;
  const spread = (xs: number[]) => (Math.max(...xs) - Math.min(...xs)) / ref;
  const flat = after.length >= 2 && after.every(within);
  const finalFailures = samples.at(-1)?.proxyFailures ?? Number.NaN;
  if (finalFailures !== 0) error('proxy', `volly_failures_total (but 4502) is ${finalFailures}`);
  const drops = samples.at(-1)?.proxyUpstreamDrops ?? Number.NaN;
  if (drops > expiredAbrupt) error('proxy', `${drops} sessions ended 4502 but only ${expiredAbrupt} after an expiry leave`);
  verdict = {
    pass: flat && errors.length === 0,
    flat,
    referenceRssAfterGcKiB: ref,
    postWarmupSamples: after.length,
    rssAfterGcSpread: spread(after.map((s) => s.rssAfterGcKiB)),
    rssRawSpread: spread(after.map((s) => s.rssKiB)),
    heapUsedKiB: { first: after[0]?.heapUsedKiB, last: after.at(-1)?.heapUsedKiB, max: Math.max(...after.map((s) => s.heapUsedKiB)) },
    rssAfterGcKiB: {
      first: ref,
      last: after.at(-1)?.rssAfterGcKiB,
      min: Math.min(...after.map((s) => s.rssAfterGcKiB)),
      max: Math.max(...after.map((s) => s.rssAfterGcKiB)),
    },
    rssRawKiB: { min: Math.min(...after.map((s) => s.rssKiB)), max: Math.max(...after.map((s) => s.rssKiB)) },
    fds: { min: Math.min(...after.map((s) => s.fds)), max: Math.max(...after.map((s) => s.fds)) },
    errors: errors.length,
    pings,
    pongs,
    joins,
    expired,
    expiredAbrupt,
    churned,
  };
  exitCode = verdict.pass ? 0 : 1;
} catch (err) {
  error('proxy', `soak aborted: ${(err as Error).stack ?? err}`);
} finally {
  stopping = true;
  for (const s of slots) {
    clearInterval(s.timer);
    s.leaving = true;
    s.sess?.close();
  }
  await Promise.race([Promise.all(slots.map((s) => s.sess?.closed)), sleep(10_000)]);
  for (const s of slots) s.sess?.terminate();
  await proxy.stop().catch(() => {});
  await livekit.stop().catch(() => {});
}

const out = resolve(args.out);
mkdirSync(dirname(out), { recursive: true });
const report = {
  settings: {
    minutes: MINUTES,
    sessions: SESSIONS,
    roomSize: ROOM_SIZE,
    pingSeconds: PING_MS / 1000,
    sampleSeconds: SAMPLE_MS / 1000,
    churnPerMinute: CHURN_PER_MIN,
    warmupMinutes: WARMUP_MS / 60_000,
    tolerance: TOLERANCE,
  },
  node: process.version,
  startedAt: new Date(Date.now() - (performance.now() - started)).toISOString(),
  durationS: since(),
  verdict,
  errors,
  samples,
};
writeFileSync(out, `${JSON.stringify(report, null, 2)}\n`);
log(`${verdict.pass ? 'PASS' : 'FAIL'}: ${JSON.stringify(verdict)}`);
log(`wrote ${out}`);
process.exit(exitCode);
