// The stock livekit-server for the tests, started per test on free loopback
// ports with a generated config (the binary comes from livekit-binary.ts).

import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { stringify as toYaml } from 'yaml';
import { ensureLiveKitBinary } from './livekit-binary.ts';
import { getFreePort, getFreeUdpPort, LOOPBACK } from './ports.ts';
import { type ManagedProcess, makeTempDir, type ServerHandle, serverHandle, spawnManaged, waitFor } from './process.ts';

/** How long after it first answers GET / LiveKit can be stopped by a signal (see stop()). */
const SIGNAL_SETTLE_MS = 250;

// ---------------------------------------------------------------------------

export interface StartLiveKitOptions {
  /** Upstream API key/secret; generated when omitted. These are the ONLY keys LiveKit accepts. */
  apiKey?: string;
  apiSecret?: string;
  /** Redis for multi-node mode: "127.0.0.1:6379" or `{ address }` (e.g. a RedisServer). */
  redis?: string | { address: string };
  /** LiveKit log level (default `$VOLLY_LIVEKIT_LOG_LEVEL` or 'info'). */
  logLevel?: 'debug' | 'info' | 'warn' | 'error';
  /** `room:` settings (seconds). */
  room?: { emptyTimeout?: number; departureTimeout?: number; autoCreate?: boolean; maxParticipants?: number };
  /** Signaling/HTTP port; a free one when omitted. */
  port?: number;
  /** ICE-TCP port: a free one when omitted, `false` to disable ICE over TCP. */
  rtcTcpPort?: number | false;
  /** Single UDP port for the ICE UDP mux; a free one when omitted. */
  udpPort?: number;
  region?: string;
  /** Extra config, deep-merged over the generated one (LiveKit's YAML keys). */
  config?: Record<string, unknown>;
  /** Binary to run; default `$VOLLY_LIVEKIT_BIN` (set by global setup) or ensureLiveKitBinary(). */
  binary?: string;
  /** How long to wait for `GET /` to answer 200 (default 30 s). */
  startTimeoutMs?: number;
}

export interface LiveKitServer extends ServerHandle {
  /** http://127.0.0.1:PORT (for RoomServiceClient, /rtc/validate). */
  readonly url: string;
  /** ws://127.0.0.1:PORT (signaling: `${wsUrl}/rtc`). */
  readonly wsUrl: string;
  readonly host: string;
  readonly port: number;
  /** ICE-TCP port (undefined when disabled). */
  readonly rtcTcpPort: number | undefined;
  /** The single UDP port of the ICE UDP mux. */
  readonly udpPort: number;
  /** The only key/secret this LiveKit accepts. */
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly configFile: string;
  /** The config as written (parsed form). */
  readonly config: Record<string, unknown>;
  // stop(): SIGTERM (twice: LiveKit's second signal skips waiting for
  // participants), then SIGKILL of the group after 5 s; waits for the exit.
  // kill(): a SIGTERM within ~100 ms of start is lost on LiveKit v1.13.5.
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function deepMerge(base: Record<string, unknown>, over: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { ...base };
  for (const [k, v] of Object.entries(over)) {
    const b = out[k];
    out[k] = isPlainObject(b) && isPlainObject(v) ? deepMerge(b, v) : v;
  }
  return out;
}

/** The environment for livekit-server: none of its own LIVEKIT_*, REDIS_*, NODE_IP, UDP_PORT variables leak in. */
function liveKitEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(LIVEKIT_|REDIS_)/.test(k) || k === 'NODE_IP' || k === 'UDP_PORT') continue;
    env[k] = v;
  }
  return env;
}

/** A key/secret pair in LiveKit's style (secret >= 32 characters, as LiveKit demands). */
export function generateApiKeyPair(): { apiKey: string; apiSecret: string } {
  return {
    apiKey: `API${randomBytes(6).toString('hex')}`,
    apiSecret: randomBytes(32).toString('base64url'),
  };
}

