// The real `volly-pq tunnel` for tests: the built CLI (proxy/dist) as a child
// process on free loopback ports, carrying any unmodified LiveKit SDK's
// signaling to a test proxy (proxy.ts) as volly-pq v2 (default) or v1.
// Give `wsUrl` to the SDK exactly as you would give it LiveKit's URL.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getKem, toBase64Url } from '@volly/shared';
import { BIN } from '../../proxy/test/run-cli.js';
import { getFreePort } from './ports.ts';
import { makeTempDir, spawnManaged, waitFor } from './process.ts';
import type { TestProxy } from './proxy.ts';

export interface TestTunnel {
  /** ws://127.0.0.1:PORT — give it to any SDK. */
  readonly wsUrl: string;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** The tunnel's Prometheus text. */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

/** `{ VOLLY_SERVER_KEYS: <fresh X-Wing key file> }`, for startTestProxy: the proxy then serves v2. */
export function v2ProxyEnv(): Record<string, string> {
  const pair = getKem('X-Wing').keygen();
  const file = join(makeTempDir('tunnel-keys'), 'xwing.json');
  writeFileSync(file, JSON.stringify({ algorithm: 'X-Wing', publicKey: toBase64Url(pair.publicKey), secretKey: toBase64Url(pair.secretKey) }), { mode: 0o600 });
  return { VOLLY_SERVER_KEYS: file };
}

/** Starts `volly-pq tunnel --server <proxy>`; `args` are appended (e.g. `--bind-key FILE`). */
export async function startTunnel(proxy: TestProxy, opts: { protocol?: 'v1' | 'v2'; args?: string[] } = {}): Promise<TestTunnel> {
  const [port, adminPort] = [await getFreePort(), await getFreePort()];
  const dir = makeTempDir('tunnel');
  const proc = spawnManaged({
    name: `volly-pq tunnel:${port}`,
    command: process.execPath,
    args: [
      BIN,
      'tunnel',
      '--listen',
      `127.0.0.1:${port}`,
      '--admin-listen',
      `127.0.0.1:${adminPort}`,
      '--server',
      proxy.wsUrl,
      '--protocol',
      opts.protocol ?? 'v2',
      ...(opts.args ?? []),
    ],
    logFile: join(dir, 'tunnel.log'),
    env: { PATH: process.env.PATH, VOLLY_LOG_LEVEL: process.env.VOLLY_TEST_LOG_LEVEL ?? 'info' },
  });
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  const metrics = async () => (await fetch(`${adminUrl}/metrics`)).text();
  await waitFor('the tunnel to listen', async () => (await fetch(`${adminUrl}/metrics`)).ok && (await fetch(`http://127.0.0.1:${port}/`)).status > 0, {
    proc,
    timeoutMs: 20_000,
  });
  return {
    wsUrl: `ws://127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    metrics,
    close: async () => {
      await proc.stop({ graceMs: 5_000 });
    },
  };
}
