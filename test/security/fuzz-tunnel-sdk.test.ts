// A CI-sized fuzz run of `volly-pq tunnel`'s SDK side (what anything on
// loopback can send it): raw HTTP requests on every route, WebSocket
// upgrades with fuzzed paths, queries, subprotocols and headers, and real
// joins followed by fuzzed frames, against the tunnel as a child process in
// front of the real proxy and LiveKit. The long run: VOLLY_FUZZ_INPUTS=50000
// VOLLY_FUZZ_MINUTES=60 npx vitest run test/security/fuzz-tunnel-sdk.test.ts
// (it prints its figures; the run of record is in docs/reports/security.md).
// VOLLY_FUZZ_SEED picks another seed.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exchange } from './lib/fuzz-http-wire.ts';
import { runSdkFuzz } from './lib/fuzz-tunnel-sdk-run.ts';
import { startTunnelFuzzTarget, type TunnelFuzzTarget } from './lib/fuzz-tunnel-target.ts';

const SEED = Number(process.env.VOLLY_FUZZ_SEED ?? 20261129);
const INPUTS = Number(process.env.VOLLY_FUZZ_INPUTS ?? 1500);
const LONG = process.env.VOLLY_FUZZ_INPUTS !== undefined;
const TIME_MS = LONG ? Number(process.env.VOLLY_FUZZ_MINUTES ?? 60) * 60_000 : 45_000;
const LANES = 16;

let target: TunnelFuzzTarget;
beforeAll(async () => {
  target = await startTunnelFuzzTarget({ lanes: LANES });
}, 60_000);
afterAll(async () => {
  await target?.close();
});

describe('fuzzing volly-pq tunnel from the SDK side', () => {
  it('a request target no URL parser takes (GET //[) is answered, and the tunnel lives on', async () => {
    for (const data of [
      'GET //[ HTTP/1.1\r\nHost: x\r\n\r\n',
      'GET //[/rtc HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dm9sbHktZnV6ei1rZXkxMg==\r\nSec-WebSocket-Version: 13\r\n\r\n',
    ]) {
      const ex = await exchange({ host: target.host, port: target.port, data: Buffer.from(data), silenceMs: 1000, timeoutMs: 5000 });
      expect(ex.status, ex.outcome).toBe(400);
    }
    expect(await target.alive()).toBe(true);
  });

  it(
    `${INPUTS} inputs (seed ${SEED}): the tunnel never exits, every request is answered or closed, bad frames get their close code, no token leaks, canaries join`,
    async () => {
      const t0 = Date.now();
      const stats = await runSdkFuzz(target, { inputs: INPUTS, concurrency: LANES, seed: SEED, timeLimitMs: TIME_MS, canaryEveryMs: 1500 });
      if (LONG || stats.findingCount) console.log(JSON.stringify({ ...stats, wallS: (Date.now() - t0) / 1000 }, null, 1));
      expect(stats.findings).toEqual([]);
      expect(stats.alive).toBe(true);
      expect(stats.inputs).toBe(INPUTS);
      for (const kind of ['known', 'http', 'http-mutated', 'upgrade', 'frames']) expect(stats.byKind[kind], kind).toBeGreaterThan(0);
      expect(stats.canaries.ok).toBeGreaterThanOrEqual(3);
      expect(stats.canaries.failed).toBe(0);
      // the tap recognises the tunnel's dials (the canaries' at least), and there are no more than allowed
      expect(stats.dials.seen).toBeGreaterThan(stats.canaries.ok);
      expect(stats.dials.seen).toBeLessThanOrEqual(stats.dials.allowed);
    },
    TIME_MS + 45_000,
  );
});
