// A CI-sized plain-HTTP fuzz run (3,000 inputs, under 20 s): generated and
// mutated raw requests to every route of the public and admin listeners of
// `volly-pq proxy`, a child process in front of the real LiveKit. The long
// run is `npm exec -- node test/scripts/fuzz-http.ts --inputs 1000000`
// (figures in docs/reports/security.md). VOLLY_FUZZ_SEED picks another seed; a failure names
// the input (for a crash: the one that kills the process when replayed alone).

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { httpProblems, runHttpFuzz } from './lib/fuzz-http-engine.ts';
import { type HttpFuzzTarget, startHttpFuzzTarget } from './lib/fuzz-http-target.ts';

const SEED = Number(process.env.VOLLY_FUZZ_SEED ?? 20261129);
const INPUTS = 3000;

let target: HttpFuzzTarget;
beforeAll(async () => {
  target = await startHttpFuzzTarget();
}, 60_000);
afterAll(async () => {
  await target?.close();
});

describe('plain-HTTP fuzzing of volly-pq proxy in front of LiveKit', () => {
  it(`${INPUTS} raw requests (seed ${SEED}): the process never exits, every request is answered or closed, no secret or token comes back, no PQ-bound token gets a 2xx, LiveKit sees no fuzz identity, canaries keep working`, async () => {
    const stats = await runHttpFuzz(target, { inputs: INPUTS, concurrency: 32, seed: SEED, timeLimitMs: 80_000, canaryEveryMs: 250, maxCrashes: 3 });
    expect(httpProblems(stats)).toEqual([]);
    expect(stats.crashes).toBe(0);
    expect(target.proxy.proc.running()).toBe(true);
    expect(stats.inputs).toBe(INPUTS);
    // every route and both listeners were tried, with every kind of credential
    for (const route of ['validate', 'twirp', 'whip', 'root', 'demo', 'admin', 'other']) expect(Object.keys(stats.byRoute), route).toContain(route);
    for (const cred of ['none', 'valid', 'bound', 'bad']) expect(stats.byCred[cred], cred).toBeGreaterThan(0);
    expect(stats.bySource.known).toBeGreaterThan(0);
    expect(stats.bySource.mutated).toBeGreaterThan(0);
    expect(stats.byOutcome.stuck ?? 0).toBe(0);
    expect(stats.canaries.ok).toBeGreaterThanOrEqual(4);
    expect(stats.canaries.failed).toBe(0);
    expect(stats.liveKit.participants).toEqual([]);
    expect(stats.liveKit.logLines).toBe(0);
  }, 150_000);
});
