// Scenario 1: join latency — time from opening the socket (and, in-band, the
// client's key generation) to the decoded JoinResponse, over N sequential
// joins per configuration and round: direct to LiveKit, through nginx, through
// a bare Node.js + ws relay (the floor of a Node.js relay), through the proxy
// classical, and sealed: volly-pq.v1 in-band and token-bound, and volly-pq.v2
// (the shipped default) unbound and bound, per algorithm. Like v1 in-band's key
// generation, v2's first flight (built before the socket) is in the time.
// Each session leaves (LeaveRequest, close) before the next one starts. The
// proxy process's CPU per session (join + leave) is taken over each batch.

import { getKem, KEM_ALGORITHMS, type KemAlgorithm, type KemKeyPair, type v2 } from '@volly/shared';
import { fetchServerKeys } from '../../harness/v2-signal.ts';
import { type BenchSession, openSession } from '../lib/client.ts';
import { openV2Session } from '../lib/client-v2.ts';
import { countFailure, type FailureCounts } from '../lib/failures.ts';
import { type Figure, figure, median, p99, ratioFigure } from '../lib/stats.ts';
import { mintToken } from '../lib/tokens.ts';
import { rotate, type Servers, type Target, target, within } from './common.ts';

export interface JoinOptions {
  readonly rounds: number;
  /** Sequential joins per configuration and round. */
  readonly joins: number;
  /** Unmeasured joins per configuration before the first round. */
  readonly warmup: number;
}

export interface JoinRow {
  readonly config: string;
  readonly p50Ms: Figure;
  readonly p99Ms: Figure;
  readonly ratioP50: Figure;
  readonly ratioP99: Figure;
  /** Proxy (or nginx) CPU per session, join + leave; undefined for direct. */
  readonly relayCpuUsPerSession: Figure | undefined;
  /** Measured joins that failed. */
  readonly failures: number;
  /** Every failed session of this configuration (warm-up and room priming too), by failure key. */
  readonly failedSessions: FailureCounts;
}

export interface JoinResults {
  readonly rows: JoinRow[];
}

interface Config {
  readonly name: string;
  readonly target: Target;
  /** Token-bound: sessions need a key pair in the token. */
  readonly bound?: KemAlgorithm;
  /** volly-pq.v2 to the proxy's static key of this algorithm (bound: the token names a client key of it too). */
  readonly v2?: KemAlgorithm;
  readonly cpu?: () => number;
}

function configs(s: Servers): Config[] {
  const out: Config[] = [{ name: 'direct', target: target(s, 'direct') }];
  if (s.nginx) out.push({ name: 'nginx', target: target(s, 'nginx'), cpu: s.nginx.cpuMicros });
  if (s.nodeWs) out.push({ name: 'bare Node.js + ws relay', target: target(s, 'node-ws'), cpu: s.nodeWs.cpuMicros });
  out.push({ name: 'proxy classical', target: target(s, 'classical'), cpu: s.proxy.cpuMicros });
  const base = target(s, 'sealed');
  for (const algorithm of KEM_ALGORITHMS) {
    out.push({ name: `sealed in-band ${algorithm}`, target: { ...base, sealed: { algorithm, flow: 'in-band' } }, cpu: s.proxy.cpuMicros });
  }
  for (const algorithm of KEM_ALGORITHMS) {
    out.push({
      name: `sealed token-bound ${algorithm}`,
      target: { ...base, sealed: { algorithm, flow: 'token-bound' } },
      bound: algorithm,
      cpu: s.proxy.cpuMicros,
    });
  }
  for (const algorithm of KEM_ALGORITHMS) out.push({ name: `sealed v2 ${algorithm}`, target: target(s, 'classical'), v2: algorithm, cpu: s.proxy.cpuMicros });
  out.push({ name: 'sealed v2 bound X-Wing', target: target(s, 'classical'), v2: 'X-Wing', bound: 'X-Wing', cpu: s.proxy.cpuMicros });
  return out;
}

interface Prepared {
  token: string;
  keyPair?: KemKeyPair;
}

async function prepare(c: Config, tag: string, n: number): Promise<Prepared[]> {
  const room = `join-${tag}`.replace(/[^A-Za-z0-9-]/g, '');
  const out: Prepared[] = [];
  for (let i = 0; i < n; i++) {
    const identity = `${room}-${i}`;
    if (c.bound) {
      const keyPair = getKem(c.bound).keygen();
      out.push({ token: await mintToken(c.target.creds, room, identity, { algorithm: c.bound, publicKey: keyPair.publicKey }), keyPair });
    } else {
      out.push({ token: await mintToken(c.target.creds, room, identity) });
    }
  }
  return out;
}

