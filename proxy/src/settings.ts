/**
 * The settings table: each setting's name in the YAML file, its environment
 * variable, its schema and default — the one place a setting is defined.
 * config.ts reads and cross-checks them; lists and maps take both forms
 * (a comma-separated string in the environment, YAML's own in the file).
 */
import { KEM_ALGORITHMS } from '@volly/shared';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { TLS_VERSIONS } from './tls.js';

export class ConfigError extends Error {
  readonly code = 'ERR_CONFIG';
}

const hostPort = z.string().regex(/^(\[[0-9a-fA-F:]+\]|[A-Za-z0-9.-]*):\d{1,5}$/, 'expected host:port');
const positive = z.coerce.number().int().positive();
/** A list: comma-separated in the environment, a YAML sequence (or the same string) in the file. */
const list = (item: z.ZodType<string> = z.string()) =>
  z.preprocess(
    (v) =>
      typeof v === 'string'
        ? v
            .split(',')
            .map((x) => x.trim())
            .filter(Boolean)
        : v,
    z.array(item),
  );
/** LiveKit's `key: secret` pairs: a string in the environment, a YAML mapping (or the same string) in the file. */
const keyPairs = z.union([z.string().min(1, 'at least one "key: secret" pair is required'), z.record(z.string(), z.unknown())]).transform((v, ctx) => {
  try {
    return typeof v === 'string' ? parseKeys(v) : keyMap(Object.entries(v));
  } catch (err) {
    ctx.addIssue({ code: 'custom', message: (err as Error).message });
    return z.NEVER;
  }
});

