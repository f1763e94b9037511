// Python clients for the tests: the interpreter of the venv that
// test/clients/python/setup-venv.sh makes (pinned `livekit` realtime SDK from
// PyPI), and a script run as a child process that reports JSON status lines
// on stdout.
//
// The child's stdin is a pipe the script watches: closing it is how a test
// stops the script, and a test process that dies closes it too, so a Python
// bot never outlives its test. Its stderr is kept (the last 64 KiB) and
// written out when something fails, never otherwise: the SDK logs a lot.

import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

export const PYTHON_DIR = fileURLToPath(new URL('../clients/python/', import.meta.url));
const SETUP = `${PYTHON_DIR}setup-venv.sh`;

export class PythonError extends Error {
  constructor(
    readonly code: 'VENV_SETUP_FAILED' | 'SCRIPT_FAILED' | 'STATUS_TIMEOUT',
    message: string,
  ) {
    super(message);
    this.name = 'PythonError';
  }
}

let interpreter: Promise<string> | undefined;

/**
 * The venv's interpreter: $VOLLY_PYTHON when set (.ci/run exports it),
 * otherwise whatever setup-venv.sh prints — instant when the venv is cached,
 * an install from PyPI (about 15 s) the first time on a machine.
 */
export function python(): Promise<string> {
  const fromEnv = process.env.VOLLY_PYTHON;
  if (fromEnv) return Promise.resolve(fromEnv);
  interpreter ??= promisify(execFile)('bash', [SETUP], { timeout: 300_000, maxBuffer: 1 << 20 }).then(
    ({ stdout }) => stdout.trim(),
    (err: Error & { stderr?: string }) => {
      interpreter = undefined;
      throw new PythonError('VENV_SETUP_FAILED', `${SETUP} failed (run \`npm run setup:python\`): ${err.message}\n${err.stderr ?? ''}`);
    },
  );
  return interpreter;
}

export type Status = { event: string } & Record<string, unknown>;

export interface PythonScript {
  /** Every JSON status line so far. */
  readonly statuses: Status[];
  /** The first status matching `event` (and `match`, if given), waiting for it; fails fast if the script exits first. */
  status(event: string, timeoutMs?: number, match?: (s: Status) => boolean): Promise<Status>;
  /** Closes its stdin (the script leaves and exits), then waits; SIGKILL after `graceMs`. Resolves with the exit code. */
  stop(graceMs?: number): Promise<number | null>;
  /** The tail of its stderr. */
  stderr(): string;
}

/**
 * Runs `script` (a path under test/clients/python/) with the venv's
 * interpreter. The script is SIGKILLed after `timeoutMs`. `env` adds to a
 * minimal environment (PATH and HOME only: nothing of the test's leaks in).
 */
export async function runPython(
  script: string,
  args: string[],
  opts: { env?: Record<string, string>; timeoutMs?: number; name?: string } = {},
): Promise<PythonScript> {
  const name = opts.name ?? script;
  const child = spawn(await python(), ['-u', `${PYTHON_DIR}${script}`, ...args], {
    stdio: ['pipe', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: process.env.HOME ?? '/root', ...opts.env },
  });
  const statuses: Status[] = [];
  const waiters = new Set<() => void>();
  let err = '';
  let out = '';
  let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  const notify = () => {
    for (const w of waiters) w();
  };
  child.stderr.setEncoding('utf8').on('data', (d: string) => {
    err = (err + d).slice(-65_536);
  });
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
    for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
      const line = out.slice(0, i).trim();
      out = out.slice(i + 1);
      if (line.startsWith('{')) statuses.push(JSON.parse(line) as Status);
    }
    notify();
  });
  // A closed stdin is the script's cue to leave; EPIPE after it exited is expected.
  child.stdin.on('error', () => {});
  const timeoutMs = opts.timeoutMs ?? 180_000;
  const killer = setTimeout(() => {
    process.stderr.write(`[python] ${name}: killed after ${timeoutMs} ms\n`);
    child.kill('SIGKILL');
  }, timeoutMs);
  const exited = new Promise<number | null>((resolve) => {
    const onExit = (code: number | null, signal: NodeJS.Signals | null) => {
      if (exit) return;
      exit = { code, signal };
      clearTimeout(killer);
      notify();
      resolve(code);
    };
    child.once('exit', onExit);
    child.once('error', (e) => {
      err += `\n[harness] ${e.message}`;
      onExit(-1, null);
    });
  });
  const report = (what: string) => `${name} ${what}; stdout: ${JSON.stringify(statuses)}\n--- stderr (tail) ---\n${err.slice(-4_000)}`;
  const fail = (code: PythonError['code'], what: string): PythonError => {
    const e = new PythonError(code, report(what));
    process.stderr.write(`[python] ${e.message}\n`);
    return e;
  };

  return {
    statuses,
    stderr: () => err,
    status(event, timeoutMs = 60_000, match = () => true) {
      return new Promise<Status>((resolve, reject) => {
        const check = () => {
          const s = statuses.find((x) => x.event === event && match(x));
          if (s) done(() => resolve(s));
          else if (exit) done(() => reject(fail('SCRIPT_FAILED', `exited (code ${exit?.code}, signal ${exit?.signal}) before "${event}"`)));
        };
        const timer = setTimeout(() => done(() => reject(fail('STATUS_TIMEOUT', `sent no "${event}" in ${timeoutMs} ms`))), timeoutMs);
        const done = (f: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          f();
        };
        waiters.add(check);
        check();
      });
    },
    async stop(graceMs = 20_000) {
      child.stdin.end();
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(t);
      if (code !== 0) process.stderr.write(`[python] ${report(`exited with code ${code}, signal ${exit?.signal}`)}\n`);
      return code;
    },
  };
}
