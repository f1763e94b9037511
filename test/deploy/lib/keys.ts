// Key files as a deployment gets them: made by the real `volly-pq keygen`
// (the built CLI, as the image runs it) into a directory that stands for the
// mounted Secret or bind-mounted key directory, and container paths mapped
// onto that directory.

import { spawnSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const CLI = resolve(import.meta.dirname, '../../../proxy/bin/volly-pq.js');

/** Runs the volly-pq CLI with `args`; throws with its stderr when it fails. */
export function vollyPq(args: string[]): string {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`volly-pq ${args.join(' ')} exited ${r.status}: ${r.stderr}`);
  return r.stdout;
}

/** A fresh directory with one `volly-pq keygen --algorithm <alg> --out <name>` file per entry. */
export function keygenDir(files: Record<string, 'X-Wing' | 'ML-KEM-768' | 'ML-DSA-65'>): string {
  const dir = mkdtempSync(join(tmpdir(), 'volly-deploy-keys-'));
  for (const [name, algorithm] of Object.entries(files)) vollyPq(['keygen', '--algorithm', algorithm, '--out', join(dir, name)]);
  return dir;
}

/** `env` with every path under a container mount point replaced by the local directory standing for it. */
export function mapMounts(env: Record<string, string>, mounts: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(env).map(([k, v]) => {
      let out = v;
      for (const [target, dir] of Object.entries(mounts)) out = out.split(`${target}/`).join(`${dir}/`);
      return [k, out];
    }),
  );
}