/** name in the YAML file → env var, with its schema and default. */
export const SETTINGS = {
  listen: { env: 'VOLLY_LISTEN', schema: hostPort, default: '0.0.0.0:7880' },
  upstream_url: { env: 'VOLLY_UPSTREAM_URL', schema: z.url({ protocol: /^https?$/ }), default: 'http://127.0.0.1:7780' },
  keys: { env: 'LIVEKIT_KEYS', schema: keyPairs, default: undefined },
  upstream_key: { env: 'VOLLY_UPSTREAM_KEY', schema: z.string().min(1), default: undefined },
  upstream_secret: { env: 'VOLLY_UPSTREAM_SECRET', schema: z.string().min(1), default: undefined },
  pq_policy: { env: 'VOLLY_PQ_POLICY', schema: z.enum(['prefer', 'require']), default: 'prefer' },
  pq_algorithms: {
    env: 'VOLLY_PQ_ALGORITHMS',
    schema: list(
      z.enum(KEM_ALGORITHMS, { error: (i) => `unknown algorithm ${JSON.stringify(String(i.input).slice(0, 32))} (known: ${KEM_ALGORITHMS.join(', ')})` }),
    ).pipe(z.array(z.enum(KEM_ALGORITHMS)).min(1, 'at least one algorithm is required')),
    default: KEM_ALGORITHMS.join(','),
  },
  admin_listen: { env: 'VOLLY_ADMIN_LISTEN', schema: hostPort, default: '127.0.0.1:9880' },
  max_frame_bytes: { env: 'VOLLY_MAX_FRAME_BYTES', schema: positive.max(64 * 1024 * 1024), default: 1024 * 1024 },
  max_buffered_bytes: { env: 'VOLLY_MAX_BUFFERED_BYTES', schema: positive, default: 4 * 1024 * 1024 },
  handshake_timeout_ms: { env: 'VOLLY_HANDSHAKE_TIMEOUT_MS', schema: positive, default: 10_000 },
  max_handshakes: { env: 'VOLLY_MAX_HANDSHAKES', schema: positive, default: 1024 },
  idle_timeout_ms: { env: 'VOLLY_IDLE_TIMEOUT_MS', schema: positive, default: 30_000 },
  drain_timeout_ms: { env: 'VOLLY_DRAIN_TIMEOUT_MS', schema: positive, default: 30_000 },
  token_leeway_s: { env: 'VOLLY_TOKEN_LEEWAY_S', schema: z.coerce.number().int().min(0).max(300), default: 10 },
  log_level: { env: 'VOLLY_LOG_LEVEL', schema: z.enum(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent']), default: 'info' },
  demo: { env: 'VOLLY_DEMO', schema: z.stringbool(), default: 'false' },
  // The demo mints tokens for anyone: only on a loopback listener unless this says otherwise.
  demo_public: { env: 'VOLLY_DEMO_PUBLIC', schema: z.stringbool(), default: 'false' },
  // Peers whose X-Forwarded-For / X-Real-IP the proxy believes (CIDRs); others' are replaced by the socket address.
  trusted_proxies: { env: 'VOLLY_TRUSTED_PROXIES', schema: list(), default: '' },
  // One source address may hold at most this many PQ handshakes (and queued upgrades) at once.
  max_handshakes_per_source: { env: 'VOLLY_MAX_HANDSHAKES_PER_SOURCE', schema: positive, default: 32 },
  // Upgrades beyond max_handshakes wait here (up to the handshake timeout) before 429.
  handshake_queue: { env: 'VOLLY_HANDSHAKE_QUEUE', schema: z.coerce.number().int().min(0), default: 4096 },
  // In-band: the client's pq_handshake must arrive this soon after the upgrade.
  first_message_timeout_ms: { env: 'VOLLY_FIRST_MESSAGE_TIMEOUT_MS', schema: positive, default: 3_000 },
  // v1 token-bound clients that send no volly_sid lack the replay guard: refused unless this admits them.
  v1_allow_missing_sid: { env: 'VOLLY_V1_ALLOW_MISSING_SID', schema: z.stringbool(), default: 'false' },
  // TLS on the public listener (tls.ts): both files or neither; without them, plain HTTP.
  tls_cert: { env: 'VOLLY_TLS_CERT', schema: z.string().min(1), default: undefined },
  tls_key: { env: 'VOLLY_TLS_KEY', schema: z.string().min(1), default: undefined },
  tls_min_version: { env: 'VOLLY_TLS_MIN_VERSION', schema: z.enum(TLS_VERSIONS), default: 'TLSv1.2' },
  tls_groups: {
    env: 'VOLLY_TLS_GROUPS',
    schema: z
      .string()
      .regex(/^[?*]?[A-Za-z0-9_-]+(?:[:/][?*]?[A-Za-z0-9_-]+)*$/, 'expected OpenSSL group names separated by ":" (e.g. X25519MLKEM768:X25519:P-256)'),
    default: 'X25519MLKEM768:X25519:P-256:P-384',
  },
  tls_reload_interval_ms: { env: 'VOLLY_TLS_RELOAD_INTERVAL_MS', schema: positive, default: 10_000 },
  // Server authentication (server-keys.ts): ML-DSA-65 key files, the first signs; unset, handshakes are not signed.
  // ML-DSA-65 identity keys (v1 server authentication) and X-Wing / ML-KEM-768 static keys (v2); the first of each kind is current.
  server_keys: { env: 'VOLLY_SERVER_KEYS', schema: list().pipe(z.array(z.string()).min(1, 'expected at least one key file')), default: undefined },
  // Wire protocols served on the signaling paths; a v2 upgrade needs a KEM key in server_keys.
  protocols: { env: 'VOLLY_PROTOCOLS', schema: list(), default: 'v1,v2' },
  // v2's single-use session register shared by replicas; unset: in this process's memory.
  redis_url: { env: 'VOLLY_REDIS_URL', schema: z.url({ protocol: /^rediss?$/, error: 'expected a redis:// or rediss:// URL' }), default: undefined },
} as const;
export type Name = keyof typeof SETTINGS;

/** LiveKit's `key: secret` format (YAML mapping, one pair per line; also "k1: s1, k2: s2"). */
export function parseKeys(text: string): Map<string, string> {
  const doc: unknown = parseYaml(text.includes('\n') ? text : text.replace(/,\s*/g, '\n'));
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) throw new ConfigError('expected "key: secret" pairs');
  return keyMap(Object.entries(doc));
}

/** Checked pairs: every key has a secret of 32+ characters, as LiveKit requires. */
function keyMap(entries: Array<[string, unknown]>): Map<string, string> {
  const keys = new Map<string, string>();
  for (const [k, v] of entries) {
    if (typeof v !== 'string' && typeof v !== 'number') throw new ConfigError(`key ${k} has no secret`);
    if (String(v).length < 32) throw new ConfigError(`the secret of key ${k} is shorter than 32 characters`);
    keys.set(k, String(v));
  }
  if (keys.size === 0) throw new ConfigError('expected at least one "key: secret" pair');
  return keys;
}

/** Env names of every setting, for `--help` and docs. */
export const SETTING_ENV_NAMES = Object.fromEntries(Object.entries(SETTINGS).map(([k, v]) => [k, v.env]));
