// On-CPU sampling of one process with Linux perf (cpu-clock, so a sample is
// taken only while the process runs: unlike V8's --cpu-prof, time spent
// preempted by a peer it just woke is not charged to the call it was in),
// and the samples sorted into what a relay's CPU goes to. JIT frames get
// JavaScript names when the process runs with --perf-basic-prof-only-functions.
//
// Needs perf (Debian: linux-perf) and permission to attach (root, or
// kernel.perf_event_paranoid <= 2 for one's own processes).

import { spawn, spawnSync } from 'node:child_process';

export const PERF_HZ = 4000;

export function perfAvailable(): boolean {
  return spawnSync('perf', ['--version'], { stdio: 'ignore' }).status === 0;
}

/** Starts recording `pid` into `file`; resolves (once attached) to a stop function. */
export async function perfRecord(pid: number, file: string): Promise<() => Promise<void>> {
  const rec = spawn(
    'perf',
    ['record', '-q', '-e', 'cpu-clock', '-F', String(PERF_HZ), ...(process.env.VOLLY_PERF_CALLGRAPH ? ['-g'] : []), '-p', String(pid), '-o', file],
    { stdio: 'ignore' },
  );
  const exited = new Promise((r) => rec.once('exit', r));
  await new Promise((r) => setTimeout(r, 400)); // attached
  return async () => {
    rec.kill('SIGINT');
    await exited;
  };
}

/** OpenSSL's ML-KEM, SHA-2/3 and HMAC inside node, libsodium's X25519 ladder and AEAD, noble's JavaScript. */
const CRYPTO_SYMBOL =
  /keccak|sha3|shake|ntt|matrix_expand|_cpa|ml_?kem|chacha|poly1305|x25519|curve25519|ladder|fe51|fe25519|ge25519|sha256|sha512|hmac|@noble/i;

/** Categories in the order they are tested; the first that matches takes the sample. */
const CATEGORIES: ReadonlyArray<readonly [string, (dso: string, sym: string) => boolean]> = [
  ['kernel: system calls, TCP, wake-ups', (dso) => dso === '[kernel.kallsyms]'],
  ['crypto: ML-KEM, X25519, SHA-2/3, ChaCha20-Poly1305', (dso, sym) => dso.startsWith('sodium') || CRYPTO_SYMBOL.test(sym)],
  ['JavaScript (JIT-compiled)', (dso, sym) => dso.startsWith('[JIT]') || sym.startsWith('JS:')],
  ['V8: interpreter, inline caches, GC, compiler', (_dso, sym) => /^(Builtins_|v8::|Heap|cppgc|Ignition|Turbofan)/.test(sym)],
  ['Node.js and libuv (C++)', (_dso, sym) => /^(node::|uv_|uv__|llhttp|simdutf|ada::)/.test(sym)],
  ['libc: malloc, memcpy', (dso) => dso.startsWith('libc')],
  ['other', () => true],
];

export const PERF_CATEGORY_NAMES = CATEGORIES.map(([name]) => name);

/** Samples per category of a recording (perf report by dso and symbol). */
export function perfCategories(file: string): Map<string, number> {
  const r = spawnSync('perf', ['report', '-i', file, '--no-children', '--sort', 'dso,sym', '-q', '-g', 'none', '-n', '--stdio'], {
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`perf report failed: ${(r.stderr ?? '').slice(0, 300)}`);
  const out = new Map<string, number>(PERF_CATEGORY_NAMES.map((n) => [n, 0]));
  // "  3.37%   159  [kernel.kallsyms]  [k] finish_task_switch.isra.0"
  const line = /^\s*[\d.]+%\s+(\d+)\s+(\[JIT\] tid \d+|\[[^\]]+\]|\S+)\s+\[[^\]]+\]\s+(.*)$/;
  for (const text of r.stdout.split('\n')) {
    const m = line.exec(text);
    if (!m) continue;
    const [, count, dso, sym] = m as unknown as [string, string, string, string];
    const hit = CATEGORIES.find(([, test]) => test(dso, sym.trim()));
    if (hit) out.set(hit[0], (out.get(hit[0]) ?? 0) + Number(count));
  }
  return out;
}
