// A sealed session the proxy ends (here: a frame that fails to open, 4400)
// must not take the benchmark down: the proxy sends its sealed error notice
// and then closes, and between the two the client session is already
// `failed` while the socket is still open — the window in which a keepalive
// timer threw `ProtocolError: cannot send in state failed` and ended a run.
// Against the real LiveKit and the real proxy (as the benchmark runs them).

import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../../harness/livekit.ts';
import { type BenchSession, keepalive, openSession, tallySessionFailures } from './client.ts';
import type { FailureCounts } from './failures.ts';
import { type BenchProxy, startBenchProxy } from './servers.ts';
import { mintToken } from './tokens.ts';

let livekit: LiveKitServer;
let proxy: BenchProxy;

beforeAll(async () => {
  livekit = await startLiveKit({ logLevel: 'error' });
  proxy = await startBenchProxy(livekit);
});
afterAll(async () => {
  await proxy?.stop();
  await livekit?.stop();
});

describe('bench client: a session the proxy fails', () => {
  it('is counted under its close code, and sending on it (a keepalive) stops instead of throwing', { timeout: 60_000 }, async () => {
    const token = await mintToken(proxy, 'bench-fail', 'victim');
    const sess: BenchSession = await openSession({ baseUrl: proxy.wsUrl, token, sealed: { algorithm: 'ML-KEM-768', flow: 'in-band' } });
    expect(sess.send({ case: 'pingReq', value: { timestamp: 1n, rtt: 0n } as never })).toBe(true);
    const stopKeepalive = keepalive(sess, 5);
    // Each server message, after the client has applied it: the sealed error notice arrives before the close.
    const sendResults: boolean[] = [];
    sess.ws.on('message', () => sendResults.push(sess.send({ case: 'pingReq', value: { timestamp: 2n, rtt: 0n } as never })));
    // A frame that cannot open: the proxy ends the session with 4400.
    sess.ws.send(randomBytes(64));
    expect(await sess.closed).toBe(4400);
    stopKeepalive();
    expect(sendResults.at(-1)).toBe(false);
    expect(sess.failure).toBe('close 4400');
    expect(sess.send({ case: 'pingReq', value: { timestamp: 3n, rtt: 0n } as never })).toBe(false);
    const counts: FailureCounts = {};
    expect(tallySessionFailures([sess], counts)).toBe(1);
    expect(counts).toEqual({ 'close 4400': 1 });
  });

  it('a session the benchmark closes itself is not counted as failed', { timeout: 30_000 }, async () => {
    const token = await mintToken(proxy, 'bench-fail', 'leaver');
    const sess = await openSession({ baseUrl: proxy.wsUrl, token, sealed: { algorithm: 'ML-KEM-768', flow: 'in-band' } });
    sess.close();
    await sess.closed;
    expect(sess.failure).toBeUndefined();
    expect(tallySessionFailures([sess], {})).toBe(0);
  });
});
