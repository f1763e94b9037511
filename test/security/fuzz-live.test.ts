// A short live-fuzz run for CI (a few thousand inputs, well under a minute):
// generated and mutated upgrades, handshakes, tokens and sealed frames against
// the real proxy in front of the real LiveKit. The long run is
// `node test/scripts/fuzz-live.ts --inputs 1000000` (figures in docs/reports/security.md).
// VOLLY_FUZZ_SEED picks another seed; a failure names the input's index and bytes.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { problems } from './lib/fuzz-live-report.ts';
import { runFuzz } from './lib/fuzz-live-runner.ts';
import { startFuzzTarget } from './lib/fuzz-live-target.ts';
import { ALLOWED, DEFAULT_MIX, type FuzzClass, type FuzzTarget } from './lib/fuzz-live-types.ts';

const SEED = Number(process.env.VOLLY_FUZZ_SEED ?? 20261126);
const INPUTS = 3000;

let target: FuzzTarget;
beforeAll(async () => {
  target = await startFuzzTarget();
});
afterAll(async () => {
  await target?.close();
});

describe('live fuzzing of the proxy in front of LiveKit', () => {
  it(`${INPUTS} inputs (seed ${SEED}): no crash, every outcome a documented refusal, nothing reaches LiveKit, honest joins keep working`, async () => {
    // Post-join inputs are rare in the long run's mix; here they get enough weight to be exercised.
    const stats = await runFuzz(target, {
      inputs: INPUTS,
      concurrency: 64,
      seed: SEED,
      timeLimitMs: 50_000,
      canaryEveryMs: 1000,
      mix: { ...DEFAULT_MIX, 'post-join': 8, 'huge-frame': 4 },
    });
    expect(problems(stats)).toEqual([]);
    expect(stats.inputs).toBe(INPUTS);
    for (const cls of Object.keys(DEFAULT_MIX) as FuzzClass[]) expect(stats.perClass[cls], cls).toBeGreaterThan(0);
    for (const [cls, outcomes] of Object.entries(stats.outcomes)) for (const o of Object.keys(outcomes)) expect(o, cls).toMatch(ALLOWED[cls as FuzzClass]);
    expect(stats.crashes).toBe(0);
    expect(stats.canaries.ok).toBeGreaterThanOrEqual(3);
    expect(stats.leaks.dialsUnaccounted).toBe(0);
    expect(stats.leaks.framesUnaccounted).toBe(0);
    expect(stats.leaks.liveKitJoinsForVictim).toBe(0);
    expect(stats.leaks.watcherSawLeakedMetadata).toBe(0);
    // every input that failed before keys or failed to open never got near LiveKit; only frames that opened did
    expect(stats.leaks.dialsDelta.classical).toBe(0);
  }, 110_000);
});
