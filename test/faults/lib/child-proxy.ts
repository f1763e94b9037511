// The volly-pq proxy as operators run it — `node proxy/bin/volly-pq.js proxy`
// in a child process, configured by env — for the fault tests: it can be
// SIGKILLed and started again on the same ports and keys, and its memory and
// open files are read from /proc. The inspector (loopback) gives a full GC,
// so "after" figures are what the proxy still holds, not garbage not yet
// collected.

import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import WebSocket from 'ws';
import { rssKiB } from '../../bench/lib/procfs.ts';
import { metricSum, PROXY_BIN, parseMetrics } from '../../bench/lib/servers.ts';
import { generateApiKeyPair } from '../../harness/livekit.ts';
import { getFreePort, LOOPBACK } from '../../harness/ports.ts';
import { type ManagedProcess, makeTempDir, spawnManaged, waitFor } from '../../harness/process.ts';

export { metricSum };

export interface Upstream {
  readonly url: string;
  readonly apiKey: string;
  readonly apiSecret: string;
}

export interface ChildProxy {
  readonly proc: ManagedProcess;
  readonly pid: number;
  readonly port: number;
  readonly wsUrl: string;
  readonly adminUrl: string;
  /** The client-facing key (LiveKit only knows the upstream one). */
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly logFile: string;
  rssKiB(): number;
  /** Open file descriptors of the proxy process. */
  fds(): number;
  metrics(): Promise<Map<string, number>>;
  /** A number from /metrics, summed over label sets matching `match`. */
  metric(name: string, match?: string): Promise<number>;
  /** Full GC through the inspector, then RSS (KiB). */
  rssAfterGcKiB(): Promise<number>;
  readyz(): Promise<number>;
  kill(signal?: NodeJS.Signals): void;
  /** Start again (after a kill or stop) on the same ports, keys and settings; resolves at /healthz 200. */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

export interface ChildProxyOptions {
  readonly env?: Record<string, string>;
  /** Client key pair (shared by replicas); generated when omitted. */
  readonly client?: { apiKey: string; apiSecret: string };
  /** Resolve once spawned, without waiting for /healthz (default: wait). */
  readonly noWait?: boolean;
  /** Open the inspector for rssAfterGcKiB() (default: yes; it slows the start a little). */
  readonly inspect?: boolean;
  /** Extra node flags (e.g. --cpu-prof). */
  readonly nodeArgs?: string[];
}

export async function startChildProxy(upstream: Upstream, opts: ChildProxyOptions = {}): Promise<ChildProxy> {
  const client = opts.client ?? generateApiKeyPair();
  const port = await getFreePort();
  const adminPort = await getFreePort();
  const inspectPort = await getFreePort();
  const dir = makeTempDir(`faults-proxy-${port}`);
  const logFile = join(dir, 'proxy.log');
  const adminUrl = `http://${LOOPBACK}:${adminPort}`;
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    VOLLY_LISTEN: `${LOOPBACK}:${port}`,
    VOLLY_ADMIN_LISTEN: `${LOOPBACK}:${adminPort}`,
    VOLLY_UPSTREAM_URL: upstream.url,
    LIVEKIT_KEYS: `${client.apiKey}: ${client.apiSecret}`,
    VOLLY_UPSTREAM_KEY: upstream.apiKey,
    VOLLY_UPSTREAM_SECRET: upstream.apiSecret,
    VOLLY_LOG_LEVEL: 'info',
    VOLLY_DRAIN_TIMEOUT_MS: '3000',
    ...opts.env,
  };
  let proc!: ManagedProcess;
  let inspector: Promise<WebSocket> | undefined;
  let seq = 0;

  const launch = async () => {
    inspector = undefined;
    proc = spawnManaged({
      name: `volly-pq:${port}`,
      command: process.execPath,
      args: [...(opts.nodeArgs ?? []), ...(opts.inspect === false ? [] : [`--inspect=${LOOPBACK}:${inspectPort}`]), PROXY_BIN, 'proxy'],
      logFile,
      env,
      cwd: dir,
    });
    if (opts.noWait) return;
    await waitFor(`volly-pq on ${adminUrl}/healthz`, async () => (await fetch(`${adminUrl}/healthz`)).ok, { timeoutMs: 20_000, intervalMs: 50, proc });
  };

  const gc = async (): Promise<void> => {
    inspector ??= (async () => {
      const list = (await (await fetch(`http://${LOOPBACK}:${inspectPort}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
      const ws = new WebSocket(list[0]?.webSocketDebuggerUrl ?? '', { perMessageDeflate: false });
      ws.on('error', () => {});
      await new Promise((resolve, reject) => {
        ws.once('open', resolve);
        ws.once('error', reject);
      });
      return ws;
    })();
    const ws = await inspector;
    const id = ++seq;
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('inspector GC timed out')), 30_000);
      const onMessage = (data: Buffer) => {
        if ((JSON.parse(data.toString()) as { id?: number }).id !== id) return;
        clearTimeout(t);
        ws.off('message', onMessage);
        resolve();
      };
      ws.on('message', onMessage);
      ws.send(JSON.stringify({ id, method: 'HeapProfiler.collectGarbage' }));
    });
  };

  await launch();
  const handle: ChildProxy = {
    get proc() {
      return proc;
    },
    get pid() {
      return proc.pid;
    },
    port,
    wsUrl: `ws://${LOOPBACK}:${port}`,
    adminUrl,
    apiKey: client.apiKey,
    apiSecret: client.apiSecret,
    logFile,
    rssKiB: () => rssKiB(proc.pid),
    fds: () => readdirSync(`/proc/${proc.pid}/fd`).length,
    async metrics() {
      const res = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(15_000) });
      return parseMetrics(await res.text());
    },
    async metric(name, match = '') {
      return metricSum(await handle.metrics(), name, match);
    },
    async rssAfterGcKiB() {
      await gc();
      await new Promise((r) => setTimeout(r, 200));
      return rssKiB(proc.pid);
    },
    async readyz() {
      try {
        return (await fetch(`${adminUrl}/readyz`, { signal: AbortSignal.timeout(5_000) })).status;
      } catch {
        return 0;
      }
    },
    kill(signal: NodeJS.Signals = 'SIGKILL') {
      proc.kill(signal);
    },
    async restart() {
      if (proc.running()) await proc.stop({ signal: 'SIGKILL' });
      const ws = await inspector?.catch(() => undefined);
      ws?.terminate();
      await launch();
    },
    async stop() {
      (await inspector?.catch(() => undefined))?.terminate();
      await proc.stop({ signal: 'SIGTERM', graceMs: 8_000 });
    },
  };
  return handle;
}
