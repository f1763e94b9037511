// `volly-pq proxy` as operators run it: the bin as a child process with its
// settings in the environment, in front of the real LiveKit. It serves a
// sealed join, drains and exits 0 on SIGTERM, and fails with exit 1 (runtime)
// or 2 (settings) with one line saying why.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startChildProxy } from '../harness/child-proxy.ts';
import { generateApiKeyPair, type LiveKitServer, startLiveKit } from '../harness/livekit.js';
import { connectPq } from '../harness/pq-signal.js';
import { type ManagedProcess, waitFor } from '../harness/process.js';
import { token } from '../harness/tokens.ts';

let livekit: LiveKitServer;
const client = generateApiKeyPair();

beforeAll(async () => {
  livekit = await startLiveKit();
});
afterAll(async () => {
  await livekit?.stop();
});

/** The proxy spawned, not waited for: some of these tests want it to fail to start. */
const spawnProxy = (env: Record<string, string> = {}) =>
  startChildProxy(livekit, { client, noWait: true, inspect: false, env: { VOLLY_DRAIN_TIMEOUT_MS: '5000', ...env } });

const logLines = (proc: ManagedProcess) =>
  proc
    .logTail(200)
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

describe('volly-pq proxy as a child process', () => {
  it('serves a sealed join, then drains the session and exits 0 on SIGTERM', async () => {
    const { proc, wsUrl, adminUrl } = await spawnProxy();
    try {
      await waitFor('the proxy to be ready', async () => (await fetch(`${adminUrl}/readyz`)).status === 200, { proc, timeoutMs: 20_000 });
      const sig = await connectPq(wsUrl, await token(client, 'cli-child', 'erin'), { algorithm: 'X-Wing' });
      expect(sig.join.room?.name).toBe('cli-child');
      expect(sig.join.serverInfo?.version).toBe('1.13.5');

      proc.kill('SIGTERM');
      // The live session is asked to reconnect elsewhere (LiveKit's own leave), then closed with 1001.
      const leave = await sig.waitFor('leave', 10_000);
      expect(leave.canReconnect).toBe(true);
      expect((await sig.closed).code).toBe(1001);
      expect(await proc.exited).toEqual({ code: 0, signal: null });
      const events = logLines(proc).map((l) => l.event);
      expect(events).toEqual(expect.arrayContaining(['listening', 'session_start', 'signal', 'drain', 'drained', 'session_end']));
    } finally {
      await proc.stop({ signal: 'SIGKILL' });
    }
  });

  it('exits 0 on SIGTERM when idle, within the drain deadline', async () => {
    const { proc, adminUrl } = await spawnProxy();
    try {
      await waitFor('the proxy to answer /healthz', async () => (await fetch(`${adminUrl}/healthz`)).ok, { proc, timeoutMs: 20_000 });
      const t0 = Date.now();
      proc.kill('SIGTERM');
      expect(await proc.exited).toEqual({ code: 0, signal: null });
      expect(Date.now() - t0).toBeLessThan(5_000);
    } finally {
      await proc.stop({ signal: 'SIGKILL' });
    }
  });

  it('a port already in use: exit 1 (runtime failure) and the reason', async () => {
    const first = await spawnProxy();
    try {
      await waitFor('the first proxy', async () => (await fetch(`${first.adminUrl}/healthz`)).ok, { proc: first.proc, timeoutMs: 20_000 });
      const second = await spawnProxy({ VOLLY_LISTEN: first.wsUrl.replace('ws://', '') });
      expect((await second.proc.exited).code).toBe(1);
      expect(second.proc.logTail()).toMatch(/^volly-pq: .*EADDRINUSE/m);
    } finally {
      await first.proc.stop();
    }
  });

  it('a bad setting: exit 2 before listening, one line naming it', async () => {
    const { proc } = await spawnProxy({ VOLLY_UPSTREAM_URL: 'ftp://livekit' });
    expect((await proc.exited).code).toBe(2);
    expect(proc.logTail().trim()).toMatch(/^volly-pq: VOLLY_UPSTREAM_URL \(or "upstream_url" in the config file\): .+$/);
  });
});
