// What a user does with the package, step by step, for vite-app.test.ts:
// `npm pack` of shared/, a Vite app outside the workspace that installs the
// tarball beside livekit-client from the npm registry, and `vite build`.
//
// The app's directory is a cache (~/.cache/volly/vite-app/<hash of this
// folder's package.json>): vite and livekit-client stay installed between
// runs, and each run installs the fresh tarball over them with the one line
// a user types. VOLLY_VITE_APP_FRESH=1 starts from an empty directory.

import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import { toolCacheDir } from '../../harness/livekit-binary.ts';

const TEMPLATE = dirname(fileURLToPath(import.meta.url));
const SHARED = resolve(TEMPLATE, '../../../shared');
/** The files of the app a user writes (this helper is not one of them). */
const APP_FILES = ['package.json', 'index.html', 'main.ts', 'tsconfig.json', 'vite.config.ts', 'baseline.html', 'baseline.ts'];

/**
 * The environment of a user's shell: none of the npm_* variables `npm test`
 * sets (npm_config_local_prefix would make the nested npm act on this workspace).
 */
function userEnv(): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k)));
}

export interface Ran {
  readonly stdout: string;
  readonly ms: number;
}

/** Runs a command in `cwd`; rejects with its output when it fails. */
export function run(cmd: string, args: readonly string[], cwd: string, env: NodeJS.ProcessEnv = {}, timeoutMs = 300_000): Promise<Ran> {
  const t0 = performance.now();
  return new Promise((res, rej) => {
    execFile(cmd, args, { cwd, env: { ...userEnv(), ...env }, timeout: timeoutMs, maxBuffer: 32 << 20 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`${cmd} ${args.join(' ')} in ${cwd} failed: ${err.message}\n${stdout}\n${stderr}`));
      else res({ stdout, ms: Math.round(performance.now() - t0) });
    });
  });
}

export interface Packed {
  /** Absolute path of the .tgz. */
  readonly tarball: string;
  /** Paths inside the package (package/ stripped). */
  readonly files: string[];
  readonly size: number;
  readonly unpackedSize: number;
}

/** `npm pack` of shared/ (as built by `npm run build`) into `dest`. */
export async function packShared(dest: string): Promise<Packed> {
  const { stdout } = await run('npm', ['pack', '--json', '--pack-destination', dest], SHARED);
  const [info] = JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }>; size: number; unpackedSize: number }>;
  if (!info) throw new Error('npm pack printed no package');
  return { tarball: join(dest, info.filename), files: info.files.map((f) => f.path).sort(), size: info.size, unpackedSize: info.unpackedSize };
}

/** The app's cache directory, keyed by the template's package.json. */
export function appDir(): string {
  const key = createHash('sha256')
    .update(readFileSync(join(TEMPLATE, 'package.json')))
    .digest('hex')
    .slice(0, 16);
  return resolve(toolCacheDir(), '..', 'vite-app', key);
}

export interface Installed {
  readonly dir: string;
  /** The registry install of vite and livekit-client (0 when cached). */
  readonly baseMs: number;
  /** `npm install <tarball>`. */
  readonly installMs: number;
}

/** Forgets the previous run's tarball so the new one is installed, not matched against an old integrity. */
function forgetShared(dir: string): void {
  rmSync(join(dir, 'node_modules', '@volly'), { recursive: true, force: true });
  const lockFile = join(dir, 'package-lock.json');
  if (!existsSync(lockFile)) return;
  const lock = JSON.parse(readFileSync(lockFile, 'utf8')) as { packages?: Record<string, { dependencies?: Record<string, string> }> };
  for (const p of Object.keys(lock.packages ?? {})) if (p.includes('@volly/shared')) delete lock.packages?.[p];
  delete lock.packages?.['']?.dependencies?.['@volly/shared'];
  writeFileSync(lockFile, JSON.stringify(lock, null, 2));
}

/** Writes the app into its cache directory and installs its dependencies, then the tarball. */
export async function installApp(packed: Packed): Promise<Installed> {
  const dir = appDir();
  if (process.env.VOLLY_VITE_APP_FRESH) rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  for (const f of APP_FILES) copyFileSync(join(TEMPLATE, f), join(dir, f));
  for (const out of ['dist', 'dist-baseline']) rmSync(join(dir, out), { recursive: true, force: true });
  forgetShared(dir);
  const npmInstall = ['install', '--no-audit', '--no-fund', '--no-update-notifier'];
  const cached = existsSync(join(dir, 'node_modules', 'vite', 'package.json')) && existsSync(join(dir, 'node_modules', 'livekit-client', 'package.json'));
  const base = cached ? { ms: 0 } : await run('npm', npmInstall, dir);
  const tarball = join(dir, 'volly-shared.tgz');
  copyFileSync(packed.tarball, tarball);
  // The one line a user types (here with the tarball instead of the registry name).
  const one = await run('npm', [...npmInstall, './volly-shared.tgz'], dir);
  return { dir, baseMs: base.ms, installMs: one.ms };
}

export interface Built {
  /** The output directory, path -> bytes. */
  readonly files: Map<string, Buffer>;
  /** All JavaScript of the bundle: bytes, and gzip -9 bytes. */
  readonly js: { bytes: number; gzip: number };
  readonly ms: number;
}

function readTree(root: string): Map<string, Buffer> {
  const files = new Map<string, Buffer>();
  const walk = (d: string) => {
    for (const name of readdirSync(d)) {
      const p = join(d, name);
      if (statSync(p).isDirectory()) walk(p);
      else files.set(`/${relative(root, p)}`, readFileSync(p));
    }
  };
  walk(root);
  return files;
}

/**
 * `vite build` (the app's own vite, run by this Node). `baseline`: the same
 * page without @volly/shared (baseline.html, vite.config.ts), to tell what the package adds.
 */
export async function buildApp(dir: string, baseline = false): Promise<Built> {
  const vite = join(dir, 'node_modules', 'vite', 'bin', 'vite.js');
  const { ms } = await run(process.execPath, [vite, 'build', '--logLevel', 'warn'], dir, baseline ? { VOLLY_BASELINE: '1' } : {});
  const files = readTree(join(dir, baseline ? 'dist-baseline' : 'dist'));
  const js = [...files].filter(([p]) => p.endsWith('.js')).map(([, b]) => b);
  return {
    files,
    js: { bytes: js.reduce((n, b) => n + b.length, 0), gzip: js.reduce((n, b) => n + gzipSync(b, { level: 9 }).length, 0) },
    ms,
  };
}
