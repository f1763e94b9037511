/**
 * What the `volly-pq` commands share: exit codes, the usage error, durations,
 * and the app's API keys (LIVEKIT_KEYS, or `keys` in a proxy config file).
 */
import { createRequire } from 'node:module';
import { loadClientKeys, parseKeys } from '../config.js';

/** The version of @volly/proxy (from its package.json, beside dist/). */
export const VERSION: string = (createRequire(import.meta.url)('../../package.json') as { version: string }).version;

/** Exit codes of every command (docs/cli.md). */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

export const EXIT_CODES_HELP = `
Exit codes:
  0  success
  1  runtime failure (probe failed, proxy crashed or could not listen, a file could not be written)
  2  bad usage or a bad setting (unknown option, bad value, unreadable or malformed input file)`;

/** Bad arguments, options or input files: exit 2 with one line naming what was wrong. */
export class UsageError extends Error {
  readonly code = 'ERR_USAGE';
}

const UNIT_SECONDS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400 };

/** "90", "90s", "10m", "2h", "1d" → seconds (a positive integer). */
export function parseDuration(text: string, option: string): number {
  const m = /^(\d+)([smhd]?)$/.exec(text.trim());
  const seconds = m ? Number(m[1]) * (UNIT_SECONDS[m[2] || 's'] as number) : 0;
  if (!m || seconds <= 0 || !Number.isSafeInteger(seconds)) throw new UsageError(`${option}: expected a duration like 90s, 10m, 2h or 1d, got "${text}"`);
  return seconds;
}

export interface KeyOptions {
  /** API key id to sign with (default: the first one). */
  readonly key?: string;
  /** A proxy settings file whose `keys` to use instead of LIVEKIT_KEYS. */
  readonly config?: string;
}

/** The API key (id and secret) client tokens are signed with: from `--config`, else LIVEKIT_KEYS. */
export function signingKey(opts: KeyOptions, env: NodeJS.ProcessEnv = process.env): { keyId: string; secret: string } {
  let keys: ReadonlyMap<string, string>;
  if (opts.config) {
    keys = loadClientKeys(env, opts.config);
  } else {
    const text = env.LIVEKIT_KEYS;
    if (!text) throw new UsageError('LIVEKIT_KEYS is not set: it holds the API keys ("key: secret") tokens are signed with (or use --config FILE)');
    try {
      keys = parseKeys(text);
    } catch (err) {
      throw new UsageError(`LIVEKIT_KEYS: ${(err as Error).message}`);
    }
  }
  const keyId = opts.key ?? (keys.keys().next().value as string);
  const secret = keys.get(keyId);
  if (secret === undefined) throw new UsageError(`--key ${keyId}: not one of the configured API keys (${[...keys.keys()].join(', ')})`);
  return { keyId, secret };
}
