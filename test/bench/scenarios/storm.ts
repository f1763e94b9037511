// Scenario 5: reconnect storm. N clients are joined (rooms of 10); then every
// connection drops at once (TCP reset, as in a network failure) and all N
// reconnect at the same instant with the same identities — LiveKit replaces
// each stale participant. Measured: the time from the reconnect until every
// client has its JoinResponse, direct to LiveKit vs through the proxy
// (sealed, ML-KEM-768 in-band). A client whose attempt fails — HTTP 429 (the
// proxy's concurrent-handshake limit), a 4502 from the proxy (LiveKit did not
// answer its dial in time), a timeout — tries again after 50-250 ms until
// the storm's deadline, as livekit-client retries with its backoff; the
// failures are counted by reason, and the clients that never joined by their
// last failure. Through the proxy, its handshake queue's counts
// (volly_handshake_queue_total{result="queued|admitted|expired|gone"} and
// volly_handshake_refusals_total{reason="busy|source"}: upgrades
// over the handshake limit held in the queue, answered 429 because it was
// full, or expired in it) are read from /metrics around each storm; a proxy
// without that metric reports 0.

import { metricSum } from '../../harness/metrics.ts';
import { type BenchSession, clientAddress, openWithRetry, pool, type RetryLog } from '../lib/client.ts';
import { addCounts, countFailure, type FailureCounts } from '../lib/failures.ts';
import { type Figure, figure, median, p99 } from '../lib/stats.ts';
import { mintToken } from '../lib/tokens.ts';
import { rotate, type Servers, sleep, type TargetName, target, within } from './common.ts';

export interface StormOptions {
  readonly rounds: number;
  readonly clients: number;
  /** Give up a storm after this long (the figure is then marked incomplete). */
  readonly timeoutMs: number;
}

export interface StormRow {
  readonly target: TargetName;
  /** Seconds until the last client had its JoinResponse. */
  readonly allJoinedS: Figure;
  readonly joinP50Ms: Figure;
  readonly joinP99Ms: Figure;
  readonly retries: Figure;
  /** Failed attempts (each retried) by reason, summed over rounds. */
  readonly retryReasons: Record<string, number>;
  /** Clients that had no JoinResponse by the deadline, summed over rounds. */
  readonly failures: number;
  /** The same by the key of their last failure; and the initial (pre-storm) joins that failed. */
  readonly failedSessions: FailureCounts;
  readonly setupFailedSessions: FailureCounts;
  /** The proxy's handshake queue during the storms, summed over rounds (0 direct, or when the metric is absent). */
  readonly handshakeQueue: QueueCounts & { readonly metricPresent: boolean };
}

export interface QueueCounts {
  readonly queued: number;
  readonly refused: number;
  readonly expired: number;
}

export interface StormResults {
  readonly rows: StormRow[];
  /** Sealed / direct, rounds paired. */
  readonly ratio: Figure;
  /** The same for the floors beside it: the bare Node.js + ws relay and the proxy's classical path. */
  readonly floors: Partial<Record<'node-ws' | 'classical', Figure>>;
}

interface RoundStats {
  all: number;
  p50: number;
  p99: number;
  retries: number;
  reasons: FailureCounts;
  failures: number;
  failed: FailureCounts;
  setupFailed: FailureCounts;
  queue: QueueCounts | undefined;
}

const QUEUE_METRIC = 'volly_handshake_queue_total';

/** The proxy's handshake queue counters; undefined when the proxy has no such metric (or /metrics fails). */
export async function queueCounts(s: Pick<Servers, 'proxy'>): Promise<QueueCounts | undefined> {
  const m = await s.proxy.metrics().catch(() => undefined);
  if (!m || ![...m.keys()].some((k) => k === QUEUE_METRIC || k.startsWith(`${QUEUE_METRIC}{`))) return undefined;
  const of = (result: string) => metricSum(m, QUEUE_METRIC, `result="${result}"`);
  // 429s: a full queue or an address over its share (volly_handshake_refusals_total), which also counts expired waits.
  const refused = metricSum(m, 'volly_handshake_refusals_total', 'reason=');
  return { queued: of('queued'), refused, expired: of('expired') };
}

