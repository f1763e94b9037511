/**
 * Settings, read like LiveKit reads its own: environment variables, over an
 * optional YAML file (`--config`). Each setting has one env name and one file
 * name; a bad value fails with a ConfigError naming the setting (exit 2).
 */
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import { KEM_ALGORITHMS, type KemAlgorithm } from '@volly/shared';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { ServerIdentity } from './server-keys.js';
import type { StaticKemKey } from './static-keys.js';
import { checkGroups, checkPair, readPair, TLS_VERSIONS, type TlsSettings } from './tls.js';
import { loadKeyFiles, type Protocol, parseProtocols } from './v2-settings.js';

export { PROTOCOLS, type Protocol } from './v2-settings.js';

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
const SETTINGS = {
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
type Name = keyof typeof SETTINGS;

export interface Limits {
  /** Largest WebSocket message accepted from either side (ws maxPayload). */
  readonly maxFrameBytes: number;
  /** Bytes queued toward one peer before the other side's reads pause. */
  readonly maxBufferedBytes: number;
  readonly handshakeTimeoutMs: number;
  readonly maxHandshakes: number;
  /** Handshakes (and queued upgrades) one source address may hold at once. */
  readonly maxHandshakesPerSource: number;
  /** Upgrades that may wait for a handshake slot before 429. */
  readonly handshakeQueue: number;
  /** In-band: how long the proxy waits for the client's pq_handshake. */
  readonly firstMessageTimeoutMs: number;
  /** A client silent this long is closed; LiveKit's clients ping every 5 s by default. */
  readonly idleTimeoutMs: number;
  readonly drainTimeoutMs: number;
  readonly tokenLeewaySeconds: number;
}

export interface Config {
  readonly listen: { host: string; port: number };
  readonly adminListen: { host: string; port: number };
  readonly upstreamUrl: URL;
  /** Client-facing API keys: key id → secret. */
  readonly keys: ReadonlyMap<string, string>;
  readonly upstream: { readonly key: string; readonly secret: string };
  readonly policy: 'prefer' | 'require';
  readonly algorithms: readonly KemAlgorithm[];
  readonly limits: Limits;
  readonly logLevel: string;
  readonly demo: boolean;
  /** The demo may serve on a non-loopback listener (explicit opt-in, warned at start). */
  readonly demoPublic: boolean;
  /** Peers allowed to tell us the client's address (X-Forwarded-For, X-Real-IP); empty: nobody. */
  readonly trustedProxies: BlockList;
  /** The CIDR list as configured, for logs. */
  readonly trustedProxyList: readonly string[];
  /** v1 token-bound upgrades without volly_sid are admitted (old clients; counted in metrics). */
  readonly v1AllowMissingSid: boolean;
  /** TLS on the public listener; undefined: plain HTTP (TLS ends in front of the proxy). */
  readonly tls?: TlsSettings;
  /** Server identity keys (ML-DSA-65): the first signs every handshake, all are published; undefined: handshakes are not signed. */
  readonly serverKeys?: readonly ServerIdentity[];
  /** Wire protocols served (VOLLY_PROTOCOLS); v2 only takes effect with `staticKeys`. */
  readonly protocols: readonly Protocol[];
  /** v2 static KEM keys: the first is current, all open first flights; undefined: v2 is not served. */
  readonly staticKeys?: readonly StaticKemKey[];
  /** Redis for v2's session register (several replicas); undefined: in memory. */
  readonly redisUrl?: string;
}

function splitHostPort(s: string): { host: string; port: number } {
  const i = s.lastIndexOf(':');
  return { host: s.slice(0, i).replace(/^\[|\]$/g, '') || '0.0.0.0', port: Number(s.slice(i + 1)) };
}

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

function read(name: Name, env: NodeJS.ProcessEnv, file: Record<string, unknown>): unknown {
  const s = SETTINGS[name];
  const fromEnv = env[s.env];
  if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
  const fromFile = file[name];
  // The file's value as YAML typed it (a number, a list, a mapping): each setting's schema takes both forms.
  if (fromFile !== undefined && fromFile !== null) return typeof fromFile === 'object' ? fromFile : String(fromFile);
  return s.default;
}

function setting<N extends Name>(name: N, env: NodeJS.ProcessEnv, file: Record<string, unknown>): z.infer<(typeof SETTINGS)[N]['schema']> {
  const s = SETTINGS[name];
  const raw = read(name, env, file);
  if (raw === undefined) throw new ConfigError(`${s.env} (or "${name}" in the config file) is required`);
  const r = s.schema.safeParse(raw);
  if (!r.success) throw new ConfigError(`${s.env} (or "${name}" in the config file): ${r.error.issues[0]?.message ?? 'invalid'}`);
  return r.data as z.infer<(typeof SETTINGS)[N]['schema']>;
}

/** The YAML settings file, checked for unknown names. */
function readConfigFile(configFile: string | undefined): Record<string, unknown> {
  if (!configFile) return {};
  let file: Record<string, unknown>;
  try {
    const doc: unknown = parseYaml(readFileSync(configFile, 'utf8'));
    file = doc && typeof doc === 'object' ? (doc as Record<string, unknown>) : {};
  } catch (err) {
    throw new ConfigError(`--config ${configFile}: ${(err as Error).message.split('\n')[0]}`);
  }
  for (const k of Object.keys(file)) if (!(k in SETTINGS)) throw new ConfigError(`--config ${configFile}: unknown setting "${k}"`);
  return file;
}

const clientKeys = (env: NodeJS.ProcessEnv, file: Record<string, unknown>): Map<string, string> => setting('keys', env, file);

/** Only the client keys (LIVEKIT_KEYS over the file's `keys`): what `volly-pq token` signs with. */
export function loadClientKeys(env: NodeJS.ProcessEnv = process.env, configFile?: string): Map<string, string> {
  return clientKeys(env, readConfigFile(configFile));
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env, configFile?: string): Config {
  const file = readConfigFile(configFile);
  const get = <N extends Name>(n: N) => setting(n, env, file);
  const keys = clientKeys(env, file);
  // LiveKit holds only the upstream key, and no client token may be valid at LiveKit directly.
  const upstream = { key: get('upstream_key'), secret: get('upstream_secret') };
  if (upstream.secret.length < 32) throw new ConfigError('VOLLY_UPSTREAM_SECRET: shorter than 32 characters');
  if (keys.has(upstream.key)) throw new ConfigError('VOLLY_UPSTREAM_KEY: must differ from every client key in LIVEKIT_KEYS');
  if ([...keys.values()].includes(upstream.secret)) throw new ConfigError('VOLLY_UPSTREAM_SECRET: must differ from every client secret in LIVEKIT_KEYS');
  const algorithms: KemAlgorithm[] = get('pq_algorithms');
  const tls = tlsSettings(get, read('tls_cert', env, file) !== undefined, read('tls_key', env, file) !== undefined);
  const keyList = read('server_keys', env, file) === undefined ? undefined : get('server_keys');
  const { serverKeys, staticKeys } = keyList === undefined ? {} : named('VOLLY_SERVER_KEYS', 'server_keys', () => loadKeyFiles(keyList, algorithms));
  const explicit = Boolean(env[SETTINGS.protocols.env]) || (file.protocols !== undefined && file.protocols !== null);
  const protocols = named('VOLLY_PROTOCOLS', 'protocols', () => parseProtocols(get('protocols'), explicit, staticKeys !== undefined));
  const redisUrl = read('redis_url', env, file) === undefined ? undefined : get('redis_url');
  return {
    listen: splitHostPort(get('listen')),
    adminListen: splitHostPort(get('admin_listen')),
    upstreamUrl: new URL(get('upstream_url')),
    keys,
    upstream,
    policy: get('pq_policy'),
    algorithms,
    limits: {
      maxFrameBytes: get('max_frame_bytes'),
      maxBufferedBytes: get('max_buffered_bytes'),
      handshakeTimeoutMs: get('handshake_timeout_ms'),
      maxHandshakes: get('max_handshakes'),
      maxHandshakesPerSource: get('max_handshakes_per_source'),
      handshakeQueue: get('handshake_queue'),
      firstMessageTimeoutMs: get('first_message_timeout_ms'),
      idleTimeoutMs: get('idle_timeout_ms'),
      drainTimeoutMs: get('drain_timeout_ms'),
      tokenLeewaySeconds: get('token_leeway_s'),
    },
    logLevel: get('log_level'),
    demo: get('demo'),
    demoPublic: get('demo_public'),
    ...trustedProxies(get('trusted_proxies')),
    v1AllowMissingSid: get('v1_allow_missing_sid'),
    ...(tls ? { tls } : {}),
    ...(serverKeys ? { serverKeys } : {}),
    protocols,
    ...(staticKeys ? { staticKeys } : {}),
    ...(redisUrl ? { redisUrl } : {}),
  };
}

/** VOLLY_TRUSTED_PROXIES: addresses or CIDRs (IPv4 or IPv6). */
function trustedProxies(entries: string[]): { trustedProxies: BlockList; trustedProxyList: string[] } {
  const blocks = new BlockList();
  for (const entry of entries) {
    const [addr = '', bits, extra] = entry.split('/');
    const family = isIP(addr);
    const max = family === 6 ? 128 : 32;
    const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : Number.NaN;
    if (!family || extra !== undefined || !(prefix <= max))
      throw new ConfigError(`VOLLY_TRUSTED_PROXIES (or "trusted_proxies" in the config file): "${entry.slice(0, 64)}" is not an address or CIDR`);
    blocks.addSubnet(addr, prefix, family === 6 ? 'ipv6' : 'ipv4');
  }
  return { trustedProxies: blocks, trustedProxyList: entries };
}

/** A v2 setting's check (v2-settings.ts), its error named after the setting. */
function named<T>(env: string, name: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    throw new ConfigError(`${env} (or "${name}" in the config file): ${(err as Error).message.split('\n')[0]}`);
  }
}

