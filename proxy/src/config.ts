/**
 * Settings, read like LiveKit reads its own: environment variables, over an
 * optional YAML file (`--config`). Each setting has one env name and one file
 * name (settings.ts); a bad value fails with a ConfigError naming the setting
 * (exit 2). Here: reading both sources, and the checks across settings.
 */
import { readFileSync } from 'node:fs';
import { BlockList, isIP } from 'node:net';
import type { KemAlgorithm } from '@volly/shared';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import type { ServerIdentity } from './server-keys.js';
import { ConfigError, type Name, SETTINGS } from './settings.js';
import type { StaticKemKey } from './static-keys.js';
import { checkGroups, checkPair, readPair, type TlsSettings } from './tls.js';
import { loadKeyFiles, type Protocol, parseProtocols } from './v2-settings.js';

export { ConfigError, parseKeys, SETTING_ENV_NAMES } from './settings.js';
export { PROTOCOLS, type Protocol } from './v2-settings.js';

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
