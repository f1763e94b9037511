// `npm run bench` (full) and `npm run bench:smoke` (tiny sizes, also run by
// test/bench/smoke.test.ts): every scenario against a real livekit-server,
// the volly-pq proxy and nginx as separate processes on loopback ports.
// Prints markdown tables; writes out/summary.json, out/report.md, out/chart.svg
// (the published run, with its reading, is docs/reports/bench.md; its chart,
// docs/reports/bench-chart.svg, is that run's out/chart.svg).
//
//   node test/bench/run.ts [--smoke] [--only=handshake,join,relay,storm,rtt,scale,e2ee] [--out=DIR] [--profile] [--rtt-joins=N]
//   node test/bench/run.ts --render=DIR/summary.json   (re-render a stored run's report.md and chart.svg)
//
// --profile runs the proxies (and the bare Node.js relay) with --cpu-prof and takes heap snapshots of the
// scale proxy (baseline and first level); all land in OUT/profiles, for
// test/scripts/profile.ts and test/scripts/heap.ts.
// Every load loop is bounded in count and time; only loopback addresses are used.
// A scenario never dies of a failed session: failures are counted by close
// code / HTTP status into summary.json's failed_sessions and the report; a
// scenario that throws anyway is recorded in scenario_errors and the run goes on.

import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { PROXY_BIN } from '../harness/child-proxy.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { LIVEKIT_VERSION } from '../harness/livekit-binary.ts';
import { cpuMicros, machineBusyMicros, overTree, raiseFdLimit } from '../harness/procfs.ts';
import { headlines } from './lib/headlines.ts';
import { render } from './lib/render.ts';
import type { Results } from './lib/report.ts';
import { failedSessions, failuresTotal, retriedAttempts } from './lib/report-failures.ts';
import { type BenchNginx, type BenchProxy, nginxAvailable, startBenchProxy, startNginx, startNodeWsRelay } from './lib/servers.ts';
import { machineInfo } from './lib/sysinfo.ts';
import { e2eeTable, runE2ee } from './scenarios/e2ee.ts';
import { runHandshake } from './scenarios/handshake.ts';
import { v2HandshakeSummary } from './scenarios/handshake-v2.ts';
import { runJoin } from './scenarios/join.ts';
import { runRelay } from './scenarios/relay.ts';
import { rttSummary, runRtt } from './scenarios/rtt.ts';
import { runScale } from './scenarios/scale.ts';
import { runStorm } from './scenarios/storm.ts';

export const SCENARIOS = ['handshake', 'join', 'relay', 'storm', 'rtt', 'scale'] as const;
/** Run only when named in --only (Chromium pages; docs/E2EE.md's cost). */
export const OPT_IN_SCENARIOS = ['e2ee'] as const;
export type ScenarioName = (typeof SCENARIOS)[number] | (typeof OPT_IN_SCENARIOS)[number];

export const SIZES = {
  full: {
    handshake: { rounds: 5, roundMs: 300 },
    join: { rounds: 5, joins: 150, warmup: 40 },
    relay: { rounds: 3, sessions: 400, intervalMs: 250, warmupMs: 1_500, windowMs: 8_000 },
    storm: { rounds: 5, clients: 2_000, timeoutMs: 60_000 },
    rtt: { rttsMs: [40, 100], joins: 15, warmup: 2 },
    scale: { levels: [1_000, 5_000, 10_000], concurrency: 64, pingIntervalMs: 15_000, samples: 3, lagWindowMs: 3_000, rampBudgetMs: 52_000 },
    e2ee: { sizes: [2, 4, 8], rounds: 3 },
  },
  smoke: {
    handshake: { rounds: 2, roundMs: 10 },
    join: { rounds: 2, joins: 4, warmup: 1 },
    relay: { rounds: 2, sessions: 10, intervalMs: 100, warmupMs: 300, windowMs: 1_000 },
    storm: { rounds: 2, clients: 20, timeoutMs: 30_000 },
    rtt: { rttsMs: [40, 100], joins: 2, warmup: 1 },
    scale: { levels: [20, 40], concurrency: 10, pingIntervalMs: 2_000, samples: 2, lagWindowMs: 500, rampBudgetMs: 30_000 },
    e2ee: { sizes: [3], rounds: 1 },
  },
};

