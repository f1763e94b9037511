// Scenario 4: scale — idle sealed sessions (ML-KEM-768 in-band) held open
// through one proxy process, in rooms of 10, stepping up through the levels
// (e.g. 1k, 5k, 10k). "Idle" = signaling only, a keepalive pingReq every
// `pingIntervalMs` per session (under the proxy's 30 s idle timeout;
// livekit-client pings every 5 s, its JoinResponse's ping_interval). At each level, after a full GC of the proxy
// (through its inspector), RSS is sampled `samples` times; the proxy's
// event-loop delay comes from its own /metrics (prom-client's
// volly_nodejs_eventloop_lag_*, reset at every scrape, so one scrape opens
// the window and the next reads it).

import { join } from 'node:path';
import type { LiveKitServer } from '../../harness/livekit.ts';
import { rssKiB } from '../../harness/procfs.ts';
import { type BenchSession, clientAddress, keepalive, openWithRetry, pool, type RetryLog, tallySessionFailures } from '../lib/client.ts';
import { countFailure, type FailureCounts, failureKey, totalFailures } from '../lib/failures.ts';
import type { BenchProxy } from '../lib/servers.ts';
import { type Figure, figure, linearFit } from '../lib/stats.ts';
import { mintToken } from '../lib/tokens.ts';
import { sleep, within } from './common.ts';

export interface ScaleOptions {
  readonly levels: number[];
  readonly concurrency: number;
  readonly pingIntervalMs: number;
  readonly samples: number;
  readonly lagWindowMs: number;
  /** Give up a level's ramp (and report the level reached) after this long. */
  readonly rampBudgetMs: number;
  /** Write heap snapshots here: at the baseline and at the first level (profiling runs). */
  readonly heapSnapshotDir?: string;
}

export interface ScaleLevel {
  readonly sessions: number;
  readonly rssKiB: Figure;
  readonly heapUsedKiB: Figure;
  readonly rssKiBPerSession: Figure;
  readonly heapKiBPerSession: Figure;
  readonly lagP50Ms: number;
  readonly lagP99Ms: number;
  readonly lagMaxMs: number;
  readonly livekitRssKiB: number;
  readonly rampSeconds: number;
  readonly joinsPerSecond: number;
}

export interface ScaleResults {
  readonly baselineRssKiB: Figure;
  readonly baselineHeapKiB: Figure;
  readonly levels: ScaleLevel[];
  /** Highest level reached, and why not higher when short of the last. */
  readonly reached: number;
  readonly shortfall?: string;
  /** Linear fit of RSS (KiB) over sessions, over baseline and every level. */
  readonly fit: { slopeKiB: number; r2: number };
  /** KiB per session between consecutive levels (marginal). */
  readonly marginalKiB: number[];
  /** Sessions that failed to join (after retries) or dropped after joining. */
  readonly failures: number;
  /** The same by failure key ("close 4400", "HTTP 429", "timeout"), all levels. */
  readonly failedSessions: FailureCounts;
  readonly retries: number;
  /** Attempts that were retried (429/503), by failure key. */
  readonly retryReasons: FailureCounts;
  readonly fdLimit: number;
  readonly pingIntervalS: number;
}

async function sampleMemory(proxy: BenchProxy, samples: number): Promise<{ rss: number[]; heap: number[] }> {
  await proxy.collectGarbage();
  await sleep(300);
  const rss: number[] = [];
  const heap: number[] = [];
  for (let i = 0; i < samples; i++) {
    if (i > 0) await sleep(500);
    rss.push(proxy.rssKiB());
    const m = await proxy.metrics();
    heap.push((m.get('volly_nodejs_heap_size_used_bytes') ?? Number.NaN) / 1024);
  }
  return { rss, heap };
}

/**
 * The proxy holds two descriptors per session (client and LiveKit sockets),
 * so the open-file limit caps the sessions one proxy process can hold.
 */
export function fdCap(fdLimit: number): number {
  return Math.floor((fdLimit - 256) / 2);
}

