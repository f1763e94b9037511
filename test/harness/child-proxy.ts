// The volly-pq proxy as operators run it — `node proxy/bin/volly-pq.js proxy`
// in a child process, configured by env — for the fault tests, the bench and
// the CLI tests: it can be SIGKILLed and started again on the same ports and
// keys, its memory and open files are read from /proc, and its own CPU and
// memory are the kernel's figures for it alone. The inspector (loopback)
// gives a full GC, so "after" figures are what the proxy still holds, not
// garbage not yet collected, and heap snapshots.
// (startTestProxy in proxy.ts runs the proxy in this process instead.)

import { closeSync, openSync, readdirSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inspectorOn } from './inspector.ts';
import { generateApiKeyPair } from './livekit.ts';
import { type Metrics, metricSum, scrapeMetrics } from './metrics.ts';
import { getFreePort, LOOPBACK } from './ports.ts';
import { type ManagedProcess, makeTempDir, spawnManaged, waitFor } from './process.ts';
import { rssKiB } from './procfs.ts';

/** The proxy to run; VOLLY_BENCH_PROXY_BIN measures another build (e.g. a prototype of a change). */
export const PROXY_BIN = process.env.VOLLY_BENCH_PROXY_BIN ?? fileURLToPath(new URL('../../proxy/bin/volly-pq.js', import.meta.url));

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
  metrics(): Promise<Metrics>;
  /** A number from /metrics, summed over label sets matching `match`. */
  metric(name: string, match?: string): Promise<number>;
  /** Full GC through the inspector, then RSS (KiB). */
  rssAfterGcKiB(): Promise<number>;
  /** Full GC through the inspector. */
  collectGarbage(): Promise<void>;
  /** A V8 heap snapshot written to `file`. */
  heapSnapshot(file: string): Promise<void>;
  readyz(): Promise<number>;
  kill(signal?: NodeJS.Signals): void;
  /** Start again (after a kill or stop) on the same ports, keys and settings; resolves at /healthz 200. */
  restart(): Promise<void>;
  /** SIGTERM (a drain), SIGKILL after `graceMs` (default 8 s). */
  stop(graceMs?: number): Promise<void>;
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
  /** Give the child this process's whole environment (default: PATH only). */
  readonly inheritEnv?: boolean;
  /** Where its config and log go (default: a fresh temp dir). */
  readonly dir?: string;
}

export async function startChildProxy(upstream: Upstream, opts: ChildProxyOptions = {}): Promise<ChildProxy> {
  const client = opts.client ?? generateApiKeyPair();
  const port = await getFreePort();
  const adminPort = await getFreePort();
  const inspectPort = await getFreePort();
  const dir = opts.dir ?? makeTempDir(`proxy-${port}`);
  const logFile = join(dir, 'proxy.log');
  const adminUrl = `http://${LOOPBACK}:${adminPort}`;
  const env: NodeJS.ProcessEnv = {
    ...(opts.inheritEnv ? process.env : { PATH: process.env.PATH }),
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
  const inspector = inspectorOn(inspectPort);

  const launch = async () => {
    await inspector.close();
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

  const gc = () => inspector.call('HeapProfiler.collectGarbage');

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
    metrics: () => scrapeMetrics(adminUrl),
    async metric(name, match = '') {
      return metricSum(await handle.metrics(), name, match);
    },
    collectGarbage: gc,
    async heapSnapshot(file) {
      const fd = openSync(file, 'w');
      try {
        await inspector.call('HeapProfiler.takeHeapSnapshot', {
          onEvent: (m) => {
            if (m.method === 'HeapProfiler.addHeapSnapshotChunk') writeSync(fd, String(m.params?.chunk ?? ''));
          },
        });
      } finally {
        closeSync(fd);
      }
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
      await launch();
    },
    async stop(graceMs = 8_000) {
      await inspector.close();
      await proc.stop({ signal: 'SIGTERM', graceMs });
    },
  };
  return handle;
}
