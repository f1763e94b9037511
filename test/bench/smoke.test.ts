// `npm run bench:smoke` inside vitest, so the benchmark cannot rot: every
// scenario runs at tiny sizes against the real livekit-server, the proxy and
// nginx as child processes. It never asserts on how fast anything is — only
// that every scenario produced finite figures and the files were written.

import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Figure } from './lib/stats.ts';
import { type BenchOutput, runBench } from './run.ts';

const outDir = mkdtempSync(join(tmpdir(), 'volly-bench-smoke-'));
afterAll(() => rmSync(outDir, { recursive: true, force: true }));

const finite = (f: Figure | undefined, what: string) => {
  expect(f, what).toBeDefined();
  expect(Number.isFinite(f?.median), `${what}: ${JSON.stringify(f)}`).toBe(true);
};

describe('bench:smoke', () => {
  let out: BenchOutput;

  it('runs every scenario at tiny sizes and writes summary.json, report.md and chart.svg', { timeout: 300_000 }, async () => {
    out = await runBench({ smoke: true, outDir, log: () => {} });
    for (const f of Object.values(out.files)) expect(existsSync(f), f).toBe(true);
    const summary = JSON.parse(readFileSync(out.files.summary, 'utf8')) as Record<string, unknown>;
    for (const key of [
      'join_ratio_p50',
      'join_ratio_p99',
      'join_cpu_ratio',
      'handshake_us',
      'relay_ratio_classical',
      'relay_ratio_nginx',
      'rss_kib_per_session',
      'storm_ratio',
      'rtt40_direct_ms',
      'rtt40_v1_inband_ms',
      'rtt100_v1_bound_xwing_ms',
      'rtt40_v2_ms',
      'rtt40_v2_xwing_ms',
      'rtt40_v2_bound_ms',
      'rtt100_v2_bound_xwing_ms',
      'rtt40_v2_join_ratio',
      'rtt40_v2_bound_extra_rtt',
      'v2_handshake_us',
      'v2_handshake_us_mlkem768',
      'runtime',
      'machine',
    ]) {
      expect(summary, key).toHaveProperty(key);
    }
    // Failures are counted and reported, never fatal: every scenario finished, and each has its failed-session counts.
    expect(summary.scenario_errors).toEqual({});
    expect(Object.keys(summary.failed_sessions as object).sort()).toEqual(['handshake', 'join', 'relay', 'rtt', 'scale', 'storm']);
    expect(typeof summary.failed_sessions_total).toBe('number');
    expect(summary.bare_relay).toHaveProperty('join_ratio_p99');
    expect(summary.bare_relay).toHaveProperty('relay_ratio_nginx');
    expect((summary.targets as Record<string, number>).join_cpu_ratio).toBe(1.25);
    expect((summary.targets as Record<string, number>).rtt40_v2_join_ratio).toBe(1.1);
    expect((summary.targets as Record<string, number>).rtt40_v2_bound_extra_rtt).toBe(1.1);
    for (const key of ['rtt40_v2_join_ratio', 'rtt40_v2_bound_extra_rtt', 'v2_handshake_us', 'v2_handshake_us_mlkem768'])
      expect(Number.isFinite(summary[key]), `${key}: ${summary[key]}`).toBe(true);
    const report = readFileSync(out.files.report, 'utf8');
    expect(report).toContain('| figure |');
    expect(report).toContain('### Failed sessions');
    expect(report).toContain('proxy handshake queue: queued / refused (429) / expired');
    // The round-trip table: one row per configuration, both RTTs side by side, the extra round trips over direct.
    expect(report).toContain('| configuration | 40 ms RTT: median ms | 40 ms: extra RTTs vs direct | 100 ms RTT: median ms |');
    for (const row of ['| v2 unbound X-Wing |', '| v2 bound ML-KEM-768 |', '| v1 token-bound X-Wing |']) expect(report).toContain(row);
    expect(report).toContain('volly-pq.v2: proxy CPU per server handshake');
    const chart = readFileSync(out.files.chart, 'utf8');
    expect(chart).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\s*$/);
    expect(chart).toContain('Join over an emulated round trip');
    expect(chart).toContain('>v2 bound X-Wing</text>');
  });

  it('every scenario produced finite figures', () => {
    const r = out.results;
    for (const row of r.handshake?.rows ?? []) finite(row.us, `handshake ${row.algorithm} ${row.backend}`);
    expect(r.handshake?.rows.length).toBeGreaterThanOrEqual(2);
    finite(r.handshake?.authorizeUs, 'authorize');
    expect(r.handshake?.v2?.map((x) => `${x.algorithm} ${x.flow}`).sort()).toEqual([
      'ML-KEM-768 bound',
      'ML-KEM-768 unbound',
      'X-Wing bound',
      'X-Wing unbound',
    ]);
    for (const row of r.handshake?.v2 ?? []) {
      finite(row.us, `v2 handshake ${row.algorithm} ${row.flow}`);
      expect(row.failedSessions, `v2 handshake ${row.algorithm} ${row.flow}`).toEqual({});
    }
    expect(r.join?.rows.length).toBeGreaterThanOrEqual(6);
    for (const row of r.join?.rows ?? []) {
      finite(row.p50Ms, `join p50 ${row.config}`);
      finite(row.p99Ms, `join p99 ${row.config}`);
      finite(row.ratioP50, `join ratio ${row.config}`);
    }
    expect(r.relay?.rows.map((x) => x.target)).toEqual(expect.arrayContaining(['direct', 'classical', 'sealed']));
    for (const row of r.relay?.rows ?? []) {
      finite(row.rttP50Ms, `relay RTT ${row.target}`);
      finite(row.framesPerSecond, `relay frames/s ${row.target}`);
      if (row.target !== 'direct') finite(row.cpuUsPerFrame, `relay CPU/frame ${row.target}`);
    }
    expect(r.scale?.levels.length).toBeGreaterThanOrEqual(1);
    for (const l of r.scale?.levels ?? []) {
      finite(l.rssKiBPerSession, `scale RSS/session at ${l.sessions}`);
      expect(Number.isFinite(l.lagP99Ms), `loop delay at ${l.sessions}`).toBe(true);
    }
    for (const row of r.storm?.rows ?? []) finite(row.allJoinedS, `storm ${row.target}`);
    finite(r.storm?.ratio, 'storm ratio');
    const queue = r.storm?.rows.find((x) => x.target === 'sealed')?.handshakeQueue;
    for (const n of [queue?.queued, queue?.refused, queue?.expired]) expect(Number.isInteger(n)).toBe(true);
    expect(r.rtt?.rows.length).toBe(20);
    for (const row of r.rtt?.rows ?? []) {
      expect(Number.isFinite(row.medianMs), `rtt ${row.rttMs} ${row.config}`).toBe(true);
      expect(row.failedSessions, `rtt ${row.rttMs} ${row.config}`).toEqual({});
    }
  });
});
