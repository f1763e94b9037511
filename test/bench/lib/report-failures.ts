// Failed sessions of every scenario in one place — summary.json's
// `failed_sessions` (scenario → configuration → failure key → count) and the
// report's table — so a figure measured over fewer sessions than asked for,
// or a run that lost sessions, says so beside the numbers.

import { describeCounts, type FailureCounts, totalFailures } from './failures.ts';
import { type Results, table } from './report.ts';

/** scenario → configuration → failed sessions by key. */
export type FailedSessions = Record<string, Record<string, FailureCounts>>;

export function failedSessions(r: Results): FailedSessions {
  const out: FailedSessions = {};
  const put = (scenario: string, config: string, c: FailureCounts | undefined) => {
    out[scenario] ??= {};
    (out[scenario] as Record<string, FailureCounts>)[config] = c ?? {};
  };
  for (const x of r.handshake?.rows ?? []) put('handshake', `${x.algorithm} ${x.backend}`, x.failedSessions);
  for (const x of r.join?.rows ?? []) put('join', x.config, x.failedSessions);
  for (const x of r.relay?.rows ?? []) put('relay', x.target, x.failedSessions);
  for (const x of r.storm?.rows ?? []) {
    put('storm', `${x.target}: reconnect`, x.failedSessions);
    put('storm', `${x.target}: initial join`, x.setupFailedSessions);
  }
  if (r.scale) put('scale', 'sealed in-band ML-KEM-768', r.scale.failedSessions);
  for (const x of r.rtt?.rows ?? []) put('rtt', `${x.rttMs} ms ${x.config}`, x.failedSessions);
  return out;
}

/** Attempts that failed and were retried (storm and scale retry like livekit-client): scenario → configuration → key → count. */
export function retriedAttempts(r: Results): FailedSessions {
  const out: FailedSessions = {};
  if (r.storm) out.storm = Object.fromEntries(r.storm.rows.map((x) => [x.target, x.retryReasons ?? {}]));
  if (r.scale) out.scale = { 'sealed in-band ML-KEM-768': r.scale.retryReasons ?? {} };
  return out;
}

export function failuresTotal(f: FailedSessions): number {
  return Object.values(f).reduce((a, s) => a + Object.values(s).reduce((b, c) => b + totalFailures(c), 0), 0);
}

/** The report's section: a row per configuration that lost sessions or retried attempts; one sentence when none did. */
export function failuresTable(r: Results): string {
  const f = failedSessions(r);
  const retried = retriedAttempts(r);
  const all = Object.entries(f).flatMap(([scenario, configs]) =>
    Object.entries(configs).map(([config, c]) => {
      const again = config.endsWith('initial join') ? undefined : retried[scenario]?.[config.replace(/: .*$/, '')];
      return { scenario, config, c, again };
    }),
  );
  if (!all.length) return '';
  const rows = all
    .filter((x) => totalFailures(x.c) > 0 || totalFailures(x.again) > 0)
    .map((x) => [x.scenario, x.config, String(totalFailures(x.c)), describeCounts(x.c), x.again ? describeCounts(x.again) : '—']);
  const scenarios = Object.keys(f).join(', ');
  return [
    `### Failed sessions (${failuresTotal(f)} in all)\n`,
    'Every session that failed to join (after any retries) or ended without the benchmark ending it, by close code or HTTP status ' +
      `(summary.json \`failed_sessions\`, every configuration of ${scenarios}); no scenario stops or retries silently on one, and a figure is measured over the sessions that did not fail.\n`,
    rows.length
      ? table(['scenario', 'configuration', 'failed', 'by close code / HTTP status', 'attempts retried (then joined or counted as failed)'], rows)
      : `No session failed and no attempt was retried in any of the ${all.length} configurations.`,
  ].join('\n');
}
