// Scenario 5: reconnect storm. N clients are joined (rooms of 10); then every
// connection drops at once (TCP reset, as in a network failure) and all N
// reconnect at the same instant with the same identities — LiveKit replaces
// each stale participant. Measured: the time from the reconnect until every
// client has its JoinResponse, direct to LiveKit vs through the proxy
// (sealed, ML-KEM-768 in-band). A client whose attempt fails — HTTP 429 (the
// proxy's concurrent-handshake limit), a 4502 from the proxy (LiveKit did not
// answer its dial in time), a timeout — tries again after 50-250 ms until
// the storm's deadline, as livekit-client retries with its backoff; the
// failures are counted by reason.

import { type BenchSession, openWithRetry, pool, type RetryLog } from '../lib/client.ts';
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
}

export interface StormResults {
  readonly rows: StormRow[];
  readonly ratio: Figure;
}

interface RoundStats {
  all: number;
  p50: number;
  p99: number;
  retries: number;
  reasons: Record<string, number>;
  failures: number;
}

async function oneStorm(s: Servers, name: TargetName, r: number, o: StormOptions): Promise<RoundStats> {
  const t = target(s, name);
  const tokens = await Promise.all(Array.from({ length: o.clients }, (_, i) => mintToken(t.creds, `storm-${name}-r${r}-${Math.floor(i / 10)}`, `c${i}`)));
  const open = (i: number, deadline: number, retries: RetryLog) =>
    openWithRetry(
      { baseUrl: t.baseUrl, token: tokens[i] as string, ...(t.sealed ? { sealed: t.sealed } : {}), timeoutMs: o.timeoutMs },
      deadline,
      retries,
      'any',
    );
  // Everyone joins, paced.
  const setupRetries: RetryLog = { count: 0, reasons: {} };
  const first = await pool(o.clients, 64, (i) => open(i, performance.now() + o.timeoutMs, setupRetries).catch(() => undefined));
  await sleep(1000);
  // The network drops every connection at once...
  for (const c of first) c?.terminate();
  await sleep(50);
  // ...and every client reconnects at the same instant.
  const retries: RetryLog = { count: 0, reasons: {} };
  let failures = 0;
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
        () => {
          failures++;
          return undefined;
        },
      ),
    ),
  );
  const all = (performance.now() - t0) / 1000;
  for (const c of second) c?.close();
  await within(Promise.all(second.map((c) => c?.closed)), 10_000);
  for (const c of second) c?.terminate();
  return { all: failures > 0 ? Number.NaN : all, p50: median(joins), p99: p99(joins), retries: retries.count, reasons: retries.reasons, failures };
}

export async function runStorm(s: Servers, o: StormOptions, log: (line: string) => void): Promise<StormResults> {
  const names: TargetName[] = ['direct', 'sealed'];
  const stats = new Map<TargetName, RoundStats[]>(names.map((n) => [n, []]));
  for (let r = 0; r < o.rounds; r++) {
    for (const name of rotate(names, r)) {
      const st = await oneStorm(s, name, r, o);
      (stats.get(name) as RoundStats[]).push(st);
      log(
        `storm r${r} ${name}: all ${o.clients} joined after ${st.all.toFixed(2)} s (p50 ${st.p50.toFixed(0)} ms, p99 ${st.p99.toFixed(0)} ms), ${st.retries} retries, ${st.failures} failed`,
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
      retryReasons: st.reduce<Record<string, number>>((acc, x) => {
        for (const [k, v] of Object.entries(x.reasons)) acc[k] = (acc[k] ?? 0) + v;
        return acc;
      }, {}),
      failures: st.reduce((a, x) => a + x.failures, 0),
    };
  });
  const d = stats.get('direct') as RoundStats[];
  const p = stats.get('sealed') as RoundStats[];
  return { rows, ratio: figure(p.map((x, i) => x.all / (d[i]?.all ?? Number.NaN))) };
}