/** The TLS settings, checked as the listener will load them: groups this OpenSSL knows, files that load as a pair. */
function tlsSettings(get: <N extends Name>(n: N) => z.infer<(typeof SETTINGS)[N]['schema']>, hasCert: boolean, hasKey: boolean): TlsSettings | undefined {
  const minVersion = get('tls_min_version');
  const groups = get('tls_groups');
  const reloadIntervalMs = get('tls_reload_interval_ms');
  if (hasCert !== hasKey) throw new ConfigError('VOLLY_TLS_CERT and VOLLY_TLS_KEY go together: set both (TLS) or neither (plain HTTP)');
  if (!hasCert) return undefined;
  const tls: TlsSettings = { certFile: get('tls_cert'), keyFile: get('tls_key'), minVersion, groups, reloadIntervalMs };
  const fileError = (err: unknown) => new ConfigError(`VOLLY_TLS_CERT/VOLLY_TLS_KEY: ${(err as Error).message.split('\n')[0]}`);
  let pair: ReturnType<typeof readPair>;
  try {
    pair = readPair(tls);
  } catch (err) {
    throw fileError(err);
  }
  try {
    checkGroups(groups);
  } catch (err) {
    throw new ConfigError(`VOLLY_TLS_GROUPS (or "tls_groups" in the config file): ${(err as Error).message}`);
  }
  try {
    checkPair(tls, pair);
  } catch (err) {
    throw fileError(err);
  }
  return tls;
}

/** Env names of every setting, for `--help` and docs. */
export const SETTING_ENV_NAMES = Object.fromEntries(Object.entries(SETTINGS).map(([k, v]) => [k, v.env]));
