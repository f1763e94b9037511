// Debian's redis-server for LiveKit's multi-node mode: loopback only, no
// persistence, on a free port.

import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { getFreePort, LOOPBACK } from './ports.ts';
import { type ManagedProcess, makeTempDir, type ServerHandle, serverHandle, spawnManaged, waitFor } from './process.ts';

export const REDIS_SERVER_BIN = '/usr/bin/redis-server';

export interface StartRedisOptions {
  /** Port; a free one when omitted. */
  port?: number;
  /** Binary (default `$VOLLY_REDIS_BIN` or /usr/bin/redis-server). */
  binary?: string;
  startTimeoutMs?: number;
}

export interface RedisServer extends ServerHandle {
  /** "127.0.0.1:PORT", as LiveKit's `redis.address` wants it. */
  readonly address: string;
  readonly host: string;
  readonly port: number;
  // restart() comes back empty: there is no persistence.
}

/** Send PING, expect +PONG. */
export function redisPing(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = connect({ host, port });
    let buf = '';
    const done = (ok: boolean): void => {
      sock.destroy();
      resolve(ok);
    };
    sock.setTimeout(timeoutMs, () => done(false));
    sock.once('error', () => done(false));
    sock.once('connect', () => sock.write('PING\r\n'));
    sock.on('data', (d) => {
      buf += d.toString('latin1');
      if (buf.includes('\r\n')) done(buf.startsWith('+PONG'));
    });
  });
}

/** Start redis-server on 127.0.0.1 and a free port; resolves once it answers PING. */
export async function startRedis(opts: StartRedisOptions = {}): Promise<RedisServer> {
  const binary = opts.binary ?? process.env.VOLLY_REDIS_BIN ?? REDIS_SERVER_BIN;
  if (!existsSync(binary)) {
    throw new Error(`${binary} not found: install Debian's redis-server (apt-get install redis-server)`);
  }
  const port = opts.port ?? (await getFreePort());
  const host = LOOPBACK;
  const dir = makeTempDir(`redis-${port}`);
  const logFile = join(dir, 'redis.log');
  const args = [
    '--bind',
    host,
    '--port',
    String(port),
    '--save',
    '',
    '--appendonly',
    'no',
    '--dir',
    dir,
    '--protected-mode',
    'yes',
    '--daemonize',
    'no',
    '--logfile',
    '',
    '--loglevel',
    'warning',
  ];

  let proc!: ManagedProcess;
  const launch = async (): Promise<void> => {
    proc = spawnManaged({ name: `redis-server:${port}`, command: binary, args, logFile, cwd: dir });
    try {
      await waitFor(`redis-server on ${host}:${port} to answer PING`, () => redisPing(host, port), {
        timeoutMs: opts.startTimeoutMs ?? 15_000,
        intervalMs: 50,
        proc,
      });
    } catch (err) {
      await proc.stop({ signal: 'SIGKILL' });
      throw err;
    }
  };
  const stop = async (): Promise<void> => {
    await proc.stop({ signal: 'SIGTERM', graceMs: 5_000 });
  };

  await launch();
  return Object.assign(serverHandle({ dir, logFile, current: () => proc, launch, stop }), {
    address: `${host}:${port}`,
    host,
    port,
  });
}