export async function runScale(
  livekit: LiveKitServer,
  proxy: BenchProxy,
  o: ScaleOptions,
  fdLimit: number,
  log: (line: string) => void,
): Promise<ScaleResults> {
  const cap = fdCap(fdLimit);
  const wanted = o.levels;
  const levelsToRun = [...new Set(wanted.map((l) => Math.min(l, cap)))];
  const capped = wanted.some((l) => l > cap)
    ? `${Math.max(...wanted)} sessions need ${2 * Math.max(...wanted) + 256} open files in the proxy process; the open-file limit is ${fdLimit} and could not be raised (no CAP_SYS_RESOURCE), so the top level is ${cap}`
    : undefined;
  if (capped) log(`scale: ${capped}`);
  const base = await sampleMemory(proxy, o.samples);
  if (o.heapSnapshotDir) await proxy.heapSnapshot(join(o.heapSnapshotDir, 'scale-0.heapsnapshot'));
  const baseRss = figure(base.rss);
  const baseHeap = figure(base.heap);
  log(`scale baseline: proxy RSS ${(baseRss.median / 1024).toFixed(1)} MiB, heap ${(baseHeap.median / 1024).toFixed(1)} MiB`);
  const levels: ScaleLevel[] = [];
  const retries: RetryLog = { count: 0, reasons: {} };
  const failed: FailureCounts = {};
  let joinFailures = 0;
  let shortfall: string | undefined;
  for (const level of levelsToRun) {
    // Every level starts from zero with fresh participants: LiveKit removes a
    // participant whose PeerConnection never connected one minute after it
    // joined (room.go, JoinTimeout), and load clients are signaling-only.
    const sessions: BenchSession[] = [];
    const stops: Array<() => void> = [];
    const t0 = performance.now();
    const deadline = t0 + o.rampBudgetMs;
    let stop = false;
    try {
      await pool(level, o.concurrency, async (i) => {
        if (stop) return;
        const token = await mintToken(proxy, `scale-${level}-${Math.floor(i / 10)}`, `s${level}-${i}`);
        try {
          const sess = await openWithRetry(
            { baseUrl: proxy.wsUrl, token, sealed: { algorithm: 'ML-KEM-768', flow: 'in-band' }, timeoutMs: 30_000, localAddress: clientAddress(i) },
            deadline,
            retries,
          );
          sessions.push(sess);
          stops.push(keepalive(sess, o.pingIntervalMs));
        } catch (err) {
          joinFailures++;
          countFailure(failed, err);
          if (joinFailures > Math.max(20, level * 0.01) && !stop) {
            stop = true;
            shortfall = `joins failing at ${sessions.length} sessions: ${failureKey(err)}`;
          }
        }
        if (performance.now() > deadline && !stop) {
          stop = true;
          shortfall = `ramp to ${level} took longer than ${Math.round(o.rampBudgetMs / 1000)} s (LiveKit drops signaling-only participants after 60 s); stopped at ${sessions.length}`;
        }
      });
      const rampSeconds = (performance.now() - t0) / 1000;
      const mem = await sampleMemory(proxy, o.samples);
      // Event-loop delay over a window: the first scrape resets prom-client's histogram.
      await proxy.metrics();
      await sleep(o.lagWindowMs);
      const m = await proxy.metrics();
      const open = sessions.filter((x) => x.ws.readyState === x.ws.OPEN && !x.failure).length;
      // Sessions that joined and then ended on their own (the proxy closed them): counted, not hidden.
      const dropped = tallySessionFailures(sessions, failed);
      if (dropped) log(`scale ${level}: ${dropped} sessions dropped after joining`);
      if (o.heapSnapshotDir && levels.length === 0) await proxy.heapSnapshot(join(o.heapSnapshotDir, `scale-${open}.heapsnapshot`));
      const rss = figure(mem.rss);
      const heap = figure(mem.heap);
      const row: ScaleLevel = {
        sessions: open,
        rssKiB: rss,
        heapUsedKiB: heap,
        rssKiBPerSession: figure(mem.rss.map((x) => (x - baseRss.median) / open)),
        heapKiBPerSession: figure(mem.heap.map((x) => (x - baseHeap.median) / open)),
        lagP50Ms: (m.get('volly_nodejs_eventloop_lag_p50_seconds') ?? Number.NaN) * 1000,
        lagP99Ms: (m.get('volly_nodejs_eventloop_lag_p99_seconds') ?? Number.NaN) * 1000,
        lagMaxMs: (m.get('volly_nodejs_eventloop_lag_max_seconds') ?? Number.NaN) * 1000,
        livekitRssKiB: rssKiB(livekit.pid),
        rampSeconds,
        joinsPerSecond: sessions.length / rampSeconds,
      };
      if (open > 0) levels.push(row);
      log(
        `scale ${open} sessions: proxy RSS ${(rss.median / 1024).toFixed(1)} MiB (${row.rssKiBPerSession.median.toFixed(1)} KiB/session, heap ${row.heapKiBPerSession.median.toFixed(1)} KiB/session), ` +
          `loop delay p50 ${row.lagP50Ms.toFixed(1)} p99 ${row.lagP99Ms.toFixed(1)} max ${row.lagMaxMs.toFixed(1)} ms, LiveKit RSS ${(row.livekitRssKiB / 1024).toFixed(0)} MiB, ramp ${rampSeconds.toFixed(1)} s`,
      );
      if (stop || open < level * 0.99) {
        shortfall ??= `only ${open} of ${level} sessions open when measured`;
        log(`scale: not going higher: ${shortfall}`);
        break;
      }
    } finally {
      for (const s of stops) s();
      for (const x of sessions) x.close();
      await within(Promise.all(sessions.map((x) => x.closed)), 20_000);
      for (const x of sessions) x.terminate();
    }
  }
  const xs = [0, ...levels.map((l) => l.sessions)];
  const ys = [baseRss.median, ...levels.map((l) => l.rssKiB.median)];
  const fit = xs.length >= 2 ? linearFit(xs, ys) : { slope: Number.NaN, r2: Number.NaN };
  const marginalKiB = levels.map(
    (l, i) =>
      (l.rssKiB.median - (i === 0 ? baseRss.median : (levels[i - 1] as ScaleLevel).rssKiB.median)) /
      (l.sessions - (i === 0 ? 0 : (levels[i - 1] as ScaleLevel).sessions)),
  );
  return {
    baselineRssKiB: baseRss,
    baselineHeapKiB: baseHeap,
    levels,
    reached: levels.at(-1)?.sessions ?? 0,
    ...(shortfall || capped ? { shortfall: [capped, shortfall].filter(Boolean).join('; ') } : {}),
    fit: { slopeKiB: fit.slope, r2: fit.r2 },
    marginalKiB,
    failures: totalFailures(failed),
    failedSessions: failed,
    retries: retries.count,
    retryReasons: retries.reasons,
    fdLimit,
    pingIntervalS: o.pingIntervalMs / 1000,
  };
}
