// What reached LiveKit: the oracle every security test uses to show that a
// refused input got nowhere — the proxy's own upstream dial and forwarded
// frame counters, and the sessions LiveKit's log says it started.

import { readFileSync } from 'node:fs';
import { expect } from 'vitest';
import type { LiveKitServer } from './livekit.ts';
import { metricSum } from './metrics.ts';
import type { TestProxy } from './proxy.ts';

/** The proxy's upstream dials and client→LiveKit frames so far. */
export async function leakCounters(proxy: TestProxy) {
  const text = await proxy.metrics();
  return {
    dials: metricSum(text, 'volly_upstream_dial_duration_seconds_count', 'mode='),
    toUpstream: metricSum(text, 'volly_frames_total', 'direction="client_to_upstream"'),
  };
}

/** Sessions LiveKit started for an identity, from its log. */
export const liveKitSessions = (livekit: LiveKitServer, identity: string) =>
  readFileSync(livekit.logFile, 'utf8')
    .split('\n')
    .filter((l) => l.includes('starting RTC session') && l.includes(`"participant": "${identity}"`)).length;

/**
 * Runs `attack` and checks that LiveKit got nothing from it: no upstream dial,
 * no frame forwarded, no LiveKit session for `identity` (beyond what `allow`
 * grants the attack's honest part).
 */
export async function nothingReachesLiveKit<T>(
  proxy: TestProxy,
  livekit: LiveKitServer,
  identity: string,
  attack: () => Promise<T>,
  allow: { frames?: number; dials?: number; sessions?: number } = {},
): Promise<T> {
  const before = await leakCounters(proxy);
  const sessions = liveKitSessions(livekit, identity);
  const out = await attack();
  await new Promise((r) => setTimeout(r, 300));
  const after = await leakCounters(proxy);
  expect(after.dials - before.dials, 'upstream dials').toBe(allow.dials ?? 0);
  expect(after.toUpstream - before.toUpstream, 'frames forwarded to LiveKit').toBe(allow.frames ?? 0);
  expect(liveKitSessions(livekit, identity) - sessions, `LiveKit sessions for ${identity}`).toBe(allow.sessions ?? 0);
  return out;
}
