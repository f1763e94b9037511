// What the report and summary.json say about failures, the targets and the
// proxy's handshake queue, from results as the scenarios return them.

import { describe, expect, it } from 'vitest';
import { parseMetrics } from '../../harness/metrics.ts';
import type { JoinResults } from '../scenarios/join.ts';
import type { ScaleResults } from '../scenarios/scale.ts';
import { queueCounts, type StormResults, type StormRow } from '../scenarios/storm.ts';
import { headlines } from './headlines.ts';
import { headlineTable, scenarioTables } from './report.ts';
import { failedSessions, failuresTable, failuresTotal } from './report-failures.ts';
import type { BenchProxy } from './servers.ts';
import { figure } from './stats.ts';

const f = (...xs: number[]) => figure(xs);

const joinRow = (config: string, ratio: number, cpu: number | undefined) => ({
  config,
  p50Ms: f(1),
  p99Ms: f(2),
  ratioP50: f(ratio),
  ratioP99: f(ratio + 0.1),
  relayCpuUsPerSession: cpu === undefined ? undefined : f(cpu),
  failures: 0,
  failedSessions: {},
});

const join: JoinResults = {
  rows: [joinRow('direct', 1, undefined), joinRow('bare Node.js + ws relay', 1.3, 2000), joinRow('sealed in-band ML-KEM-768', 2, 3000)],
};

const stormRow = (target: 'direct' | 'sealed'): StormRow => ({
  target,
  allJoinedS: f(1),
  joinP50Ms: f(1),
  joinP99Ms: f(1),
  retries: f(target === 'sealed' ? 7 : 0),
  retryReasons: target === 'sealed' ? { 'HTTP 429': 7 } : {},
  failures: target === 'sealed' ? 2 : 0,
  failedSessions: target === 'sealed' ? { 'close 4502': 1, timeout: 1 } : {},
  setupFailedSessions: {},
  handshakeQueue: { queued: target === 'sealed' ? 40 : 0, refused: target === 'sealed' ? 7 : 0, expired: 0, metricPresent: target === 'sealed' },
});
const storm: StormResults = { rows: [stormRow('direct'), stormRow('sealed')], ratio: f(1.1), floors: {} };

const scale = { levels: [], failedSessions: { 'close 4400': 1 }, retryReasons: {} } as unknown as ScaleResults;

describe('bench report', () => {
  it('defines the issue-14 targets and join_cpu_ratio, with the bare relay beside join_ratio_p50/p99', () => {
    const h = Object.fromEntries(headlines({ join }).map((x) => [x.key, x]));
    expect(Object.fromEntries(Object.values(h).map((x) => [x.key, x.target]))).toMatchObject({
      join_cpu_ratio: 1.25,
      join_ratio_p50: 1.5,
      handshake_us: 150,
      relay_ratio_classical: 1.1,
      storm_ratio: 1.2,
      rss_kib_per_session: 24,
    });
    expect(h.join_cpu_ratio?.figure?.median).toBe(1.5);
    expect(h.join_ratio_p50?.bareRelay?.median).toBe(1.3);
    expect(h.join_ratio_p99?.bareRelay?.median).toBeCloseTo(1.4);
    expect(headlineTable({ join })).toContain('| bare Node.js + ws relay |');
  });

  it('counts failed sessions per scenario and configuration, and shows them with the retried attempts', () => {
    const r = { join, storm, scale };
    expect(failedSessions(r).storm?.['sealed: reconnect']).toEqual({ 'close 4502': 1, timeout: 1 });
    expect(failedSessions(r).scale).toEqual({ 'sealed in-band ML-KEM-768': { 'close 4400': 1 } });
    expect(failuresTotal(failedSessions(r))).toBe(3);
    const md = failuresTable(r);
    expect(md).toContain('### Failed sessions (3 in all)');
    expect(md).toContain('| storm | sealed: reconnect | 2 | 1 × close 4502; 1 × timeout | 7 × HTTP 429 |');
    expect(md).toContain('| scale | sealed in-band ML-KEM-768 | 1 | 1 × close 4400 | none |');
  });

  it("shows the proxy's handshake queue counts in the storm table", () => {
    expect(scenarioTables({ storm })).toContain('| 2 | 40 / 7 / 0 |');
  });

  it('reads volly_handshake_queue_total by result, and reports none when the proxy has no such metric', async () => {
    const proxy = (text: string) => ({ proxy: { metrics: async () => parseMetrics(text) } as unknown as BenchProxy });
    const text = [
      '# TYPE volly_handshake_queue_total counter',
      'volly_handshake_queue_total{result="queued"} 12',
      '# TYPE volly_handshake_refusals_total counter',
      'volly_handshake_refusals_total{reason="busy"} 2',
      'volly_handshake_refusals_total{reason="source"} 1',
      'volly_handshake_queue_total{result="expired"} 1',
      'volly_handshakes_active 0',
    ].join('\n');
    expect(await queueCounts(proxy(text))).toEqual({ queued: 12, refused: 3, expired: 1 });
    expect(await queueCounts(proxy('volly_handshakes_active 0\n'))).toBeUndefined();
    const broken = { proxy: { metrics: async () => Promise.reject(new Error('down')) } as unknown as BenchProxy };
    expect(await queueCounts(broken)).toBeUndefined();
  });
});
