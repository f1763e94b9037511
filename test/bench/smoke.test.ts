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
      'handshake_us',
      'relay_ratio_classical',
      'relay_ratio_nginx',
      'rss_kib_per_session',
      'storm_ratio',
      'runtime',
      'machine',
    ]) {
      expect(summary, key).toHaveProperty(key);
    }
    expect(readFileSync(out.files.report, 'utf8')).toContain('| figure |');
    expect(readFileSync(out.files.chart, 'utf8')).toMatch(/^<svg [^>]*>[\s\S]*<\/svg>\s*$/);
  });

  it('every scenario produced finite figures', () => {
    const r = out.results;
    for (const row of r.handshake?.rows ?? []) finite(row.us, `handshake ${row.algorithm} ${row.backend}`);
    expect(r.handshake?.rows.length).toBeGreaterThanOrEqual(2);
    finite(r.handshake?.authorizeUs, 'authorize');
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
  });
});