export interface BenchOptions {
  readonly smoke?: boolean;
  readonly only?: readonly ScenarioName[];
  readonly outDir?: string;
  readonly profile?: boolean;
  /** Measured joins per configuration and RTT in the rtt scenario (overrides the size). */
  readonly rttJoins?: number;
  readonly log?: (line: string) => void;
}

export interface BenchOutput {
  readonly results: Results;
  readonly summary: Record<string, unknown>;
  readonly markdown: string;
  readonly files: { summary: string; report: string; chart: string };
}

export const DEFAULT_OUT = fileURLToPath(new URL('./out/', import.meta.url));
/** Open files the 10k-session scenario needs (client, proxy both sides, LiveKit): raised where the OS lets us. */
const WANT_FDS = 262_144;

export async function runBench(opts: BenchOptions = {}): Promise<BenchOutput> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`[bench] ${line}\n`));
  const base = opts.smoke ? SIZES.smoke : SIZES.full;
  const sizes = opts.rttJoins ? { ...base, rtt: { ...base.rtt, joins: opts.rttJoins } } : base;
  const only = new Set<ScenarioName>(opts.only?.length ? opts.only : SCENARIOS);
  const outDir = opts.outDir ?? DEFAULT_OUT;
  mkdirSync(outDir, { recursive: true });
  const profileDir = join(outDir, 'profiles');
  if (opts.profile) mkdirSync(profileDir, { recursive: true });
  const proxyArgs = opts.profile ? ['--cpu-prof', `--cpu-prof-dir=${profileDir}`] : [];
  const started = performance.now();
  const startedAt = new Date().toISOString();
  const fd = raiseFdLimit(WANT_FDS);
  log(`open-file limit ${fd.soft} (${fd.raised ? 'raised' : 'unchanged'})`);
  const results: Results = {};
  const timings: Record<string, number> = {};
  // Other processes on the machine (the box is shared) skew every figure:
  // each scenario records how busy the machine was beyond our own processes.
  const extraPids: Array<() => number | undefined> = [];
  const ownCpu = () => {
    const u = process.cpuUsage();
    let total = u.user + u.system;
    for (const pid of extraPids) {
      const p = pid();
      if (p === undefined) continue;
      try {
        total += overTree(p, cpuMicros);
      } catch {
        // exited
      }
    }
    return total;
  };
  const foreign: Record<string, number> = {};
  const errors: Record<string, string> = {};
  // A scenario that throws is recorded (and its figures are missing), not the end of the run.
  const time = async <T>(name: string, fn: () => Promise<T>): Promise<T | undefined> => {
    const t0 = performance.now();
    const m0 = machineBusyMicros();
    const o0 = ownCpu();
    try {
      return await fn();
    } catch (err) {
      errors[name] = err instanceof Error ? `${err.name}: ${err.message}` : String(err);
      log(`${name} FAILED: ${errors[name]}`);
      return undefined;
    } finally {
      const wallUs = (performance.now() - t0) * 1000;
      foreign[name] = Math.max(0, Math.round(((machineBusyMicros() - m0 - (ownCpu() - o0)) / (wallUs * cpus().length)) * 1000) / 10);
      timings[name] = Math.round(wallUs / 100_000) / 10;
      log(`${name} took ${timings[name]} s; other processes kept ${foreign[name]}% of the machine busy`);
    }
  };

  const set = <K extends keyof Results>(k: K, v: Results[K] | undefined) => {
    if (v) results[k] = v;
  };
  if (only.has('handshake')) set('handshake', await time('handshake', () => runHandshake(sizes.handshake, log)));

  let livekit: LiveKitServer | undefined;
  let proxy: BenchProxy | undefined;
  let nginx: BenchNginx | undefined;
  let nginxVersion: string | undefined;
  let nodeWs: BenchNginx | undefined;
  try {
    const network = ['join', 'relay', 'storm', 'rtt', 'scale', 'e2ee'].some((s) => only.has(s as ScenarioName));
    if (network) {
      livekit = await startLiveKit({ logLevel: 'error' });
      proxy = await startBenchProxy(livekit, { nodeArgs: proxyArgs });
      const lk = livekit;
      const px = proxy;
      extraPids.push(
        () => lk.pid,
        () => px.pid,
        () => nginx?.pid,
      );
      if (nginxAvailable()) {
        nginx = await startNginx(livekit);
        nginxVersion = nginx.version;
      } else log('nginx not found: the nginx rows are left out');
      nodeWs = await startNodeWsRelay(livekit, { nodeArgs: proxyArgs });
      log(`LiveKit ${LIVEKIT_VERSION} on ${livekit.url} (pid ${livekit.pid}), proxy ${proxy.wsUrl} (pid ${proxy.pid}), nginx ${nginx?.wsUrl ?? 'none'}`);
      const servers = { livekit, proxy, nginx, nodeWs };
      if (only.has('join')) set('join', await time('join', () => runJoin(servers, sizes.join, log)));
      if (only.has('rtt')) set('rtt', await time('rtt', () => runRtt(servers, sizes.rtt, log)));
      if (only.has('relay')) set('relay', await time('relay', () => runRelay(servers, sizes.relay, log)));
      if (only.has('storm')) set('storm', await time('storm', () => runStorm(servers, sizes.storm, log)));
      const e2ee = only.has('e2ee') ? await time('e2ee', () => runE2ee(servers, sizes.e2ee, log)) : undefined;
      if (e2ee) {
        Object.assign(results, { e2ee });
        log(`e2ee:\n${e2eeTable(e2ee)}`);
      }
      if (only.has('scale')) {
        // A fresh LiveKit (the storms leave gigabytes of Go heap behind) and a
        // proxy of its own, with the inspector open so each sample follows a
        // full GC, and a 30 s upstream dial timeout: LiveKit, not the proxy,
        // is the bottleneck of a 10k ramp on two cores.
        if (only.has('join') || only.has('relay') || only.has('storm')) await livekit.restart();
        const scaleProxy = await startBenchProxy(livekit, { inspect: true, nodeArgs: proxyArgs, env: { VOLLY_HANDSHAKE_TIMEOUT_MS: '30000' } });
        extraPids.push(() => scaleProxy.pid);
        try {
          const scaleOpts = opts.profile ? { ...sizes.scale, heapSnapshotDir: profileDir } : sizes.scale;
          set('scale', await time('scale', () => runScale(livekit as LiveKitServer, scaleProxy, scaleOpts, fd.soft, log)));
        } finally {
          await scaleProxy.stop();
        }
      }
    }
  } finally {
    await proxy?.stop().catch(() => {});
    await nginx?.stop().catch(() => {});
    await nodeWs?.stop().catch(() => {});
    await livekit?.stop().catch(() => {});
  }

  const durationS = Math.round((performance.now() - started) / 1000);
  const git = (...args: string[]) => {
    try {
      return execFileSync('git', args, {
        cwd: fileURLToPath(new URL('../../', import.meta.url)),
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'ignore'],
      }).trim();
    } catch {
      return '';
    }
  };
  const commit = git('rev-parse', '--short', 'HEAD') || 'unknown';
  const dirty = git('status', '--porcelain', '--untracked-files=no', '--', 'proxy/src', 'shared/src') !== '';
  const machine = machineInfo();
  const heads = headlines(results);
  const summary: Record<string, unknown> = {
    ...Object.fromEntries(heads.map((h) => [h.key, h.figure?.median ?? null])),
    targets: Object.fromEntries(heads.map((h) => [h.key, h.target])),
    met: Object.fromEntries(heads.map((h) => [h.key, h.figure && Number.isFinite(h.figure.median) ? h.figure.median <= h.target : null])),
    spread: Object.fromEntries(heads.map((h) => [h.key, h.figure ? { min: h.figure.min, max: h.figure.max, rounds: h.figure.rounds } : null])),
    // The same figure for the bare Node.js + ws relay, where the headline has one (its floor on Node.js).
    bare_relay: Object.fromEntries(heads.filter((h) => 'bareRelay' in h).map((h) => [h.key, h.bareRelay?.median ?? null])),
    ...rttSummary(results.rtt),
    ...v2HandshakeSummary(results.handshake?.v2),
    failed_sessions_total: failuresTotal(failedSessions(results)),
    failed_sessions: failedSessions(results),
    retried_attempts: retriedAttempts(results),
    scenario_errors: errors,
    runtime: { node: process.version, v8: process.versions.v8, openssl: process.versions.openssl, ...machine.runtime },
    machine: machine.machine,
    livekit: LIVEKIT_VERSION,
    commit,
    proxy_sources_modified: dirty,
    proxy_bin: PROXY_BIN,
    nginx: nginxVersion ?? null,
    mode: opts.smoke ? 'smoke' : 'full',
    sizes,
    started_at: startedAt,
    duration_s: durationS,
    scenario_seconds: timings,
    foreign_busy_percent: foreign,
    load_average_end: machine.machine.loadAverage,
    fd_limit: fd.soft,
    scenarios: results,
  };
  const files = { summary: join(outDir, 'summary.json'), report: join(outDir, 'report.md'), chart: join(outDir, 'chart.svg') };
  writeFileSync(files.summary, `${JSON.stringify(summary, (_k, v) => (typeof v === 'number' && !Number.isFinite(v) ? null : v), 2)}\n`);
  const { markdown, chart } = render(summary);
  writeFileSync(files.report, `# volly-signaling benchmark: the cost of PQ signaling\n\n![join latency and relay cost](chart.svg)\n\n${markdown}\n`);
  writeFileSync(files.chart, chart);
  return { results, summary, markdown, files };
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const { values } = parseArgs({
    options: {
      smoke: { type: 'boolean' },
      only: { type: 'string' },
      out: { type: 'string' },
      profile: { type: 'boolean' },
      render: { type: 'string' },
      'rtt-joins': { type: 'string' },
    },
  });
  if (values.render) {
    // Re-render a stored run (its summary.json) with the current report code: report.md and chart.svg beside it.
    const stored = JSON.parse(readFileSync(values.render, 'utf8'), (_k, v) => (v === null ? Number.NaN : v)) as Record<string, unknown>;
    const { markdown, chart } = render(stored);
    const dir = dirname(values.render);
    writeFileSync(
      join(dir, 'report.md'),
      `# volly-signaling benchmark: the cost of PQ signaling\n\n![join latency and relay cost](chart.svg)\n\n${markdown}\n`,
    );
    writeFileSync(join(dir, 'chart.svg'), chart);
    process.stdout.write(`${markdown}\n`);
    process.exit(0);
  }
  const only = (values.only ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const known: readonly string[] = [...SCENARIOS, ...OPT_IN_SCENARIOS];
  for (const s of only) if (!known.includes(s)) throw new Error(`unknown scenario ${s} (known: ${known.join(', ')})`);
  const rttJoins = values['rtt-joins'] ? Number(values['rtt-joins']) : undefined;
  if (rttJoins !== undefined && !(Number.isInteger(rttJoins) && rttJoins > 0)) throw new Error('--rtt-joins must be a positive integer');
  const out = await runBench({
    smoke: !!values.smoke,
    only: only as ScenarioName[],
    ...(values.out ? { outDir: values.out } : {}),
    profile: !!values.profile,
    ...(rttJoins ? { rttJoins } : {}),
  });
  process.stdout.write(`${out.markdown}\n\nWrote ${out.files.summary}, ${out.files.report}, ${out.files.chart}\n`);
  // Timers of closed sockets and the harness's children must not keep us alive.
  process.exit(0);
}
