// The one rule every fuzz runner keeps its findings by: count them all, keep
// the first `cap` (a run can find the same fault thousands of times, and a
// report of every one would bury the first).

export interface Findings<T> {
  findingCount: number;
  findings: T[];
}

/** Counts `f` and keeps it while fewer than `cap` are kept; returns whether it was kept. */
export function keepFinding<T>(s: Findings<T>, f: T, cap: number): boolean {
  s.findingCount++;
  if (s.findings.length >= cap) return false;
  s.findings.push(f);
  return true;
}
