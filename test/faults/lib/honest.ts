// Honest clients for the resource tests: sealed in-band joins through the
// child proxy from this process (source address 127.0.0.1), timed from dial
// to LiveKit's JoinResponse.

import { expect } from 'vitest';
import type { ChildProxy } from '../../harness/child-proxy.ts';
import { connectPq } from '../../harness/pq-signal.ts';
import { token } from '../../harness/tokens.ts';

/**
 * `n` honest sealed joins one after another (a room each, ML-KEM-768 and
 * X-Wing alternating), ms from dial to JoinResponse. With `minGapMs`, join i
 * starts no earlier than i x minGapMs after the first (a floor on the window's
 * length, whatever the machine's speed).
 */
export async function honestJoins(p: ChildProxy, n: number, label: string, minGapMs = 0): Promise<number[]> {
  const ms: number[] = [];
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    const wait = start + i * minGapMs - performance.now();
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
    const t = await token(p, `${label}-${i}`, `honest-${i}`);
    const t0 = performance.now();
    const sig = await connectPq(p.wsUrl, t, { algorithm: i % 2 ? 'X-Wing' : 'ML-KEM-768', timeoutMs: 10_000 });
    ms.push(performance.now() - t0);
    expect(sig.join.participant?.identity).toBe(`honest-${i}`);
    await sig.close();
  }
  return ms;
}