/** Whether GET / answers 200 "OK" (LiveKit's health check). */
export async function liveKitHealthy(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/`, { signal: AbortSignal.timeout(2_000) });
    const body = await res.text();
    return res.status === 200 && body.trim() === 'OK';
  } catch {
    return false;
  }
}

/** Start a stock livekit-server on free loopback ports; resolves once `GET /` answers 200. */
export async function startLiveKit(opts: StartLiveKitOptions = {}): Promise<LiveKitServer> {
  // A free port can be taken between picking and binding it: then try again
  // with new ones (only for ports the caller left to us).
  for (let attempt = 1; ; attempt++) {
    try {
      return await startLiveKitOnce(opts);
    } catch (err) {
      const portGiven = opts.port !== undefined || opts.rtcTcpPort !== undefined || opts.udpPort !== undefined;
      // (LiveKit exits with status 0 when it cannot bind: read its message.)
      if (attempt >= 3 || portGiven || !/address already in use/.test(String(err))) throw err;
    }
  }
}

async function startLiveKitOnce(opts: StartLiveKitOptions): Promise<LiveKitServer> {
  const binary = opts.binary ?? (process.env.VOLLY_LIVEKIT_BIN || (await ensureLiveKitBinary()));
  const keys = opts.apiKey && opts.apiSecret ? { apiKey: opts.apiKey, apiSecret: opts.apiSecret } : generateApiKeyPair();
  const port = opts.port ?? (await getFreePort());
  const rtcTcpPort = opts.rtcTcpPort === false ? undefined : (opts.rtcTcpPort ?? (await getFreePort()));
  const udpPort = opts.udpPort ?? (await getFreeUdpPort());
  const redisAddress = typeof opts.redis === 'string' ? opts.redis : opts.redis?.address;
  const logLevel = opts.logLevel ?? (process.env.VOLLY_LIVEKIT_LOG_LEVEL as StartLiveKitOptions['logLevel']) ?? 'info';

  const room: Record<string, unknown> = {};
  if (opts.room?.emptyTimeout !== undefined) room.empty_timeout = opts.room.emptyTimeout;
  if (opts.room?.departureTimeout !== undefined) room.departure_timeout = opts.room.departureTimeout;
  if (opts.room?.autoCreate !== undefined) room.auto_create = opts.room.autoCreate;
  if (opts.room?.maxParticipants !== undefined) room.max_participants = opts.room.maxParticipants;

  let config: Record<string, unknown> = {
    port,
    bind_addresses: [LOOPBACK],
    keys: { [keys.apiKey]: keys.apiSecret },
    rtc: {
      // 0 disables ICE over TCP. LiveKit binds this one on all interfaces
      // (it has no bind option), but no traffic reaches it except over loopback.
      tcp_port: rtcTcpPort ?? 0,
      udp_port: udpPort,
      use_external_ip: false,
      node_ip: LOOPBACK,
      enable_loopback_candidate: true,
      // Only loopback addresses as ICE candidates, and the UDP mux binds 127.0.0.1 only.
      ips: { includes: ['127.0.0.0/8'] },
      stun_servers: [],
    },
    turn: { enabled: false },
    logging: { level: logLevel, pion_level: 'error', json: false },
    ...(Object.keys(room).length > 0 ? { room } : {}),
    ...(redisAddress ? { redis: { address: redisAddress } } : {}),
    ...(opts.region ? { region: opts.region } : {}),
  };
  if (opts.config) config = deepMerge(config, opts.config);

  const dir = makeTempDir(`livekit-${port}`);
  const configFile = join(dir, 'livekit.yaml');
  const logFile = join(dir, 'livekit.log');
  writeFileSync(configFile, toYaml(config));
  const host = LOOPBACK;
  const url = `http://${host}:${port}`;
  const startTimeoutMs = opts.startTimeoutMs ?? 30_000;

  let proc!: ManagedProcess;
  let readyAt = 0;
  const launch = async (): Promise<void> => {
    proc = spawnManaged({
      name: `livekit-server:${port}`,
      command: binary,
      args: ['--config', configFile],
      logFile,
      env: liveKitEnv(),
      cwd: dir,
    });
    try {
      await waitFor(`livekit-server on ${url} to answer GET / with 200`, () => liveKitHealthy(url), {
        timeoutMs: startTimeoutMs,
        intervalMs: 100,
        proc,
      });
    } catch (err) {
      await proc.stop({ signal: 'SIGKILL' });
      throw err;
    }
    readyAt = Date.now();
  };

  const stop = async (): Promise<void> => {
    if (!proc.running()) return;
    // LiveKit v1.13.5 sets its "running" flag only 100 ms after it starts
    // serving, and a SIGTERM before that is consumed without effect: the
    // server then runs on and never exits. So never signal it that early.
    const settle = readyAt + SIGNAL_SETTLE_MS - Date.now();
    if (settle > 0) await sleep(settle);
    // The first SIGTERM drains and waits for participants to leave; the second
    // makes LiveKit stop regardless. It goes a little later, as Go's one-slot
    // signal channel would drop it if LiveKit had not read the first yet.
    const t0 = Date.now();
    const second = setTimeout(() => proc.kill('SIGTERM'), 200);
    try {
      await proc.stop({ signal: 'SIGTERM', graceMs: 5_000 });
    } finally {
      clearTimeout(second);
    }
    if (process.env.VOLLY_HARNESS_DEBUG) {
      process.stderr.write(`[harness] ${proc.name} stopped in ${Date.now() - t0} ms: ${JSON.stringify(proc.exitInfo)}\n`);
    }
  };

  await launch();

  return Object.assign(serverHandle({ dir, logFile, current: () => proc, launch, stop }), {
    url,
    wsUrl: `ws://${host}:${port}`,
    host,
    port,
    rtcTcpPort,
    udpPort,
    apiKey: keys.apiKey,
    apiSecret: keys.apiSecret,
    configFile,
    config,
  });
}
