// The real proxy, started through the test harness in front of the real
// LiveKit, with the environment the Helm pod and the compose service give it:
// key files made by the real `volly-pq keygen` where the Secret or the key
// directory is mounted, a real Redis where VOLLY_REDIS_URL points. It serves
// /.well-known/volly-pq with those keys in the configured order, a v2 client
// joins with them and its session id lands in that Redis. Its /metrics is
// then the reference for the chart's Grafana dashboard: every metric name a
// panel queries, and every label it groups by, must be there.

import { spawnSync } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { toBase64Url } from '@volly/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { type RedisServer, startRedis } from '../harness/redis.ts';
import { GO_TOOL_TIMEOUT_MS } from '../harness/tools.ts';
import { fetchServerKeys, joinV2 } from '../harness/v2-signal.ts';
import { interpolate, parseDotEnv } from './lib/compose.ts';
import { dashboardQueries, missingFromMetrics } from './lib/dashboard.ts';
import { CHART, docs, initHelmTools, podEnv, ROOT, template } from './lib/helm.ts';
import { keygenDir, mapMounts } from './lib/keys.ts';

/** What the harness sets itself: loopback ports, this LiveKit, its upstream key and client keys. */
const HARNESS_OWNED = ['VOLLY_LISTEN', 'VOLLY_ADMIN_LISTEN', 'VOLLY_UPSTREAM_URL', 'LIVEKIT_KEYS', 'VOLLY_UPSTREAM_KEY', 'VOLLY_UPSTREAM_SECRET'];

let livekit: LiveKitServer;
let redis: RedisServer;
const dirs: string[] = [];

/** The deployment's environment on loopback: its Redis host (a Service or compose name) becomes the test Redis. */
function onLoopback(env: Record<string, string>): Record<string, string> {
  const out = Object.fromEntries(Object.entries(env).filter(([k]) => !HARNESS_OWNED.includes(k)));
  if (out.VOLLY_REDIS_URL) {
    const u = new URL(out.VOLLY_REDIS_URL);
    u.hostname = redis.host;
    u.port = String(redis.port);
    out.VOLLY_REDIS_URL = u.href;
  }
  return out;
}

function keys(files: Record<string, 'X-Wing' | 'ML-KEM-768'>): string {
  const dir = keygenDir(files);
  dirs.push(dir);
  return dir;
}

const publicKeyOf = (dir: string, file: string) => (JSON.parse(readFileSync(join(dir, file), 'utf8')) as { publicKey: string }).publicKey;

function sessionIdsInRedis(): string[] {
  const r = spawnSync('redis-cli', ['-h', redis.host, '-p', String(redis.port), '--scan', '--pattern', 'volly:v2:sid:*'], { encoding: 'utf8' });
  return r.stdout.split('\n').filter(Boolean);
}

/** A v2 join as a client does it: keys from the well-known document, the current one used. */
async function joinOnce(proxy: TestProxy, room: string): Promise<void> {
  const { signal, retries } = await joinV2(proxy.url, await proxy.token(room, 'deploy-check'));
  expect(retries).toEqual([]);
  expect(signal.ws.protocol).toBe('volly-pq.v2');
  expect(signal.join.room?.name).toBe(room);
  await signal.close();
}

beforeAll(
  async () => {
    await initHelmTools();
    [livekit, redis] = await Promise.all([startLiveKit(), startRedis()]);
  },
  GO_TOOL_TIMEOUT_MS + 10 * 60_000,
);
afterAll(async () => {
  await livekit?.stop();
  await redis?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('Helm: the proxy with the pod environment and the mounted server-keys Secret', () => {
  let proxy: TestProxy;
  let dir: string;
  beforeAll(async () => {
    dir = keys({ 'v2-next.json': 'X-Wing', 'v2-old.json': 'ML-KEM-768' });
    const objs = docs(
      template(['proxy.serverKeys.secretName=volly-server-keys', 'proxy.serverKeys.files={v2-next.json,v2-old.json}', 'redis.enabled=true', 'replicaCount=2']),
    );
    proxy = await startTestProxy(livekit, onLoopback(podEnv(objs, { mounts: { '/etc/volly/server-keys': dir } })));
  });
  afterAll(async () => proxy?.close());

  it('serves /.well-known/volly-pq with the Secret keys, the first listed current', async () => {
    const published = await fetchServerKeys(proxy.url);
    expect(published.map((k) => [k.algorithm, toBase64Url(k.publicKey)])).toEqual([
      ['X-Wing', publicKeyOf(dir, 'v2-next.json')],
      ['ML-KEM-768', publicKeyOf(dir, 'v2-old.json')],
    ]);
  });

  it("a v2 client joins the real LiveKit, and its session id goes to the release's Redis", async () => {
    const before = sessionIdsInRedis().length;
    await joinOnce(proxy, 'helm-v2');
    expect(sessionIdsInRedis().length).toBe(before + 1);
  });

  it("the dashboard's every metric name and grouping label is on this proxy's /metrics", async () => {
    const dashboard = JSON.parse(readFileSync(join(CHART, 'dashboards', 'volly-pq.json'), 'utf8'));
    const queries = dashboardQueries(dashboard);
    // The panels the dashboard promises.
    const names = new Set(queries.flatMap((q) => q.metrics));
    for (const m of [
      'volly_sessions_active',
      'volly_sessions_total',
      'volly_handshake_duration_seconds_bucket',
      'volly_failures_total',
      'volly_handshakes_queued',
      'volly_handshake_refusals_total',
      'volly_v2_first_flights_total',
    ]) {
      expect(names, m).toContain(m);
    }
    const metrics = await proxy.metrics();
    expect(missingFromMetrics(queries, metrics)).toEqual([]);
    // The check is not vacuous: a name or label the proxy does not export is reported.
    const bogus = [
      {
        expr: 'sum by (colour) (rate(volly_sessions_total[5m])) + volly_not_a_metric',
        metrics: ['volly_sessions_total', 'volly_not_a_metric'],
        by: ['colour'],
      },
    ];
    expect(missingFromMetrics(bogus, metrics)).toEqual(['volly_not_a_metric', 'volly_sessions_total by colour']);
  });
});

describe('compose: the proxy with the service environment and the mounted key directory', () => {
  it('serves the key made in ./keys, and a v2 client joins with its session id in the compose Redis', async () => {
    const composeDir = join(ROOT, 'compose');
    const env = parseDotEnv(readFileSync(join(composeDir, '.env.example'), 'utf8'));
    const raw = parseYaml(readFileSync(join(composeDir, 'docker-compose.yml'), 'utf8'));
    const service = (interpolate(raw, env) as { services: { proxy: { environment: Record<string, string> } } }).services.proxy;
    const dir = keys({ 'v2-current.json': 'X-Wing' });
    const proxy = await startTestProxy(livekit, onLoopback(mapMounts(service.environment, { '/etc/volly/keys': dir })));
    try {
      const published = await fetchServerKeys(proxy.url);
      expect(published.map((k) => toBase64Url(k.publicKey))).toEqual([publicKeyOf(dir, 'v2-current.json')]);
      const before = sessionIdsInRedis().length;
      await joinOnce(proxy, 'compose-v2');
      expect(sessionIdsInRedis().length).toBe(before + 1);
    } finally {
      await proxy.close();
    }
  });
});