/** One join and leave; a failure is counted under its key and rethrown. */
async function joinOnce(c: Config, p: Prepared, failed: FailureCounts, keys: readonly v2.ServerStaticKey[]): Promise<number> {
  if (c.v2) return joinV2(c, c.v2, p, failed, keys);
  const sealed = c.target.sealed ? { ...c.target.sealed, ...(p.keyPair ? { keyPair: p.keyPair } : {}) } : undefined;
  try {
    const s: BenchSession = await openSession({ baseUrl: c.target.baseUrl, token: p.token, ...(sealed ? { sealed } : {}), timeoutMs: 15_000 });
    s.close();
    await within(s.closed, 3_000);
    return s.joinMs;
  } catch (err) {
    countFailure(failed, err);
    throw err;
  }
}

/** A v2 join, timed from building the first flight to the JoinResponse. */
async function joinV2(c: Config, algorithm: KemAlgorithm, p: Prepared, failed: FailureCounts, keys: readonly v2.ServerStaticKey[]): Promise<number> {
  const serverKey = keys.find((k) => k.algorithm === algorithm);
  if (!serverKey) throw new Error(`the proxy publishes no ${algorithm} v2 key`);
  try {
    const t0 = performance.now();
    const s = await openV2Session({
      baseUrl: c.target.baseUrl,
      token: p.token,
      serverKey,
      ...(c.bound && p.keyPair ? { bound: { algorithm: c.bound, keyPair: p.keyPair } } : {}),
      timeoutMs: 15_000,
    });
    const ms = performance.now() - t0;
    await s.close();
    return ms;
  } catch (err) {
    countFailure(failed, err);
    throw err;
  }
}

interface Stats {
  p50: number[];
  p99: number[];
  cpu: number[];
  failures: number;
  failed: FailureCounts;
}

export async function runJoin(s: Servers, opts: JoinOptions, log: (line: string) => void): Promise<JoinResults> {
  const cs = configs(s);
  const keys = await fetchServerKeys(s.proxy.wsUrl);
  const perRound = new Map<string, Stats>(cs.map((c) => [c.name, { p50: [], p99: [], cpu: [], failures: 0, failed: {} }]));
  const statsOf = (c: Config) => perRound.get(c.name) as Stats;
  // Warm-up: rooms exist, JIT is warm, connections paths are primed. Failures here are counted, not measured.
  for (const c of cs) for (const p of await prepare(c, `${c.name}-warm`, opts.warmup)) await joinOnce(c, p, statsOf(c).failed, keys).catch(() => 0);
  for (let r = 0; r < opts.rounds; r++) {
    for (const c of rotate(cs, r)) {
      const prepared = await prepare(c, `${c.name}-r${r}`, opts.joins);
      // The room exists before the measured joins (a room's first join creates it).
      const stats = statsOf(c);
      await joinOnce(c, (await prepare(c, `${c.name}-r${r}`, 1))[0] as Prepared, stats.failed, keys).catch(() => 0);
      const times: number[] = [];
      const cpu0 = c.cpu?.() ?? 0;
      for (const p of prepared) {
        try {
          times.push(await joinOnce(c, p, stats.failed, keys));
        } catch {
          stats.failures++;
        }
      }
      const cpu1 = c.cpu?.() ?? 0;
      stats.p50.push(median(times));
      stats.p99.push(p99(times));
      if (c.cpu) stats.cpu.push((cpu1 - cpu0) / Math.max(1, times.length));
      log(
        `join r${r} ${c.name}: p50 ${median(times).toFixed(2)} ms, p99 ${p99(times).toFixed(2)} ms${c.cpu ? `, relay CPU ${((cpu1 - cpu0) / Math.max(1, times.length)).toFixed(0)} us/session` : ''}`,
      );
    }
  }
  const direct = perRound.get('direct') as { p50: number[]; p99: number[] };
  const d50 = figure(direct.p50);
  const d99 = figure(direct.p99);
  const rows = cs.map((c) => {
    const st = statsOf(c);
    const p50Ms = figure(st.p50);
    const p99Ms = figure(st.p99);
    return {
      config: c.name,
      p50Ms,
      p99Ms,
      ratioP50: ratioFigure(p50Ms, d50),
      ratioP99: ratioFigure(p99Ms, d99),
      relayCpuUsPerSession: c.cpu ? figure(st.cpu) : undefined,
      failures: st.failures,
      failedSessions: st.failed,
    };
  });
  return { rows };
}
