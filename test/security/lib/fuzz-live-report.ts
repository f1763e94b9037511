// A run's verdict: every count that must be zero, and the first findings.

import type { FuzzStats } from './fuzz-live-types.ts';

/** Everything must be zero for a clean run. */
export function problems(s: FuzzStats): string[] {
  const p: string[] = [];
  const l = s.leaks;
  if (s.crashes) p.push(`${s.crashes} crashes`);
  if (s.canaries.failed) p.push(`${s.canaries.failed} canary joins failed: ${s.canaries.failures.join('; ')}`);
  if (l.observedByClient) p.push(`${l.observedByClient} leaks seen by the client`);
  if (l.dialsUnaccounted !== 0) p.push(`${l.dialsUnaccounted} upstream dials unaccounted for`);
  if (l.framesUnaccounted !== 0) p.push(`${l.framesUnaccounted} client_to_upstream frames unaccounted for`);
  if (l.liveKitJoinsForVictim) p.push(`${l.liveKitJoinsForVictim} LiveKit sessions for fz-victim`);
  if (l.liveKitJoinsTotal > l.liveKitJoinsExpectedMax)
    p.push(`${l.liveKitJoinsTotal - l.liveKitJoinsExpectedMax} LiveKit sessions more than honest traffic explains`);
  if (l.watcherSawLeakedMetadata) p.push(`watcher saw LEAK metadata ${l.watcherSawLeakedMetadata} times`);
  if (s.findingCount) p.push(`${s.findingCount} findings`);
  for (const f of s.findings.slice(0, 20)) p.push(`#${f.index} ${f.cls} ${f.kind}: ${f.outcome} — ${f.detail.slice(0, 200)}`);
  return p;
}
