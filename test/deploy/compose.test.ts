// compose/: validated without a Docker engine. docker-compose.yml is
// interpolated with compose/.env.example (as `docker compose` would with a
// .env) and checked against the Compose Specification JSON schema that
// compose-go, the loader inside `docker compose`, validates with. The schema
// comes from the compose-go Go module (schema/compose-spec.json), fetched into
// the Go module cache with `go mod download`; nothing is vendored here.
// Then the layout rules: LiveKit's signaling port 7780 is published nowhere,
// the proxy publishes 7880, LiveKit's image is the version the tests run.

import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig, SETTING_ENV_NAMES } from '../../proxy/src/config.ts';
import { LIVEKIT_VERSION } from '../harness/livekit-binary.ts';
import { createTestPki } from '../harness/tls.ts';
import { goModuleDir } from '../harness/tools.ts';
import { interpolate, mergeCompose, type PublishedPort, parseDotEnv, publishedPorts } from './lib/compose.ts';
import { keygenDir, mapMounts } from './lib/keys.ts';

/** compose-go release whose schema/compose-spec.json is the reference. */
const COMPOSE_GO_MODULE = 'github.com/compose-spec/compose-go/v2@v2.16.2';

const ROOT = resolve(import.meta.dirname, '../..');
const COMPOSE_DIR = join(ROOT, 'compose');

type Json = Record<string, unknown>;
interface Service extends Json {
  image?: string;
  ports?: unknown[];
  expose?: unknown[];
  environment?: Record<string, string> | string[];
  healthcheck?: Json;
  depends_on?: Record<string, { condition?: string }> | string[];
  build?: { context?: string; dockerfile?: string };
  network_mode?: string;
}

/** The bind-mounted key directory (VOLLY_KEYS_DIR), with the key .env.example names made by `volly-pq keygen`. */
const KEYS = { '/etc/volly/keys': keygenDir({ 'v2-current.json': 'X-Wing' }) };

const env = parseDotEnv(readFileSync(join(COMPOSE_DIR, '.env.example'), 'utf8'));
const raw = parseYaml(readFileSync(join(COMPOSE_DIR, 'docker-compose.yml'), 'utf8')) as Json;
const compose = interpolate(raw, env) as Json & { services: Record<string, Service> };
const livekitConfig = parseYaml(readFileSync(join(COMPOSE_DIR, 'livekit.yaml'), 'utf8')) as Json & {
  port: number;
  rtc: { tcp_port: number; udp_port: number };
  redis?: { address: string };
};

/** `docker compose -f docker-compose.yml -f docker-compose.tls.yml`, interpolated the same way. */
const rawTls = parseYaml(readFileSync(join(COMPOSE_DIR, 'docker-compose.tls.yml'), 'utf8')) as Json;
const composeTls = interpolate(mergeCompose(raw, rawTls), env) as Json & { services: Record<string, Service & { volumes?: string[] }> };

function environment(svc: Service): Record<string, string> {
  const e = svc.environment ?? {};
  if (!Array.isArray(e)) return e;
  return Object.fromEntries(e.map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]));
}

function service(name: string): Service {
  const svc = compose.services[name];
  if (!svc) throw new Error(`no service ${name} in compose/docker-compose.yml`);
  return svc;
}

describe('compose/docker-compose.yml against the Compose Specification schema', () => {
  let validate: (data: unknown) => { ok: boolean; errors: string };

  beforeAll(async () => {
    const dir = await goModuleDir(COMPOSE_GO_MODULE);
    const schema = JSON.parse(readFileSync(join(dir, 'schema', 'compose-spec.json'), 'utf8')) as Json;
    const ajv = new Ajv2020({ allErrors: true, strict: false });
    const check = ajv.compile(schema);
    validate = (data) => {
      const ok = check(data);
      return { ok, errors: ajv.errorsText(check.errors, { separator: '\n' }) };
    };
  }, 600_000);

  it('is valid once interpolated with .env.example', () => {
    const result = validate(compose);
    expect(result.errors).toBe('No errors');
    expect(result.ok).toBe(true);
  });

  it('with docker-compose.tls.yml over it (TLS at the proxy), still valid', () => {
    const result = validate(composeTls);
    expect(result.errors).toBe('No errors');
    expect(result.ok).toBe(true);
  });

  it('the schema rejects what it should (the check is not vacuous)', () => {
    const bad = structuredClone(compose);
    (bad.services.proxy as Json).not_a_compose_key = true;
    expect(validate(bad).ok).toBe(false);
    const badCondition = structuredClone(compose);
    (badCondition.services.proxy as Service).depends_on = { livekit: { condition: 'service_sometimes' } };
    expect(validate(badCondition).ok).toBe(false);
  });

  it('every variable it uses is in .env.example, and unset required ones fail', () => {
    expect(() => interpolate(raw, {})).toThrow(/VOLLY_UPSTREAM_KEY|LIVEKIT_KEYS|VOLLY_UPSTREAM_SECRET/);
  });
});

