// report.md's markdown and chart.svg of a run, from its summary (as written
// by run.ts, or read back from a stored summary.json for --render).

import { chartSvg } from './chart.ts';
import { headlineTable, type Results, scenarioTables } from './report.ts';
import { failuresTable } from './report-failures.ts';
import { rttTable } from './report-rtt.ts';
import type { machineInfo } from './sysinfo.ts';

type Stored = Record<string, unknown> & {
  machine: ReturnType<typeof machineInfo>['machine'];
  runtime: ReturnType<typeof machineInfo>['runtime'] & { node: string; v8: string; openssl: string };
  scenarios: Results;
  scenario_seconds: Record<string, number>;
  foreign_busy_percent: Record<string, number>;
};

/** The markdown tables and the chart of a run, from its summary (as written, or read back from summary.json). */
export function render(summary: Record<string, unknown>): { markdown: string; chart: string } {
  const s = summary as Stored;
  const m = s.machine;
  const rt = s.runtime;
  const smoke = s.mode === 'smoke';
  const list = (o: Record<string, number>, f: (k: string, v: number) => string) =>
    Object.entries(o ?? {})
      .map(([k, v]) => f(k, v))
      .join(', ');
  const subtitle = `${m.cpuModel} x${m.cores}, ${m.memoryGiB} GiB, ${m.os}; Node ${rt.node}; LiveKit ${s.livekit}; ${smoke ? 'SMOKE sizes' : 'full run'} ${s.started_at}`;
  const markdown = [
    `## Headline figures${smoke ? ' (smoke sizes: not meaningful)' : ''}\n`,
    headlineTable(s.scenarios),
    '',
    scenarioTables(s.scenarios),
    rttTable(s.scenarios.rtt),
    '',
    failuresTable(s.scenarios),
    ...Object.entries((s.scenario_errors ?? {}) as Record<string, string>).map(([k, v]) => `\n**Scenario ${k} did not finish**: ${v}`),
    '',
    `Machine: ${m.cpuModel}, ${m.cores} cores, ${m.memoryGiB} GiB, ${m.os}, kernel ${m.kernel}. ` +
      `Runtime: Node ${rt.node} (V8 ${rt.v8}, OpenSSL ${rt.openssl}), KEM backends ${rt.kemBackends.join(', ')}, AEAD backends ${rt.aeadBackends.join(', ')}. ` +
      `LiveKit ${s.livekit}${typeof s.nginx === 'string' ? `, nginx ${s.nginx}` : ''}. Commit ${s.commit}${s.proxy_sources_modified === true ? ' (with uncommitted changes in proxy/src or shared/src)' : ''}. ` +
      `Run started ${s.started_at}, took ${s.duration_s} s (${list(s.scenario_seconds, (k, v) => `${k} ${v} s`)}); load average at the end ${(m.loadAverage ?? []).join(' / ')}. ` +
      `The machine is shared: other processes kept it busy ${list(s.foreign_busy_percent, (k, v) => `${v}% during ${k}`)} (share of all cores, beyond the benchmark's own processes).`,
  ].join('\n');
  return { markdown, chart: chartSvg(s.scenarios, subtitle) };
}