async function oneStorm(s: Servers, name: TargetName, r: number, o: StormOptions): Promise<RoundStats> {
  const t = target(s, name);
  const tokens = await Promise.all(Array.from({ length: o.clients }, (_, i) => mintToken(t.creds, `storm-${name}-r${r}-${Math.floor(i / 10)}`, `c${i}`)));
  const open = (i: number, deadline: number, retries: RetryLog) =>
    openWithRetry(
      { baseUrl: t.baseUrl, token: tokens[i] as string, ...(t.sealed ? { sealed: t.sealed } : {}), timeoutMs: o.timeoutMs, localAddress: clientAddress(i) },
      deadline,
      retries,
      'any',
    );
  // Everyone joins, paced.
  const setupRetries: RetryLog = { count: 0, reasons: {} };
  const setupFailed: FailureCounts = {};
  const first = await pool(o.clients, 64, (i) =>
    open(i, performance.now() + o.timeoutMs, setupRetries).catch((err: unknown) => {
      countFailure(setupFailed, err);
      return undefined;
    }),
  );
  await sleep(1000);
  // The network drops every connection at once...
  for (const c of first) c?.terminate();
  await sleep(50);
  // ...and every client reconnects at the same instant.
  const retries: RetryLog = { count: 0, reasons: {} };
  let failures = 0;
  const failed: FailureCounts = {};
  const q0 = name === 'direct' ? undefined : await queueCounts(s);
  const t0 = performance.now();
  const deadline = t0 + o.timeoutMs;
  const joins: number[] = [];
  const second: Array<BenchSession | undefined> = await Promise.all(
    tokens.map((_, i) =>
      open(i, deadline, retries).then(
        (x) => {
          joins.push(performance.now() - t0);
          return x;
        },
        (err: unknown) => {
          failures++;
          countFailure(failed, err);
          return undefined;
        },
      ),
    ),
  );
  const all = (performance.now() - t0) / 1000;
  const q1 = q0 ? await queueCounts(s) : undefined;
  const queue = q0 && q1 ? { queued: q1.queued - q0.queued, refused: q1.refused - q0.refused, expired: q1.expired - q0.expired } : undefined;
  for (const c of second) c?.close();
  await within(Promise.all(second.map((c) => c?.closed)), 10_000);
  for (const c of second) c?.terminate();
  return {
    all: failures > 0 ? Number.NaN : all,
    p50: median(joins),
    p99: p99(joins),
    retries: retries.count,
    reasons: retries.reasons,
    failures,
    failed,
    setupFailed,
    queue,
  };
}

export async function runStorm(s: Servers, o: StormOptions, log: (line: string) => void): Promise<StormResults> {
  // The bare Node.js relay and the classical path storm too: the floor a Node.js relay reaches on this machine.
  const names: TargetName[] = ['direct', ...(s.nodeWs ? (['node-ws'] as const) : []), 'classical', 'sealed'];
  const stats = new Map<TargetName, RoundStats[]>(names.map((n) => [n, []]));
  for (let r = 0; r < o.rounds; r++) {
    for (const name of rotate(names, r)) {
      const st = await oneStorm(s, name, r, o);
      (stats.get(name) as RoundStats[]).push(st);
      log(
        `storm r${r} ${name}: all ${o.clients} joined after ${st.all.toFixed(2)} s (p50 ${st.p50.toFixed(0)} ms, p99 ${st.p99.toFixed(0)} ms), ${st.retries} retries, ${st.failures} failed` +
          (st.queue ? `; proxy queue: ${st.queue.queued} queued, ${st.queue.refused} refused, ${st.queue.expired} expired` : ''),
      );
      await sleep(2000);
    }
  }
  const rows = names.map((name): StormRow => {
    const st = stats.get(name) as RoundStats[];
    return {
      target: name,
      allJoinedS: figure(st.map((x) => x.all)),
      joinP50Ms: figure(st.map((x) => x.p50)),
      joinP99Ms: figure(st.map((x) => x.p99)),
      retries: figure(st.map((x) => x.retries)),
      retryReasons: st.reduce<FailureCounts>((acc, x) => addCounts(acc, x.reasons), {}),
      failures: st.reduce((a, x) => a + x.failures, 0),
      failedSessions: st.reduce<FailureCounts>((acc, x) => addCounts(acc, x.failed), {}),
      setupFailedSessions: st.reduce<FailureCounts>((acc, x) => addCounts(acc, x.setupFailed), {}),
      handshakeQueue: {
        queued: st.reduce((a, x) => a + (x.queue?.queued ?? 0), 0),
        refused: st.reduce((a, x) => a + (x.queue?.refused ?? 0), 0),
        expired: st.reduce((a, x) => a + (x.queue?.expired ?? 0), 0),
        metricPresent: st.some((x) => x.queue !== undefined),
      },
    };
  });
  const d = stats.get('direct') as RoundStats[];
  const over = (name: TargetName) => figure((stats.get(name) as RoundStats[]).map((x, i) => x.all / (d[i]?.all ?? Number.NaN)));
  const floors: StormResults['floors'] = { classical: over('classical'), ...(s.nodeWs ? { 'node-ws': over('node-ws') } : {}) };
  return { rows, ratio: over('sealed'), floors };
}