describe('compose layout', () => {
  it('runs redis, the stock LiveKit image of the tested version, and the proxy', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['livekit', 'proxy', 'redis']);
    expect(service('livekit').image).toBe(`livekit/livekit-server:${LIVEKIT_VERSION}`);
    // Any LiveKit image anywhere in the file carries the same tag.
    const images = Object.values(compose.services)
      .map((s) => s.image)
      .filter((i): i is string => typeof i === 'string' && i.startsWith('livekit/livekit-server'));
    expect(images).toEqual([`livekit/livekit-server:${LIVEKIT_VERSION}`]);
  });

  it('publishes no port that reaches LiveKit signaling (7780); LiveKit publishes only its media ports', () => {
    for (const svc of Object.values(compose.services)) {
      expect(svc.network_mode).toBeUndefined();
      for (const p of publishedPorts(svc.ports)) {
        expect(p.target).not.toBe(livekitConfig.port);
        expect(p.published).not.toBe(String(livekitConfig.port));
      }
    }
    const lk = publishedPorts(service('livekit').ports).map((p: PublishedPort) => `${p.target}/${p.protocol}`);
    expect(lk.sort()).toEqual([`${livekitConfig.rtc.tcp_port}/tcp`, `${livekitConfig.rtc.udp_port}/udp`]);
    for (const p of publishedPorts(service('livekit').ports)) expect(p.published).toBe(String(p.target));
  });

  it('the proxy publishes 7880 and reaches LiveKit at http://livekit:7780', () => {
    const proxy = service('proxy');
    expect(publishedPorts(proxy.ports)).toEqual([{ published: '7880', target: 7880, protocol: 'tcp' }]);
    const e = environment(proxy);
    expect(e.VOLLY_LISTEN).toBe('0.0.0.0:7880');
    expect(e.VOLLY_ADMIN_LISTEN).toBe('0.0.0.0:9880');
    expect(livekitConfig.port).toBe(7780);
    expect(e.VOLLY_UPSTREAM_URL).toBe(`http://livekit:${livekitConfig.port}`);
    expect(e.VOLLY_PQ_POLICY).toMatch(/^(prefer|require)$/);
    expect(e.VOLLY_PQ_ALGORITHMS).toBe('ML-KEM-768,X-Wing');
  });

  it('the proxy accepts the environment compose gives it, and every variable is one it reads', () => {
    const e = environment(service('proxy'));
    const known = new Set(Object.values(SETTING_ENV_NAMES));
    for (const name of Object.keys(e)) expect(known, name).toContain(name);
    const config = loadConfig(mapMounts(e, KEYS));
    expect(config.upstreamUrl.href).toBe(`http://livekit:${livekitConfig.port}/`);
    expect(config.listen).toEqual({ host: '0.0.0.0', port: 7880 });
    expect(config.adminListen).toEqual({ host: '0.0.0.0', port: 9880 });
    expect(config.upstream).toEqual({ key: env.VOLLY_UPSTREAM_KEY, secret: env.VOLLY_UPSTREAM_SECRET });
    expect([...config.keys.keys()]).not.toContain(env.VOLLY_UPSTREAM_KEY);
    expect(config.algorithms).toEqual(['ML-KEM-768', 'X-Wing']);
  });

  it('LiveKit holds only the upstream key; the client keys go to the proxy alone', () => {
    expect(livekitConfig).not.toHaveProperty('keys');
    expect(livekitConfig).not.toHaveProperty('key_file');
    expect(environment(service('livekit')).LIVEKIT_KEYS).toBe(`${env.VOLLY_UPSTREAM_KEY}: ${env.VOLLY_UPSTREAM_SECRET}`);
    const p = environment(service('proxy'));
    expect(p.LIVEKIT_KEYS).toBe(env.LIVEKIT_KEYS);
    expect(p.VOLLY_UPSTREAM_KEY).toBe(env.VOLLY_UPSTREAM_KEY);
    expect(p.VOLLY_UPSTREAM_SECRET).toBe(env.VOLLY_UPSTREAM_SECRET);
    expect(env.LIVEKIT_KEYS?.startsWith(`${env.VOLLY_UPSTREAM_KEY}:`)).toBe(false);
    // Redis does not see any key.
    expect(JSON.stringify(service('redis'))).not.toContain(env.VOLLY_UPSTREAM_SECRET);
  });

  it('LiveKit config matches the compose wiring (redis address, media ports)', () => {
    expect(livekitConfig.redis?.address).toBe('redis:6379');
    expect(livekitConfig.bind_addresses).toEqual(['0.0.0.0']);
    const volumes = (service('livekit').volumes ?? []) as string[];
    expect(volumes).toContain('./livekit.yaml:/etc/livekit.yaml:ro');
  });

  it('has a healthcheck on every service and starts in order on health', () => {
    for (const [name, svc] of Object.entries(compose.services)) {
      expect(svc.healthcheck?.test, `${name} healthcheck`).toBeDefined();
    }
    expect(service('livekit').depends_on).toEqual({ redis: { condition: 'service_healthy' } });
    expect(service('proxy').depends_on).toEqual({ livekit: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' } });
    expect(JSON.stringify(service('proxy').healthcheck)).toContain('/healthz');
  });

  it('builds the proxy from proxy/Dockerfile with the repository root as context', () => {
    const build = service('proxy').build;
    expect(build).toEqual({ context: '..', dockerfile: 'proxy/Dockerfile' });
    const dockerfile = readFileSync(join(resolve(COMPOSE_DIR, build?.context ?? ''), build?.dockerfile ?? ''), 'utf8');
    expect(dockerfile).toMatch(/^FROM /m);
  });
});

