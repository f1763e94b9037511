// Child processes for the tests (livekit-server, redis-server, ...), with
// their output captured to a log file and no way to outlive the test process.
//
// Each child runs in its own process group, started through a tiny /bin/sh
// wrapper that forks a watchdog into that group and then `exec`s the real
// program (so the child's pid is the group id). The watchdog polls the test
// process once a second and SIGKILLs the whole group when the test process is
// gone, even if it died by SIGKILL and ran no cleanup of its own. On a normal
// exit, SIGINT, SIGTERM or SIGHUP the test process kills every group itself.

import { spawn } from 'node:child_process';
import { appendFileSync, closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { until } from './wait.ts';

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface SpawnManagedOptions {
  /** Short name for messages, e.g. "livekit:7880". */
  name: string;
  command: string;
  args?: string[];
  /** stdout and stderr are appended here (the file is created). */
  logFile: string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export interface ManagedProcess {
  readonly name: string;
  readonly pid: number;
  readonly logFile: string;
  /**
   * Resolves when the process has exited (never rejects). Reading it keeps
   * the test process alive until then; an unwatched child does not.
   */
  readonly exited: Promise<ExitInfo>;
  /** Set once the process has exited. */
  readonly exitInfo: ExitInfo | undefined;
  running(): boolean;
  /** Send a signal to the process itself (SIGKILL goes to its whole group). */
  kill(signal?: NodeJS.Signals): void;
  /**
   * Ask it to exit (`signal`, default SIGTERM), wait up to `graceMs`, then
   * SIGKILL the whole process group; resolves once it has exited.
   */
  stop(opts?: { signal?: NodeJS.Signals; graceMs?: number }): Promise<ExitInfo>;
  /** The last `lines` lines of the log file. */
  logTail(lines?: number): string;
}

const live = new Set<number>(); // process-group ids of running children
const tempDirs = new Set<string>();
let hooksInstalled = false;

const SIGNAL_EXIT: Partial<Record<NodeJS.Signals, number>> = { SIGHUP: 129, SIGINT: 130, SIGTERM: 143 };

function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // already gone
  }
}

/** SIGKILL every child process group still running. Synchronous. */
export function killAllChildren(): void {
  for (const pgid of live) killGroup(pgid, 'SIGKILL');
  live.clear();
}

function removeTempDirs(): void {
  if (process.env.VOLLY_KEEP_LOGS) return;
  for (const dir of tempDirs) {
    try {
      rmSync(dir, { recursive: true, force: true });
    } catch {
      // best effort
    }
  }
  tempDirs.clear();
}

function installHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', () => {
    killAllChildren();
    removeTempDirs();
  });
  for (const sig of Object.keys(SIGNAL_EXIT) as NodeJS.Signals[]) {
    const onSignal = (): void => {
      killAllChildren();
      // If nobody else handles the signal, do what the default action would.
      if (process.listenerCount(sig) === 1) {
        removeTempDirs();
        process.exit(SIGNAL_EXIT[sig]);
      }
    };
    process.on(sig, onSignal);
  }
}

/** A fresh temporary directory, removed when the test process exits (unless VOLLY_KEEP_LOGS is set). */
export function makeTempDir(prefix: string): string {
  installHooks();
  const root = process.env.VOLLY_TMP_DIR ?? tmpdir();
  mkdirSync(root, { recursive: true });
  const dir = mkdtempSync(join(root, `volly-${prefix}-`));
  tempDirs.add(dir);
  return dir;
}

/** The last `lines` lines of a text file ('' if it does not exist). */
export function tailFile(file: string, lines = 40): string {
  try {
    const size = statSync(file).size;
    const text = readFileSync(file, 'utf8').slice(size > 256_000 ? -256_000 : 0);
    return text
      .split('\n')
      .slice(-lines - 1)
      .join('\n')
      .trimEnd();
  } catch {
    return '';
  }
}

const WATCHDOG = [
  'parent=$1; shift',
  // The subshell shares this shell's process group; `$$` stays the pid that
  // `exec` hands to the real program.
  '( while kill -0 "$parent" 2>/dev/null && kill -0 $$ 2>/dev/null; do sleep 1; done; kill -KILL 0 ) </dev/null >/dev/null 2>&1 &',
  'exec "$@"',
].join('\n');

