// Settings (../src/config.ts): every setting's env name and default, each
// read from the environment and from a YAML file (the environment winning),
// LiveKit's LIVEKIT_KEYS formats, the upstream key required and apart from
// every client key, and a bad value of every setting failing with a ConfigError
// that names it. docs/cli.md documents every setting.

import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { BlockList } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getKem, getSigner, toBase64Url, toHex } from '@volly/shared';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, parseKeys, SETTING_ENV_NAMES } from '../src/config.js';

const S1 = 'a'.repeat(32);
const S2 = 'b'.repeat(40);
const S_UP = 'u'.repeat(32);
const UPSTREAM = { VOLLY_UPSTREAM_KEY: 'up', VOLLY_UPSTREAM_SECRET: S_UP };
const KEYS = { LIVEKIT_KEYS: `key1: ${S1}`, ...UPSTREAM };

function configError(env: NodeJS.ProcessEnv, file?: string): ConfigError {
  try {
    loadConfig(env, file);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('loadConfig accepted the settings');
}

function yamlFile(text: string): string {
  const file = join(mkdtempSync(join(tmpdir(), 'volly-config-')), 'volly.yaml');
  writeFileSync(file, text);
  return file;
}

/** Key files as `volly-pq keygen` writes them, for VOLLY_SERVER_KEYS. */
const keyDir = mkdtempSync(join(tmpdir(), 'volly-server-keys-'));
function keyFile(name: string, doc: Record<string, unknown>): string {
  const file = join(keyDir, name);
  writeFileSync(file, JSON.stringify(doc));
  return file;
}
const serverPair = (() => {
  const pair = getSigner('ML-DSA-65').keygen();
  return { algorithm: 'ML-DSA-65', publicKey: toBase64Url(pair.publicKey), secretKey: toBase64Url(pair.secretKey) };
})();
const SERVER_KEY = keyFile('a.json', serverPair);
const SERVER_KEY_PUBLIC = keyFile('b.pub.json', { algorithm: 'ML-DSA-65', publicKey: toBase64Url(getSigner('ML-DSA-65').keygen().publicKey) });
const KEM_KEY = keyFile('kem.json', { algorithm: 'ML-KEM-768', publicKey: toBase64Url(getKem('ML-KEM-768').keygen().publicKey) });
const MISMATCHED_KEY = keyFile('mismatch.json', { ...serverPair, publicKey: toBase64Url(getSigner('ML-DSA-65').keygen().publicKey) });
/** v2 static keys, as `volly-pq keygen --algorithm X-Wing|ML-KEM-768` writes them. */
const kemPair = (algorithm: 'X-Wing' | 'ML-KEM-768') => {
  const pair = getKem(algorithm).keygen();
  return { algorithm, publicKey: toBase64Url(pair.publicKey), secretKey: toBase64Url(pair.secretKey) };
};
const xwingPair = kemPair('X-Wing');
const XWING_KEY = keyFile('xwing.json', xwingPair);
const MLKEM_KEY = keyFile('mlkem.json', { ...kemPair('ML-KEM-768'), notAfter: 1_900_000_000 });
const KEM_MISMATCHED = keyFile('kem-mismatch.json', { ...xwingPair, publicKey: kemPair('X-Wing').publicKey });
const KEM_BAD_NOT_AFTER = keyFile('kem-not-after.json', { ...xwingPair, notAfter: -1 });

describe('setting names', () => {
  it('each setting has its env name and its name in the config file', () => {
    expect(SETTING_ENV_NAMES).toMatchObject({
      listen: 'VOLLY_LISTEN',
      upstream_url: 'VOLLY_UPSTREAM_URL',
      keys: 'LIVEKIT_KEYS',
      upstream_key: 'VOLLY_UPSTREAM_KEY',
      upstream_secret: 'VOLLY_UPSTREAM_SECRET',
      pq_policy: 'VOLLY_PQ_POLICY',
      pq_algorithms: 'VOLLY_PQ_ALGORITHMS',
      admin_listen: 'VOLLY_ADMIN_LISTEN',
      max_frame_bytes: 'VOLLY_MAX_FRAME_BYTES',
      max_buffered_bytes: 'VOLLY_MAX_BUFFERED_BYTES',
      handshake_timeout_ms: 'VOLLY_HANDSHAKE_TIMEOUT_MS',
      max_handshakes: 'VOLLY_MAX_HANDSHAKES',
      idle_timeout_ms: 'VOLLY_IDLE_TIMEOUT_MS',
      drain_timeout_ms: 'VOLLY_DRAIN_TIMEOUT_MS',
      token_leeway_s: 'VOLLY_TOKEN_LEEWAY_S',
      log_level: 'VOLLY_LOG_LEVEL',
      demo: 'VOLLY_DEMO',
      tls_cert: 'VOLLY_TLS_CERT',
      tls_key: 'VOLLY_TLS_KEY',
      tls_min_version: 'VOLLY_TLS_MIN_VERSION',
      tls_groups: 'VOLLY_TLS_GROUPS',
      tls_reload_interval_ms: 'VOLLY_TLS_RELOAD_INTERVAL_MS',
      server_keys: 'VOLLY_SERVER_KEYS',
      protocols: 'VOLLY_PROTOCOLS',
      redis_url: 'VOLLY_REDIS_URL',
    });
  });

  it('docs/cli.md documents every setting by both names', () => {
    const doc = readFileSync(new URL('../../docs/cli.md', import.meta.url), 'utf8');
    for (const [name, env] of Object.entries(SETTING_ENV_NAMES)) {
      expect(doc, `${env} in docs/cli.md`).toContain(`\`${env}\``);
      expect(doc, `${name} in docs/cli.md`).toContain(`\`${name}\``);
    }
  });
});

describe('defaults', () => {
  it('only LIVEKIT_KEYS and the upstream key are required; everything else has a default', () => {
    const c = loadConfig(KEYS);
    expect(c).toEqual({
      listen: { host: '0.0.0.0', port: 7880 },
      adminListen: { host: '127.0.0.1', port: 9880 },
      upstreamUrl: new URL('http://127.0.0.1:7780'),
      keys: new Map([['key1', S1]]),
      upstream: { key: 'up', secret: S_UP },
      policy: 'prefer',
      algorithms: ['ML-KEM-768', 'X-Wing'],
      limits: {
        maxFrameBytes: 1024 * 1024,
        maxBufferedBytes: 4 * 1024 * 1024,
        handshakeTimeoutMs: 10_000,
        maxHandshakes: 1024,
        maxHandshakesPerSource: 32,
        handshakeQueue: 4096,
        firstMessageTimeoutMs: 3_000,
        idleTimeoutMs: 30_000,
        drainTimeoutMs: 30_000,
        tokenLeewaySeconds: 10,
      },
      logLevel: 'info',
      demo: false,
      demoPublic: false,
      trustedProxies: expect.any(BlockList),
      trustedProxyList: [],
      v1AllowMissingSid: false,
      protocols: ['v1', 'v2'],
    });
  });

  it('an empty env var counts as unset', () => {
    expect(loadConfig({ ...KEYS, VOLLY_LISTEN: '', VOLLY_PQ_POLICY: '' })).toMatchObject({ listen: { port: 7880 }, policy: 'prefer' });
  });

  it('without LIVEKIT_KEYS: a ConfigError naming it', () => {
    expect(configError({}).message).toMatch(/^LIVEKIT_KEYS \(or "keys" in the config file\) is required/);
  });
});

describe('each setting from the environment', () => {
  const cases: Array<[string, string, (c: ReturnType<typeof loadConfig>) => unknown, unknown]> = [
    ['VOLLY_LISTEN', '127.0.0.1:8443', (c) => c.listen, { host: '127.0.0.1', port: 8443 }],
    ['VOLLY_LISTEN', '[::1]:8443', (c) => c.listen, { host: '::1', port: 8443 }],
    ['VOLLY_LISTEN', ':8443', (c) => c.listen, { host: '0.0.0.0', port: 8443 }],
    ['VOLLY_ADMIN_LISTEN', '0.0.0.0:9999', (c) => c.adminListen, { host: '0.0.0.0', port: 9999 }],
    ['VOLLY_UPSTREAM_URL', 'https://livekit.internal:7880', (c) => c.upstreamUrl.href, 'https://livekit.internal:7880/'],
    ['VOLLY_PQ_POLICY', 'require', (c) => c.policy, 'require'],
    ['VOLLY_PQ_ALGORITHMS', ' X-Wing ', (c) => c.algorithms, ['X-Wing']],
    ['VOLLY_PQ_ALGORITHMS', 'X-Wing,ML-KEM-768', (c) => c.algorithms, ['X-Wing', 'ML-KEM-768']],
    ['VOLLY_MAX_FRAME_BYTES', '65536', (c) => c.limits.maxFrameBytes, 65536],
    ['VOLLY_MAX_BUFFERED_BYTES', '1000000', (c) => c.limits.maxBufferedBytes, 1_000_000],
    ['VOLLY_HANDSHAKE_TIMEOUT_MS', '2500', (c) => c.limits.handshakeTimeoutMs, 2500],
    ['VOLLY_MAX_HANDSHAKES', '8', (c) => c.limits.maxHandshakes, 8],
    ['VOLLY_IDLE_TIMEOUT_MS', '60000', (c) => c.limits.idleTimeoutMs, 60_000],
    ['VOLLY_DRAIN_TIMEOUT_MS', '1000', (c) => c.limits.drainTimeoutMs, 1000],
    ['VOLLY_TOKEN_LEEWAY_S', '0', (c) => c.limits.tokenLeewaySeconds, 0],
    ['VOLLY_LOG_LEVEL', 'debug', (c) => c.logLevel, 'debug'],
    ['VOLLY_DEMO', '1', (c) => c.demo, true],
    ['VOLLY_DEMO', 'false', (c) => c.demo, false],
    ['VOLLY_DEMO_PUBLIC', 'true', (c) => c.demoPublic, true],
    ['VOLLY_V1_ALLOW_MISSING_SID', '1', (c) => c.v1AllowMissingSid, true],
    ['VOLLY_MAX_HANDSHAKES_PER_SOURCE', '8', (c) => c.limits.maxHandshakesPerSource, 8],
    ['VOLLY_HANDSHAKE_QUEUE', '0', (c) => c.limits.handshakeQueue, 0],
    ['VOLLY_FIRST_MESSAGE_TIMEOUT_MS', '1500', (c) => c.limits.firstMessageTimeoutMs, 1500],
    ['VOLLY_TRUSTED_PROXIES', '10.0.0.0/8, 192.168.1.7, fd00::/8', (c) => c.trustedProxyList, ['10.0.0.0/8', '192.168.1.7', 'fd00::/8']],
    ['VOLLY_TRUSTED_PROXIES', '10.0.0.0/8', (c) => [c.trustedProxies.check('10.1.2.3'), c.trustedProxies.check('11.1.2.3')], [true, false]],
  ];
  it.each(cases)('%s=%s', (env, value, pick, want) => {
    expect(pick(loadConfig({ ...KEYS, [env]: value }))).toEqual(want);
  });
});

describe('a bad value of every setting: a ConfigError naming it', () => {
  // env name → an environment with one bad value in it.
  const bad: Record<string, NodeJS.ProcessEnv[]> = {
    VOLLY_LISTEN: [{ VOLLY_LISTEN: '7880' }, { VOLLY_LISTEN: 'host:port' }],
    VOLLY_UPSTREAM_URL: [{ VOLLY_UPSTREAM_URL: 'ftp://livekit' }, { VOLLY_UPSTREAM_URL: 'not a url' }],
    LIVEKIT_KEYS: [{ LIVEKIT_KEYS: 'key1: short' }, { LIVEKIT_KEYS: 'key1' }, { LIVEKIT_KEYS: '- a\n- b' }, { LIVEKIT_KEYS: 'key1:' }],
    VOLLY_UPSTREAM_KEY: [{ VOLLY_UPSTREAM_KEY: undefined }, { VOLLY_UPSTREAM_KEY: 'key1' }],
    VOLLY_UPSTREAM_SECRET: [{ VOLLY_UPSTREAM_SECRET: 'short' }, { VOLLY_UPSTREAM_SECRET: undefined }, { VOLLY_UPSTREAM_SECRET: S1 }],
    VOLLY_PQ_POLICY: [{ VOLLY_PQ_POLICY: 'maybe' }],
    VOLLY_PQ_ALGORITHMS: [{ VOLLY_PQ_ALGORITHMS: 'Kyber512' }, { VOLLY_PQ_ALGORITHMS: ' , ' }],
    VOLLY_ADMIN_LISTEN: [{ VOLLY_ADMIN_LISTEN: 'localhost' }],
    VOLLY_MAX_FRAME_BYTES: [{ VOLLY_MAX_FRAME_BYTES: '0' }, { VOLLY_MAX_FRAME_BYTES: String(64 * 1024 * 1024 + 1) }, { VOLLY_MAX_FRAME_BYTES: '1MB' }],
    VOLLY_MAX_BUFFERED_BYTES: [{ VOLLY_MAX_BUFFERED_BYTES: '-1' }],
    VOLLY_HANDSHAKE_TIMEOUT_MS: [{ VOLLY_HANDSHAKE_TIMEOUT_MS: '1.5' }],
    VOLLY_MAX_HANDSHAKES: [{ VOLLY_MAX_HANDSHAKES: 'many' }],
    VOLLY_IDLE_TIMEOUT_MS: [{ VOLLY_IDLE_TIMEOUT_MS: '0' }],
    VOLLY_DRAIN_TIMEOUT_MS: [{ VOLLY_DRAIN_TIMEOUT_MS: '30s' }],
    VOLLY_TOKEN_LEEWAY_S: [{ VOLLY_TOKEN_LEEWAY_S: '301' }, { VOLLY_TOKEN_LEEWAY_S: '-1' }],
    VOLLY_LOG_LEVEL: [{ VOLLY_LOG_LEVEL: 'loud' }],
    VOLLY_DEMO: [{ VOLLY_DEMO: 'perhaps' }],
    VOLLY_DEMO_PUBLIC: [{ VOLLY_DEMO_PUBLIC: 'perhaps' }],
    VOLLY_TRUSTED_PROXIES: [{ VOLLY_TRUSTED_PROXIES: '10.0.0.0/33' }, { VOLLY_TRUSTED_PROXIES: 'proxy.local' }, { VOLLY_TRUSTED_PROXIES: '::1/129' }],
    VOLLY_MAX_HANDSHAKES_PER_SOURCE: [{ VOLLY_MAX_HANDSHAKES_PER_SOURCE: '0' }],
    VOLLY_HANDSHAKE_QUEUE: [{ VOLLY_HANDSHAKE_QUEUE: '-1' }],
    VOLLY_FIRST_MESSAGE_TIMEOUT_MS: [{ VOLLY_FIRST_MESSAGE_TIMEOUT_MS: '0' }],
    VOLLY_V1_ALLOW_MISSING_SID: [{ VOLLY_V1_ALLOW_MISSING_SID: 'perhaps' }],
    // TLS (with files that load: test/tls/settings.test.ts).
    VOLLY_TLS_CERT: [{ VOLLY_TLS_CERT: '/etc/volly/tls.crt' }, { VOLLY_TLS_CERT: '/nonexistent/tls.crt', VOLLY_TLS_KEY: '/nonexistent/tls.key' }],
    VOLLY_TLS_KEY: [{ VOLLY_TLS_KEY: '/etc/volly/tls.key' }],
    VOLLY_TLS_MIN_VERSION: [{ VOLLY_TLS_MIN_VERSION: 'TLSv1.1' }],
    VOLLY_TLS_GROUPS: [{ VOLLY_TLS_GROUPS: 'X25519MLKEM768,X25519' }],
    VOLLY_TLS_RELOAD_INTERVAL_MS: [{ VOLLY_TLS_RELOAD_INTERVAL_MS: '0' }],
    VOLLY_SERVER_KEYS: [
      { VOLLY_SERVER_KEYS: '/nonexistent/server.json' },
      { VOLLY_SERVER_KEYS: ' , ' },
      { VOLLY_SERVER_KEYS: KEM_KEY },
      { VOLLY_SERVER_KEYS: SERVER_KEY_PUBLIC },
      { VOLLY_SERVER_KEYS: `${SERVER_KEY},${SERVER_KEY}` },
      { VOLLY_SERVER_KEYS: MISMATCHED_KEY },
      { VOLLY_SERVER_KEYS: yamlFile('not json') },
      { VOLLY_SERVER_KEYS: KEM_MISMATCHED },
      { VOLLY_SERVER_KEYS: KEM_BAD_NOT_AFTER },
      { VOLLY_SERVER_KEYS: `${XWING_KEY},${SERVER_KEY},${XWING_KEY}` },
      // Every first flight to it would be refused (4403).
      { VOLLY_SERVER_KEYS: XWING_KEY, VOLLY_PQ_ALGORITHMS: 'ML-KEM-768' },
    ],
    VOLLY_PROTOCOLS: [
      { VOLLY_PROTOCOLS: 'v3' },
      { VOLLY_PROTOCOLS: ' , ' },
      { VOLLY_PROTOCOLS: 'v1,v1' },
      // Asked for, v2 needs a KEM key to open first flights with.
      { VOLLY_PROTOCOLS: 'v1,v2' },
      { VOLLY_PROTOCOLS: 'v2', VOLLY_SERVER_KEYS: SERVER_KEY },
    ],
    VOLLY_REDIS_URL: [{ VOLLY_REDIS_URL: 'http://127.0.0.1:6379' }, { VOLLY_REDIS_URL: '127.0.0.1:6379' }],
  };

  it('every setting has a bad-value case here', () => {
    expect(Object.keys(bad).sort()).toEqual(Object.values(SETTING_ENV_NAMES).sort());
  });

  it.each(Object.entries(bad).flatMap(([name, envs]) => envs.map((env) => [name, JSON.stringify(env), env] as const)))('%s: %s', (name, _shown, env) => {
    const err = configError({ ...KEYS, ...env });
    expect(err.code).toBe('ERR_CONFIG');
    // Named before the first colon: "VOLLY_X (or "x" in the config file): why".
    expect(err.message.split(':')[0]).toMatch(new RegExp(`\\b${name}\\b`));
    expect(err.message.split('\n')).toHaveLength(1);
  });

  it('no secret appears in an error', () => {
    expect(configError({ LIVEKIT_KEYS: 'key1: tooshortsecret' }).message).not.toContain('tooshortsecret');
    expect(configError({ ...KEYS, VOLLY_UPSTREAM_KEY: 'up', VOLLY_UPSTREAM_SECRET: 'tooshortsecret' }).message).not.toContain('tooshortsecret');
    expect(configError({ ...KEYS, VOLLY_UPSTREAM_SECRET: S1 }).message).not.toContain(S1);
  });
});

describe('LIVEKIT_KEYS', () => {
  const want = new Map([
    ['key1', S1],
    ['key2', S2],
  ]);
  it.each([
    ['one "key: secret" pair', `key1: ${S1}`, new Map([['key1', S1]])],
    ['multi-line, as in LiveKit’s config', `key1: ${S1}\nkey2: ${S2}\n`, want],
    ['comma-separated on one line', `key1: ${S1}, key2: ${S2}`, want],
    ['comma-separated without spaces', `key1: ${S1},key2: ${S2}`, want],
  ])('%s', (_what, text, keys) => {
    expect(parseKeys(text)).toEqual(keys);
    expect(loadConfig({ LIVEKIT_KEYS: text, ...UPSTREAM }).keys).toEqual(keys);
  });

  it('the upstream key is required: LiveKit must never hold a client key', () => {
    expect(configError({ LIVEKIT_KEYS: `key1: ${S1}` }).message).toMatch(/^VOLLY_UPSTREAM_KEY .*required/);
    expect(configError({ LIVEKIT_KEYS: `key1: ${S1}\nkey2: ${S2}`, VOLLY_UPSTREAM_KEY: 'key2', VOLLY_UPSTREAM_SECRET: S_UP }).message).toMatch(
      /^VOLLY_UPSTREAM_KEY: must differ from every client key/,
    );
    expect(configError({ LIVEKIT_KEYS: `key1: ${S1}\nkey2: ${S2}`, VOLLY_UPSTREAM_KEY: 'up', VOLLY_UPSTREAM_SECRET: S2 }).message).toMatch(
      /^VOLLY_UPSTREAM_SECRET: must differ from every client secret/,
    );
  });

  it('VOLLY_UPSTREAM_KEY and VOLLY_UPSTREAM_SECRET name the only key LiveKit holds', () => {
    const c = loadConfig({ ...KEYS, VOLLY_UPSTREAM_KEY: 'up', VOLLY_UPSTREAM_SECRET: S2 });
    expect(c.upstream).toEqual({ key: 'up', secret: S2 });
    expect(c.keys).toEqual(new Map([['key1', S1]]));
  });

  it('a secret shorter than 32 characters is refused, as LiveKit refuses it', () => {
    expect(() => parseKeys(`key1: ${'x'.repeat(31)}`)).toThrow(ConfigError);
    expect(parseKeys(`key1: ${'x'.repeat(32)}`).get('key1')).toHaveLength(32);
  });
});

describe('the YAML file (--config)', () => {
  it('holds every setting by its file name; keys as a mapping, algorithms as a list', () => {
    const file = yamlFile(
      [
        'listen: 127.0.0.1:8000',
        'admin_listen: 127.0.0.1:8001',
        'upstream_url: http://lk:7880',
        'keys:',
        `  key1: ${S1}`,
        `  key2: ${S2}`,
        'upstream_key: up',
        `upstream_secret: ${S_UP}`,
        'pq_policy: require',
        'pq_algorithms: [X-Wing]',
        'max_frame_bytes: 2048',
        'max_buffered_bytes: 4096',
        'handshake_timeout_ms: 500',
        'max_handshakes: 2',
        'max_handshakes_per_source: 1',
        'handshake_queue: 0',
        'first_message_timeout_ms: 300',
        'trusted_proxies: [10.0.0.0/8, "::1"]',
        'demo_public: true',
        'v1_allow_missing_sid: true',
        'idle_timeout_ms: 700',
        'drain_timeout_ms: 800',
        'token_leeway_s: 5',
        'log_level: warn',
        'demo: true',
        'protocols: [v1]',
      ].join('\n'),
    );
    expect(loadConfig({}, file)).toEqual({
      listen: { host: '127.0.0.1', port: 8000 },
      adminListen: { host: '127.0.0.1', port: 8001 },
      upstreamUrl: new URL('http://lk:7880'),
      keys: new Map([
        ['key1', S1],
        ['key2', S2],
      ]),
      upstream: { key: 'up', secret: S_UP },
      policy: 'require',
      algorithms: ['X-Wing'],
      limits: {
        maxFrameBytes: 2048,
        maxBufferedBytes: 4096,
        handshakeTimeoutMs: 500,
        maxHandshakes: 2,
        maxHandshakesPerSource: 1,
        handshakeQueue: 0,
        firstMessageTimeoutMs: 300,
        idleTimeoutMs: 700,
        drainTimeoutMs: 800,
        tokenLeewaySeconds: 5,
      },
      logLevel: 'warn',
      demo: true,
      protocols: ['v1'],
      demoPublic: true,
      trustedProxies: expect.any(BlockList),
      trustedProxyList: ['10.0.0.0/8', '::1'],
      v1AllowMissingSid: true,
    });
  });

  it('the environment wins over the file', () => {
    const file = yamlFile(`listen: 127.0.0.1:8000\npq_policy: require\nkeys:\n  key1: ${S1}\n`);
    const c = loadConfig({ VOLLY_LISTEN: '127.0.0.1:9000', LIVEKIT_KEYS: `key2: ${S2}`, ...UPSTREAM }, file);
    expect(c.listen.port).toBe(9000);
    expect(c.policy).toBe('require');
    expect(c.keys).toEqual(new Map([['key2', S2]]));
  });

  it('a bad value in the file names the setting', () => {
    expect(configError(KEYS, yamlFile('pq_policy: sometimes\n')).message).toMatch(/^VOLLY_PQ_POLICY \(or "pq_policy" in the config file\)/);
  });

  it('an unknown setting, a missing file or broken YAML: a ConfigError naming --config', () => {
    expect(configError(KEYS, yamlFile('pq_polcy: require\n')).message).toMatch(/^--config .*: unknown setting "pq_polcy"$/);
    expect(configError(KEYS, '/nonexistent/volly.yaml').message).toMatch(/^--config \/nonexistent\/volly\.yaml: /);
    expect(configError(KEYS, yamlFile('listen: [unclosed\n')).message).toMatch(/^--config .*: /);
  });
});

describe('VOLLY_SERVER_KEYS (server authentication)', () => {
  it('unset: no server keys, handshakes are not signed', () => {
    expect(loadConfig(KEYS).serverKeys).toBeUndefined();
  });

  it('a list of ML-DSA-65 key files: each read and checked, the first signs, public-only files are published only', () => {
    const { serverKeys } = loadConfig({ ...KEYS, VOLLY_SERVER_KEYS: ` ${SERVER_KEY} , ${SERVER_KEY_PUBLIC}` });
    expect(serverKeys?.map((k) => [k.file, k.algorithm, k.publicKey.length, !!k.signer])).toEqual([
      [SERVER_KEY, 'ML-DSA-65', 1952, true],
      [SERVER_KEY_PUBLIC, 'ML-DSA-65', 1952, false],
    ]);
    expect(toHex(serverKeys?.[0]?.signer?.keyId ?? new Uint8Array())).toBe(toHex(serverKeys?.[0]?.keyId ?? new Uint8Array(1)));
    // The seed lives only in the signer's closure: nothing secret in the settings object.
    expect(JSON.stringify(serverKeys)).not.toContain(serverPair.secretKey);
  });

  it('in the YAML file as a list', () => {
    const c = loadConfig(KEYS, yamlFile(`server_keys: [${SERVER_KEY}, ${SERVER_KEY_PUBLIC}]\n`));
    expect(c.serverKeys?.map((k) => k.file)).toEqual([SERVER_KEY, SERVER_KEY_PUBLIC]);
  });

  it('errors name the file and what is wrong, never key bytes', () => {
    expect(configError({ ...KEYS, VOLLY_SERVER_KEYS: SERVER_KEY_PUBLIC }).message).toMatch(/the first key signs, so its file must hold "secretKey"$/);
    expect(configError({ ...KEYS, VOLLY_SERVER_KEYS: KEM_KEY }).message).toMatch(/ML-KEM-768 key opens first flights, so its file must hold "secretKey"$/);
    expect(configError({ ...KEYS, VOLLY_SERVER_KEYS: KEM_MISMATCHED }).message).toMatch(/"publicKey" is not the public key of "secretKey"$/);
    expect(configError({ ...KEYS, VOLLY_SERVER_KEYS: KEM_MISMATCHED }).message).not.toContain(xwingPair.secretKey.slice(0, 12));
    const mismatch = configError({ ...KEYS, VOLLY_SERVER_KEYS: MISMATCHED_KEY }).message;
    expect(mismatch).toMatch(/"publicKey" is not the public key of "secretKey"$/);
    expect(mismatch).not.toContain(serverPair.secretKey.slice(0, 12));
  });
});

describe('VOLLY_SERVER_KEYS with KEM keys, VOLLY_PROTOCOLS, VOLLY_REDIS_URL (volly-pq.v2)', () => {
  it('KEM key files sit beside ML-DSA-65 ones: each kind keeps its list order, the first KEM key is current', () => {
    const c = loadConfig({ ...KEYS, VOLLY_SERVER_KEYS: `${XWING_KEY},${SERVER_KEY},${MLKEM_KEY}` });
    expect(c.serverKeys?.map((k) => k.file)).toEqual([SERVER_KEY]);
    expect(c.staticKeys?.map((k) => [k.file, k.key.algorithm, k.key.id.length])).toEqual([
      [XWING_KEY, 'X-Wing', 16],
      [MLKEM_KEY, 'ML-KEM-768', 16],
    ]);
    expect(c.staticKeys?.[1]?.key.notAfter).toBe(1_900_000_000);
    // Without notAfter a key is announced for a year from now.
    expect(c.staticKeys?.[0]?.key.notAfter).toBeGreaterThan(Date.now() / 1000 + 364 * 24 * 3600);
    expect(c.protocols).toEqual(['v1', 'v2']);
  });

  it('KEM keys alone: v2 without server authentication for v1', () => {
    const c = loadConfig({ ...KEYS, VOLLY_SERVER_KEYS: XWING_KEY, VOLLY_PROTOCOLS: 'v2' });
    expect(c.serverKeys).toBeUndefined();
    expect(c.staticKeys).toHaveLength(1);
    expect(c.protocols).toEqual(['v2']);
  });

  it('the default "v1,v2" needs no KEM key (v2 is then not served); an explicit v2 does', () => {
    expect(loadConfig(KEYS).protocols).toEqual(['v1', 'v2']);
    expect(loadConfig({ ...KEYS, VOLLY_PROTOCOLS: 'v1' }).protocols).toEqual(['v1']);
    expect(configError({ ...KEYS, VOLLY_PROTOCOLS: 'v2' }).message).toMatch(/^VOLLY_PROTOCOLS .*: v2 needs an X-Wing or ML-KEM-768 key/);
  });

  it('VOLLY_REDIS_URL: redis:// or rediss://, from the env or the file', () => {
    expect(loadConfig({ ...KEYS, VOLLY_REDIS_URL: 'redis://127.0.0.1:6379/0' }).redisUrl).toBe('redis://127.0.0.1:6379/0');
    expect(loadConfig(KEYS, yamlFile('redis_url: rediss://cache.internal:6380\n')).redisUrl).toBe('rediss://cache.internal:6380');
    expect(loadConfig(KEYS).redisUrl).toBeUndefined();
  });
});