describe('compose/docker-compose.tls.yml: the proxy serves wss:// itself', () => {
  const proxy = () => composeTls.services.proxy as Service & { volumes?: string[] };

  it('changes only the proxy: its TLS settings and a read-only certificate directory', () => {
    expect(Object.keys((rawTls as { services: object }).services)).toEqual(['proxy']);
    const e = environment(proxy());
    expect(e.VOLLY_TLS_CERT).toBe('/etc/volly/tls/tls.crt');
    expect(e.VOLLY_TLS_KEY).toBe('/etc/volly/tls/tls.key');
    expect(e.VOLLY_TLS_GROUPS?.split(':')[0]).toBe('X25519MLKEM768');
    expect(e.VOLLY_TLS_MIN_VERSION).toBe('TLSv1.2');
    // A directory, not the two files: a renewal that replaces them is seen in the container.
    expect(proxy().volumes).toEqual([`${env.VOLLY_KEYS_DIR}:/etc/volly/keys:ro`, `${env.VOLLY_TLS_DIR}:/etc/volly/tls:ro`]);
    // Everything else is the base file's.
    expect(publishedPorts(proxy().ports)).toEqual(publishedPorts(service('proxy').ports));
    expect(environment(proxy()).LIVEKIT_KEYS).toBe(env.LIVEKIT_KEYS);
    expect(composeTls.services.livekit).toEqual(compose.services.livekit);
  });

  it('the defaults hold without .env entries', () => {
    const bare = interpolate(mergeCompose(raw, rawTls), { LIVEKIT_KEYS: 'k', VOLLY_UPSTREAM_KEY: 'u', VOLLY_UPSTREAM_SECRET: 's' }) as typeof composeTls;
    const svc = bare.services.proxy as Service & { volumes?: string[] };
    expect(svc.volumes).toEqual(['./keys:/etc/volly/keys:ro', './tls:/etc/volly/tls:ro']);
    expect(environment(svc).VOLLY_TLS_GROUPS).toBe('X25519MLKEM768:X25519:P-256:P-384');
  });

  it('the proxy loads a certificate pair from the mounted directory with the environment compose gives it', () => {
    const [source, target] = (proxy().volumes?.find((v) => v.includes(':/etc/volly/tls')) ?? '').split(':') as [string, string];
    expect(source).toBe('./tls');
    const pki = createTestPki();
    const mounted = mkdtempSync(join(tmpdir(), 'volly-compose-tls-'));
    try {
      writeFileSync(join(mounted, 'tls.crt'), pki.server.certPem);
      writeFileSync(join(mounted, 'tls.key'), pki.server.keyPem);
      const e = Object.fromEntries(
        Object.entries(environment(proxy())).map(([k, v]) => [k, v.startsWith(`${target}/`) ? join(mounted, v.slice(target.length + 1)) : v]),
      );
      const config = loadConfig(mapMounts(e, KEYS));
      expect(config.tls).toMatchObject({
        certFile: join(mounted, 'tls.crt'),
        keyFile: join(mounted, 'tls.key'),
        groups: 'X25519MLKEM768:X25519:P-256:P-384',
        minVersion: 'TLSv1.2',
      });
      // The healthcheck stays on the plain-HTTP admin port.
      expect(JSON.stringify(proxy().healthcheck)).toContain('http://127.0.0.1:9880/healthz');
    } finally {
      rmSync(mounted, { recursive: true, force: true });
    }
  });
});