/** Start a program in its own process group with output going to `logFile`. */
export function spawnManaged(opts: SpawnManagedOptions): ManagedProcess {
  installHooks();
  const fd = openSync(opts.logFile, 'a');
  let child: ReturnType<typeof spawn>;
  try {
    child = spawn('/bin/sh', ['-c', WATCHDOG, 'volly-watchdog', String(process.pid), opts.command, ...(opts.args ?? [])], {
      cwd: opts.cwd,
      env: opts.env ?? process.env,
      detached: true, // new session and process group; pgid == child.pid
      stdio: ['ignore', fd, fd],
    });
  } finally {
    closeSync(fd);
  }
  const pid = child.pid;
  if (pid === undefined) {
    throw new Error(`${opts.name}: could not spawn ${opts.command}`);
  }
  live.add(pid);
  // Do not keep the test process alive just for this child.
  child.unref();

  let exitInfo: ExitInfo | undefined;
  const exited = new Promise<ExitInfo>((resolve) => {
    child.once('error', (err) => {
      appendFileSync(opts.logFile, `\n[harness] ${opts.name}: ${String(err)}\n`);
      exitInfo = { code: -1, signal: null };
      live.delete(pid);
      resolve(exitInfo);
    });
    child.once('exit', (code, signal) => {
      exitInfo = { code, signal };
      child.unref();
      // Take the watchdog and anything the program left behind with it.
      killGroup(pid, 'SIGKILL');
      live.delete(pid);
      resolve(exitInfo);
    });
  });

  const proc: ManagedProcess = {
    name: opts.name,
    pid,
    logFile: opts.logFile,
    get exited() {
      // Someone waits for the exit: keep the event loop alive until it comes.
      if (!exitInfo) child.ref();
      return exited;
    },
    get exitInfo() {
      return exitInfo;
    },
    running: () => exitInfo === undefined,
    kill(signal: NodeJS.Signals = 'SIGTERM') {
      if (exitInfo) return;
      if (signal === 'SIGKILL') killGroup(pid, 'SIGKILL');
      else {
        try {
          process.kill(pid, signal);
        } catch {
          // gone
        }
      }
    },
    async stop({ signal = 'SIGTERM', graceMs = 5_000 } = {}) {
      if (exitInfo) return exitInfo;
      proc.kill(signal);
      const timer = setTimeout(() => {
        killGroup(pid, 'SIGCONT');
        killGroup(pid, 'SIGKILL');
      }, graceMs);
      try {
        return await proc.exited;
      } finally {
        clearTimeout(timer);
      }
    },
    logTail: (lines = 40) => tailFile(opts.logFile, lines),
  };
  return proc;
}

/**
 * Poll `check` until it returns true (wait.ts's until). Throws after
 * `timeoutMs`, or as soon as `proc` (if given) exits, with the tail of its log
 * in the message.
 */
export async function waitFor(
  what: string,
  check: () => Promise<boolean> | boolean,
  opts: { timeoutMs?: number; intervalMs?: number; proc?: ManagedProcess } = {},
): Promise<void> {
  const { timeoutMs = 30_000, intervalMs = 100, proc } = opts;
  await until(what, check, {
    timeoutMs,
    intervalMs,
    ...(proc && {
      giveUp: () => (proc.running() ? undefined : `${proc.name} exited (code ${proc.exitInfo?.code}, signal ${proc.exitInfo?.signal})`),
      detail: () => `; log ${proc.logFile}:\n${proc.logTail()}`,
    }),
  });
}

/** What every server the harness starts offers (LiveKit, Redis, ...). */
export interface ServerHandle {
  /** Directory holding its config, data and log. */
  readonly dir: string;
  readonly logFile: string;
  /** The running process (a new one after restart()). */
  readonly process: ManagedProcess;
  readonly pid: number;
  running(): boolean;
  /** Ask it to exit, SIGKILL the group if it will not; waits for the exit. */
  stop(): Promise<void>;
  /** Send a signal (default SIGKILL, a crash; SIGSTOP/SIGCONT for a hang). */
  kill(signal?: NodeJS.Signals): void;
  /** Stop (if running) and start again on the same ports and config. */
  restart(): Promise<void>;
  logTail(lines?: number): string;
}

/** The ServerHandle part of a server, from how to start and stop it. */
export function serverHandle(ctl: {
  dir: string;
  logFile: string;
  current: () => ManagedProcess;
  launch: () => Promise<void>;
  stop: () => Promise<void>;
}): ServerHandle {
  return {
    dir: ctl.dir,
    logFile: ctl.logFile,
    get process() {
      return ctl.current();
    },
    get pid() {
      return ctl.current().pid;
    },
    running: () => ctl.current().running(),
    stop: ctl.stop,
    kill: (signal: NodeJS.Signals = 'SIGKILL') => ctl.current().kill(signal),
    async restart() {
      await ctl.stop();
      await ctl.launch();
    },
    logTail: (lines?: number) => tailFile(ctl.logFile, lines),
  };
}
