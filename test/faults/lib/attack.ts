// The parent side of lib/attacker.ts: forks it (IPC) and calls its commands.

import { type ChildProcess, fork } from 'node:child_process';
import { setPriority } from 'node:os';
import { fileURLToPath } from 'node:url';
import type { StormOptions, StormReport } from './storm.ts';

const ATTACKER = fileURLToPath(new URL('./attacker.ts', import.meta.url));

export interface AttackReport {
  halves: number;
  open: number;
  closeCodes: Record<string, number>;
  closedAfterMs: [number, number] | null;
  headers: number;
  headersOpen: number;
  httpReplies: Record<string, number>;
  headerClosedAfterMs: [number, number] | null;
  sockets: number;
}

export interface Attacker {
  readonly pid: number;
  slowloris(o: {
    port: number;
    count: number;
    dribble: number;
    byteEveryMs: number;
    concurrency?: number;
  }): Promise<{ opened: number; statuses: Record<string, number>; errors: number; ms: number }>;
  flood(o: {
    port: number;
    count: number;
    concurrency: number;
    maxMs: number;
    perSecond?: number;
  }): Promise<{ done: number; byKind: Record<string, number>; statuses: Record<string, number>; errors: number; ms: number }>;
  /** Starts one address hammering for handshake slots (lib/storm.ts); held upgrades join `report`'s half-open tally. */
  storm(o: StormOptions & { byteEveryMs: number }): Promise<void>;
  /** Stops the storm's new tries; its figures. */
  calm(): Promise<StormReport | null>;
  headers(o: { port: number; count: number; byteEveryMs: number }): Promise<{ opened: number }>;
  report(): Promise<AttackReport>;
  /** Destroy every attacking socket (the child stays for the next round). */
  reset(): Promise<void>;
  close(): Promise<void>;
}

export interface AttackerOptions {
  /** The one local address every attacking socket is bound to (e.g. 127.0.0.2), so the proxy sees one source apart from honest clients. */
  readonly localAddress?: string;
}

export function startAttacker(opts: AttackerOptions = {}): Attacker {
  const args = opts.localAddress ? ['--local-address', opts.localAddress] : [];
  const child: ChildProcess = fork(ATTACKER, args, { execPath: process.execPath, execArgv: [], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  // On this one machine the attacker's own CPU would be taken from the proxy
  // and LiveKit; a real attacker brings its own. Lowest priority, so what the
  // honest clients feel is the proxy's handling of the attack.
  if (child.pid) setPriority(child.pid, 19);
  let seq = 0;
  const waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();
  child.on('message', (raw) => {
    const m = raw as { id: number; ok: boolean; value?: unknown; error?: string };
    const w = waiting.get(m.id);
    if (!w) return;
    waiting.delete(m.id);
    if (m.ok) w.resolve(m.value);
    else w.reject(new Error(`attacker: ${m.error}`));
  });
  child.on('exit', (code, signal) => {
    for (const w of waiting.values()) w.reject(new Error(`attacker exited (${code ?? signal})`));
    waiting.clear();
  });
  const call = <T>(cmd: string, args: object = {}, timeoutMs = 120_000): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const id = ++seq;
      const t = setTimeout(() => {
        waiting.delete(id);
        reject(new Error(`attacker ${cmd} timed out`));
      }, timeoutMs);
      waiting.set(id, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      child.send({ id, cmd, ...args });
    });
  return {
    pid: child.pid ?? 0,
    slowloris: (o) => call('slowloris', o),
    flood: (o) => call('flood', o),
    headers: (o) => call('headers', o),
    storm: async (o) => {
      await call('storm', o);
    },
    calm: () => call('calm'),
    report: () => call('report'),
    reset: async () => {
      await call('stop');
    },
    async close() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.disconnect();
      const t = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(t);
    },
  };
}
