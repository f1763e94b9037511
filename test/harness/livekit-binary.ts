// The stock livekit-server for the tests, built once with `go install` from
// the Go module proxy at the pinned version into the tool cache
// (~/.cache/volly/bin). livekit.ts starts it.
//
// This file is also a tiny CLI, run by .ci/run under Node 24 (type stripping):
//   node test/harness/livekit-binary.ts ensure    -> builds if missing, prints the path
//   node test/harness/livekit-binary.ts version   -> prints LIVEKIT_VERSION

import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { spawnManaged, tailFile } from './process.ts';

/** The one place the LiveKit version is pinned (compose and helm must match it). */
export const LIVEKIT_VERSION = 'v1.13.5';
export const LIVEKIT_SERVER_MODULE = 'github.com/livekit/livekit-server/cmd/server';

/** Where built Go tools are cached: `$VOLLY_CACHE_DIR` or `~/.cache/volly/bin`. */
export function toolCacheDir(): string {
  return resolve(process.env.VOLLY_CACHE_DIR || join(homedir(), '.cache', 'volly', 'bin'));
}

/** Where the livekit-server binary lives once built (`go install` names it `server`). */
export function liveKitBinaryPath(): string {
  return join(toolCacheDir(), 'server');
}

/** The Go toolchain: `$GO`, `go` on PATH, or /usr/local/go/bin/go. */
export function findGo(): string {
  if (process.env.GO) return process.env.GO;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, 'go'))) return join(dir, 'go');
  }
  if (existsSync('/usr/local/go/bin/go')) return '/usr/local/go/bin/go';
  throw new Error('the Go toolchain is needed to build livekit-server; no `go` on PATH nor /usr/local/go/bin/go');
}

function binaryVersion(bin: string): string | undefined {
  try {
    // Prints "livekit-server version 1.13.5".
    const out = execFileSync(bin, ['--version'], { encoding: 'utf8', timeout: 20_000, stdio: ['ignore', 'pipe', 'pipe'] });
    return out.trim().split(/\s+/).pop();
  } catch {
    return undefined;
  }
}

/**
 * The path of a livekit-server binary of LIVEKIT_VERSION. `$VOLLY_LIVEKIT_BIN`
 * wins when set; otherwise the cached build is used, and built with
 * `go install` (about 3 minutes) when missing or of another version.
 */
export async function ensureLiveKitBinary(opts: { log?: (line: string) => void } = {}): Promise<string> {
  const log = opts.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const override = process.env.VOLLY_LIVEKIT_BIN;
  if (override) {
    if (!existsSync(override)) throw new Error(`VOLLY_LIVEKIT_BIN=${override} does not exist`);
    return override;
  }
  const bin = liveKitBinaryPath();
  const want = LIVEKIT_VERSION.replace(/^v/, '');
  if (existsSync(bin)) {
    const have = binaryVersion(bin);
    if (have === want) return bin;
    log(`[harness] ${bin} reports version ${have ?? '(none)'}, want ${want}: rebuilding`);
  }

  const cacheDir = toolCacheDir();
  mkdirSync(cacheDir, { recursive: true });
  // Build into a private GOBIN and rename into place, so a concurrent build or
  // an interrupted one never leaves a half-written binary at `bin`.
  const gobin = join(cacheDir, `.build-${process.pid}-${randomBytes(4).toString('hex')}`);
  mkdirSync(gobin, { recursive: true });
  const logFile = join(cacheDir, 'livekit-build.log');
  writeFileSync(logFile, '');
  const go = findGo();
  const target = `${LIVEKIT_SERVER_MODULE}@${LIVEKIT_VERSION}`;
  log(`[harness] building livekit-server ${LIVEKIT_VERSION}: ${go} install ${target} (about 3 minutes; log ${logFile})`);
  const started = Date.now();
  try {
    const build = spawnManaged({
      name: 'go install livekit-server',
      command: go,
      args: ['install', target],
      logFile,
      env: { ...process.env, GOBIN: gobin, GOFLAGS: process.env.GOFLAGS || '-buildvcs=false' },
    });
    const { code, signal } = await build.exited;
    if (code !== 0 || !existsSync(join(gobin, 'server'))) {
      throw new Error(`go install ${target} failed (code ${code}, signal ${signal}):\n${tailFile(logFile, 40)}`);
    }
    renameSync(join(gobin, 'server'), bin);
  } finally {
    rmSync(gobin, { recursive: true, force: true });
  }
  const have = binaryVersion(bin);
  if (have !== want) throw new Error(`built ${bin} reports version ${have}, want ${want}`);
  log(`[harness] built ${bin} in ${((Date.now() - started) / 1000).toFixed(0)} s`);
  return bin;
}

// CLI for .ci/run: `node test/harness/livekit-binary.ts ensure|version`.
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const cmd = process.argv[2] ?? 'ensure';
  if (cmd === 'version') {
    process.stdout.write(`${LIVEKIT_VERSION}\n`);
  } else if (cmd === 'ensure') {
    process.stdout.write(`${await ensureLiveKitBinary()}\n`);
  } else {
    process.stderr.write('usage: node test/harness/livekit-binary.ts ensure|version\n');
    process.exit(2);
  }
}
