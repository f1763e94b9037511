// The real `volly-pq tunnel` for tests: the built CLI (proxy/dist) as a child
// process on free loopback ports, carrying any unmodified LiveKit SDK's
// signaling to a test proxy (proxy.ts) as volly-pq v2 (default) or v1.
// Give `wsUrl` to the SDK exactly as you would give it LiveKit's URL.

import { readFileSync } from 'node:fs';
import { type AddressInfo, connect, createServer, type Socket } from 'node:net';
import { join } from 'node:path';
import { BIN } from '../../proxy/test/run-cli.js';
import { kemKeyFile } from './key-files.ts';
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

const logs = new WeakMap<TestTunnel, () => string>();

/** The tunnel's log so far (JSON lines), to check what it logs and that no token is among it. */
export function tunnelLog(tunnel: TestTunnel): string {
  return logs.get(tunnel)?.() ?? '';
}

/** `{ VOLLY_SERVER_KEYS: <fresh X-Wing key file> }`, for startTestProxy: the proxy then serves v2. */
export function v2ProxyEnv(): Record<string, string> {
  return { VOLLY_SERVER_KEYS: kemKeyFile() };
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
  const tunnel: TestTunnel = {
    wsUrl: `ws://127.0.0.1:${port}`,
    url: `http://127.0.0.1:${port}`,
    metrics,
    close: async () => {
      await proc.stop({ graceMs: 5_000 });
    },
  };
  logs.set(tunnel, () => readFileSync(proc.logFile, 'utf8'));
  return tunnel;
}

/**
 * A wire tap: a TCP forwarder on a free loopback port in front of `target`
 * (host:port) that records every byte both ways, and can cut every
 * connection it carries (a dropped tunnel→proxy link).
 */
export interface WireTap {
  /** The proxy as seen through the tap: give it to startTunnel. */
  readonly proxy: TestProxy;
  /** Everything carried so far, both directions, as latin1 text (to search for plaintext). */
  captured(): string;
  /** Connections accepted so far. */
  readonly connections: number;
  /** Destroys every open connection (both sides), as a dropped link would. */
  cut(): void;
  close(): Promise<void>;
}

export async function startWireTap(proxy: TestProxy): Promise<WireTap> {
  const target = new URL(proxy.url);
  const chunks: Buffer[] = [];
  const open = new Set<Socket>();
  let connections = 0;
  const server = createServer((client) => {
    connections++;
    const upstream = connect(Number(target.port), target.hostname);
    for (const [from, to] of [
      [client, upstream],
      [upstream, client],
    ] as const) {
      open.add(from);
      from.on('data', (b: Buffer) => {
        chunks.push(Buffer.from(b));
        to.write(b);
      });
      from.on('close', () => {
        open.delete(from);
        to.destroy();
      });
      from.on('error', () => {});
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as AddressInfo).port;
  return {
    proxy: { ...proxy, url: `http://127.0.0.1:${port}`, wsUrl: `ws://127.0.0.1:${port}` },
    captured: () => Buffer.concat(chunks).toString('latin1'),
    get connections() {
      return connections;
    },
    cut: () => {
      for (const s of open) s.destroy();
    },
    close: async () => {
      for (const s of open) s.destroy();
      await new Promise((r) => server.close(r));
    },
  };
}
