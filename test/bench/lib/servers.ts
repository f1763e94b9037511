// The processes under test, each its own OS process so the kernel's CPU and
// memory accounting is theirs alone: the volly-pq proxy
// (`node proxy/bin/volly-pq.js proxy`, configured by env as in production,
// with X-Wing and ML-KEM-768 static keys from its own `volly-pq keygen`, so
// it serves volly-pq.v2 beside v1) and Debian's nginx. LiveKit comes from the test harness (startLiveKit).

import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PROXY_BIN, startChildProxy } from '../../harness/child-proxy.ts';
import type { LiveKitServer } from '../../harness/livekit.ts';
import { type Metrics, scrapeMetrics } from '../../harness/metrics.ts';
import { getFreePort, LOOPBACK } from '../../harness/ports.ts';
import { type ManagedProcess, makeTempDir, spawnManaged, waitFor } from '../../harness/process.ts';
import { cpuMicros, kernelMicros, overTree, rssKiB, schedCpuMicros } from '../../harness/procfs.ts';

export const NGINX_BIN = process.env.VOLLY_NGINX_BIN ?? '/usr/sbin/nginx';
const NGINX_TEMPLATE = fileURLToPath(new URL('../nginx.conf.template', import.meta.url));

export interface Measured {
  readonly pid: number;
  /** utime+stime in microseconds (nginx: master and workers). */
  cpuMicros(): number;
  /** Of which stime (kernel). */
  kernelMicros(): number;
  /** The same from schedstat (ns resolution, live threads only): a cross-check. */
  schedCpuMicros(): number;
  rssKiB(): number;
}

export interface BenchProxy extends Measured {
  readonly wsUrl: string;
  readonly adminUrl: string;
  /** The client-facing key tokens are signed with (LiveKit only knows the upstream key). */
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly proc: ManagedProcess;
  /** Prometheus text of /metrics, parsed: `name{labels}` → value. */
  metrics(): Promise<Metrics>;
  /** Full GC through the inspector (only when started with `inspect`). */
  collectGarbage(): Promise<void>;
  /** A V8 heap snapshot written to `file` (only when started with `inspect`). */
  heapSnapshot(file: string): Promise<void>;
  stop(): Promise<void>;
}

export interface ProxyOptions {
  /** Extra env (VOLLY_*), e.g. VOLLY_MAX_HANDSHAKES. */
  readonly env?: Record<string, string>;
  /** Extra node flags, e.g. --cpu-prof. */
  readonly nodeArgs?: string[];
  /** Open the inspector on a loopback port, for collectGarbage(). */
  readonly inspect?: boolean;
}

/** The v2 static keys, current first: what `volly-pq keygen` writes, as an operator makes them. */
const V2_KEY_ALGORITHMS = ['X-Wing', 'ML-KEM-768'] as const;

/** KEM key files for VOLLY_SERVER_KEYS (turning volly-pq.v2 on), made in `dir` by the proxy's own CLI. */
function v2KeyFiles(dir: string): string {
  return V2_KEY_ALGORITHMS.map((algorithm) => {
    const file = join(dir, `v2-${algorithm.toLowerCase()}.json`);
    const r = spawnSync(process.execPath, [PROXY_BIN, 'keygen', '--algorithm', algorithm, '--out', file], { encoding: 'utf8' });
    if (r.status !== 0) throw new Error(`volly-pq keygen --algorithm ${algorithm} failed: ${(r.stderr ?? '').trim().slice(0, 300)}`);
    return file;
  }).join(',');
}

export async function startBenchProxy(livekit: LiveKitServer, opts: ProxyOptions = {}): Promise<BenchProxy> {
  const dir = makeTempDir('bench-proxy');
  const p = await startChildProxy(livekit, {
    dir,
    inheritEnv: true,
    inspect: opts.inspect === true,
    nodeArgs: opts.nodeArgs ?? [],
    // The proxy's own drain default: the bench closes its sessions before it stops the proxy.
    env: { VOLLY_LOG_LEVEL: 'warn', VOLLY_DRAIN_TIMEOUT_MS: '30000', VOLLY_SERVER_KEYS: v2KeyFiles(dir), ...opts.env },
  });
  const onlyInspected = (f: () => Promise<void>) => (opts.inspect ? f() : Promise.reject(new Error('proxy started without inspect')));
  return {
    pid: p.pid,
    proc: p.proc,
    wsUrl: p.wsUrl,
    adminUrl: p.adminUrl,
    apiKey: p.apiKey,
    apiSecret: p.apiSecret,
    cpuMicros: () => cpuMicros(p.pid),
    kernelMicros: () => kernelMicros(p.pid),
    schedCpuMicros: () => schedCpuMicros(p.pid),
    rssKiB: () => rssKiB(p.pid),
    metrics: () => scrapeMetrics(p.adminUrl, 30_000),
    collectGarbage: () => onlyInspected(() => p.collectGarbage()),
    heapSnapshot: (file) => onlyInspected(() => p.heapSnapshot(file)),
    // SIGTERM drains: the bench has closed its sessions, so this is quick.
    stop: () => p.stop(10_000),
  };
}

