// compose/ and volly-pq.v2: the static key comes from a key directory
// bind-mounted read-only into the proxy (made with the `volly-pq keygen` step
// .env.example documents), VOLLY_REDIS_URL is the compose Redis LiveKit
// already uses, VOLLY_TRUSTED_PROXIES comes from .env. The live run of the
// proxy with this environment is in deploy-v2-live.test.ts.

import { readFileSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { toBase64Url } from '@volly/shared';
import { describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../proxy/src/config.ts';
import { interpolate, parseDotEnv } from './lib/compose.ts';
import { keygenDir, mapMounts, vollyPq } from './lib/keys.ts';

const COMPOSE_DIR = resolve(import.meta.dirname, '../../compose');
const ENV_EXAMPLE = readFileSync(join(COMPOSE_DIR, '.env.example'), 'utf8');
const env = parseDotEnv(ENV_EXAMPLE);
const raw = parseYaml(readFileSync(join(COMPOSE_DIR, 'docker-compose.yml'), 'utf8')) as Record<string, unknown>;

type Services = Record<string, { environment?: Record<string, string>; volumes?: string[]; command?: string[] }>;
function composeServices(vars: Record<string, string> = env): Services {
  return (interpolate(raw, vars) as { services: Services }).services;
}
const KEY_MOUNT = '/etc/volly/keys';

describe('compose: the v2 key directory', () => {
  it('is bind-mounted read-only into the proxy alone, from VOLLY_KEYS_DIR', () => {
    const services = composeServices();
    expect(services.proxy?.volumes).toContain(`${env.VOLLY_KEYS_DIR}:${KEY_MOUNT}:ro`);
    expect(env.VOLLY_KEYS_DIR).toBe('./keys');
    for (const name of ['redis', 'livekit']) {
      expect(JSON.stringify(services[name]?.volumes ?? []), name).not.toContain(KEY_MOUNT);
    }
    expect(services.proxy?.environment?.VOLLY_SERVER_KEYS).toBe(`${KEY_MOUNT}/v2-current.json`);
    expect(services.proxy?.environment?.VOLLY_PROTOCOLS).toBe('v1,v2');
  });

  it("the keygen step .env.example documents makes the file the proxy's settings name, and the proxy loads it", () => {
    const line = ENV_EXAMPLE.split('\n').find((l) => l.includes('docker compose run'));
    expect(line).toBeDefined();
    // `docker compose run ... -v "$PWD/keys:/out" proxy <args>`: <args> go to the image's volly-pq entrypoint.
    const mount = /-v "\$PWD\/keys:([^"]+)"/.exec(line as string)?.[1] as string;
    const args = (line as string)
      .slice((line as string).indexOf(' proxy ') + ' proxy '.length)
      .trim()
      .split(/\s+/);
    expect(args.slice(0, 3)).toEqual(['keygen', '--algorithm', 'X-Wing']);
    const dir = keygenDir({});
    try {
      const printed = JSON.parse(vollyPq(args.map((a) => a.replace(`${mount}/`, `${dir}/`)))) as { publicKey: string };
      const config = loadConfig(mapMounts(composeServices().proxy?.environment ?? {}, { [KEY_MOUNT]: dir }));
      expect(config.protocols).toEqual(['v1', 'v2']);
      expect(config.staticKeys?.map((k) => [k.key.algorithm, toBase64Url(k.key.publicKey)])).toEqual([['X-Wing', printed.publicKey]]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rotation is a .env change: two files, the first current', () => {
    const dir = keygenDir({ 'v2-next.json': 'X-Wing', 'v2-current.json': 'ML-KEM-768' });
    try {
      const vars = { ...env, VOLLY_SERVER_KEYS: `${KEY_MOUNT}/v2-next.json,${KEY_MOUNT}/v2-current.json` };
      const config = loadConfig(mapMounts(composeServices(vars).proxy?.environment ?? {}, { [KEY_MOUNT]: dir }));
      expect(config.staticKeys?.map((k) => k.key.algorithm)).toEqual(['X-Wing', 'ML-KEM-768']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('compose: Redis and trusted proxies', () => {
  it('VOLLY_REDIS_URL is the Redis service LiveKit uses', () => {
    const services = composeServices();
    const url = new URL(services.proxy?.environment?.VOLLY_REDIS_URL as string);
    const livekitConf = parseYaml(readFileSync(join(COMPOSE_DIR, 'livekit.yaml'), 'utf8')) as { redis: { address: string } };
    expect(url.protocol).toBe('redis:');
    expect(`${url.hostname}:${url.port}`).toBe(livekitConf.redis.address);
    expect(Object.keys(services)).toContain(url.hostname);
    // Also without .env entries.
    const bare = composeServices({ LIVEKIT_KEYS: 'k', VOLLY_UPSTREAM_KEY: 'u', VOLLY_UPSTREAM_SECRET: 's' });
    expect(bare.proxy?.environment?.VOLLY_REDIS_URL).toBe('redis://redis:6379');
    expect(bare.proxy?.environment?.VOLLY_TRUSTED_PROXIES).toBe('');
  });

  it('VOLLY_TRUSTED_PROXIES: empty by default (nobody believed), an ingress network from .env', () => {
    expect(env).toHaveProperty('VOLLY_TRUSTED_PROXIES', '');
    const dir = keygenDir({ 'v2-current.json': 'X-Wing' });
    try {
      const load = (vars: Record<string, string>) => loadConfig(mapMounts(composeServices(vars).proxy?.environment ?? {}, { [KEY_MOUNT]: dir }));
      expect(load(env).trustedProxyList).toEqual([]);
      const config = load({ ...env, VOLLY_TRUSTED_PROXIES: '172.16.0.0/12,10.0.0.7' });
      expect(config.trustedProxyList).toEqual(['172.16.0.0/12', '10.0.0.7']);
      expect(config.trustedProxies.check('172.18.0.5', 'ipv4')).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
