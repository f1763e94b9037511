// What a plain-HTTP fuzz run counts, and what must be zero for it to be clean.

import { readFileSync } from 'node:fs';
import type { FindingKind } from './fuzz-http-oracle.ts';

export interface HttpFinding {
  readonly index: number;
  readonly kind: FindingKind;
  readonly outcome: string;
  readonly detail: string;
}

export interface HttpFuzzStats {
  inputs: number;
  durationMs: number;
  /** Outcomes over all inputs: `http NNN`, `closed without response`, `reset`, ... */
  byOutcome: Record<string, number>;
  /** Outcomes per route (validate, twirp, whip, root, demo, admin, other). */
  byRoute: Record<string, Record<string, number>>;
  bySource: Record<string, number>;
  /** Wall time of one exchange: under 100 ms, 1 s, 3.5 s, and over. */
  latency: Record<string, number>;
  byCred: Record<string, number>;
  crashes: number;
  /** PQ-bound 2xx answers that the same request without the token also gets (not acceptance: see the engine). */
  boundTwoXxAnyway: number;
  /** Each crash: the input that killed the process when replayed alone, and the proxy's last words. */
  crashDetails: string[];
  /** Inputs in flight while the proxy was down (not judged). */
  duringCrash: number;
  canaries: { ok: number; failed: number; maxMs: number; failures: string[] };
  /** Fuzz identities LiveKit listed as participants, and its "starting RTC session" lines for one. */
  liveKit: { participants: string[]; logLines: number };
  findings: HttpFinding[];
  findingCount: number;
}

/** Counts one more `k` in a tally of outcomes, routes, kinds. */
export const bump = (m: Record<string, number>, k: string): void => {
  m[k] = (m[k] ?? 0) + 1;
};

export const emptyStats = (): HttpFuzzStats => ({
  inputs: 0,
  durationMs: 0,
  byOutcome: {},
  byRoute: {},
  bySource: {},
  latency: {},
  byCred: {},
  crashes: 0,
  boundTwoXxAnyway: 0,
  crashDetails: [],
  duringCrash: 0,
  canaries: { ok: 0, failed: 0, maxMs: 0, failures: [] },
  liveKit: { participants: [], logLines: 0 },
  findings: [],
  findingCount: 0,
});

/** The proxy's fatal log line, reduced to its event and first line of error. */
export function lastWords(logFile: string): string {
  const lines = readFileSync(logFile, 'utf8').trimEnd().split('\n').slice(-20).reverse();
  const fatal = lines.find((l) => l.includes('"crash"'));
  if (!fatal) return 'no crash line in its log';
  const j = JSON.parse(fatal) as { what?: string; err?: string };
  return `${j.what}: ${String(j.err).split('\n')[0]?.slice(0, 160)}`;
}

/** Everything that must be zero for a clean run. */
export function httpProblems(s: HttpFuzzStats): string[] {
  const p: string[] = [];
  if (s.crashes) p.push(`${s.crashes} crashes: ${s.crashDetails.join(' | ').slice(0, 600)}`);
  if (s.canaries.failed) p.push(`${s.canaries.failed} canaries failed: ${s.canaries.failures.join('; ')}`);
  if (s.liveKit.participants.length || s.liveKit.logLines)
    p.push(`LiveKit saw fuzz identities: ${s.liveKit.participants.join(', ')} (${s.liveKit.logLines} log lines)`);
  if (s.findingCount) p.push(`${s.findingCount} findings`);
  for (const f of s.findings.slice(0, 20)) p.push(`#${f.index} ${f.kind}: ${f.outcome} — ${f.detail.slice(0, 240)}`);
  return p;
}