export interface BenchNginx extends Measured {
  readonly wsUrl: string;
  readonly version: string;
  stop(): Promise<void>;
}

const NODE_WS_RELAY = fileURLToPath(new URL('../node-ws-relay.mjs', import.meta.url));

/** The bare Node.js + ws relay (node-ws-relay.mjs): the floor of a relay on Node.js; `nodeArgs` e.g. --cpu-prof, as the proxy's. */
export async function startNodeWsRelay(livekit: LiveKitServer, opts: { nodeArgs?: string[] } = {}): Promise<BenchNginx> {
  const port = await getFreePort();
  const dir = makeTempDir(`bench-node-ws-${port}`);
  const proc = spawnManaged({
    name: `node-ws-relay:${port}`,
    command: process.execPath,
    args: [...(opts.nodeArgs ?? []), NODE_WS_RELAY, String(port), livekit.wsUrl],
    logFile: join(dir, 'relay.log'),
    cwd: dir,
  });
  const url = `http://${LOOPBACK}:${port}`;
  await waitFor(`node-ws-relay on ${url}`, async () => (await fetch(`${url}/`)).ok, { timeoutMs: 15_000, intervalMs: 50, proc });
  return {
    pid: proc.pid,
    wsUrl: `ws://${LOOPBACK}:${port}`,
    version: `node ${process.version}`,
    cpuMicros: () => cpuMicros(proc.pid),
    kernelMicros: () => kernelMicros(proc.pid),
    schedCpuMicros: () => schedCpuMicros(proc.pid),
    rssKiB: () => rssKiB(proc.pid),
    async stop() {
      await proc.stop({ signal: 'SIGTERM', graceMs: 5_000 });
    },
  };
}

export function nginxAvailable(): boolean {
  return existsSync(NGINX_BIN);
}

/** Debian's nginx (one worker) as a plain WebSocket reverse proxy to LiveKit. */
export async function startNginx(livekit: LiveKitServer): Promise<BenchNginx> {
  if (!nginxAvailable()) throw new Error(`${NGINX_BIN} not found: apt-get install nginx-light`);
  const port = await getFreePort();
  const dir = makeTempDir(`bench-nginx-${port}`);
  for (const t of ['client', 'proxy', 'fastcgi', 'uwsgi', 'scgi']) mkdirSync(join(dir, 'tmp', t), { recursive: true });
  const conf = readFileSync(NGINX_TEMPLATE, 'utf8')
    .replaceAll('{{USER}}', process.getuid?.() === 0 ? 'user root;' : '')
    .replaceAll('{{PREFIX}}', dir)
    .replaceAll('{{LISTEN}}', `${LOOPBACK}:${port}`)
    .replaceAll('{{UPSTREAM}}', `${livekit.host}:${livekit.port}`);
  const confFile = join(dir, 'nginx.conf');
  writeFileSync(confFile, conf);
  const logFile = join(dir, 'nginx.out');
  const proc = spawnManaged({ name: `nginx:${port}`, command: NGINX_BIN, args: ['-p', dir, '-c', confFile, '-e', join(dir, 'error.log')], logFile, cwd: dir });
  const url = `http://${LOOPBACK}:${port}`;
  await waitFor(`nginx on ${url}`, async () => (await fetch(`${url}/`)).status === 200, { timeoutMs: 15_000, intervalMs: 50, proc });
  // `nginx -v` prints to stderr.
  const v = spawnSync(NGINX_BIN, ['-v'], { encoding: 'utf8' });
  const version = `${v.stderr ?? ''}${v.stdout ?? ''}`.trim().replace(/^nginx version: /, '') || 'nginx';
  return {
    pid: proc.pid,
    wsUrl: `ws://${LOOPBACK}:${port}`,
    version,
    cpuMicros: () => overTree(proc.pid, cpuMicros),
    kernelMicros: () => overTree(proc.pid, kernelMicros),
    schedCpuMicros: () => overTree(proc.pid, schedCpuMicros),
    rssKiB: () => overTree(proc.pid, rssKiB),
    async stop() {
      await proc.stop({ signal: 'SIGQUIT', graceMs: 5_000 });
    },
  };
}
