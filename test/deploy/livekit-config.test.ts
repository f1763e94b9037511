// The LiveKit configurations that compose/ and helm/ ship, run by the real
// livekit-server of the pinned version: LiveKit parses its config strictly
// (an unknown or misspelt key is fatal), so this proves both files load, and
// that the keys reach LiveKit the way the deployments pass them (LIVEKIT_KEYS
// = "upstreamKey: upstreamSecret" in the environment, no keys in the file):
// a token signed with the upstream key is accepted, one signed with a client
// key is refused.
//
// To run here, the ports are moved to free loopback ones, compose's
// 0.0.0.0 bind becomes 127.0.0.1, Redis is a local redis-server, and the
// chart is rendered with useExternalIp=false (no STUN from a test). Every
// other setting is the file's own.

import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseAllDocuments, parse as parseYaml, stringify as toYaml } from 'yaml';
import { generateApiKeyPair, liveKitHealthy } from '../harness/livekit.ts';
import { ensureLiveKitBinary } from '../harness/livekit-binary.ts';
import { getFreePort, getFreeUdpPort, LOOPBACK } from '../harness/ports.ts';
import { type ManagedProcess, makeTempDir, spawnManaged, waitFor } from '../harness/process.ts';
import { type RedisServer, startRedis } from '../harness/redis.ts';
import { token } from '../harness/tokens.ts';
import { ensureHelm, GO_TOOL_TIMEOUT_MS } from '../harness/tools.ts';

const ROOT = resolve(import.meta.dirname, '../..');

// biome-ignore lint/suspicious/noExplicitAny: rendered YAML manifests are untyped documents read field by field
type Obj = Record<string, any>;

interface Running {
  url: string;
  proc: ManagedProcess;
  config: Obj;
}

let binary: string;
let redis: RedisServer;
const started: ManagedProcess[] = [];

beforeAll(async () => {
  binary = process.env.VOLLY_LIVEKIT_BIN || (await ensureLiveKitBinary());
  redis = await startRedis();
}, GO_TOOL_TIMEOUT_MS);

afterAll(async () => {
  // Nothing to drain: no participant ever joined.
  for (const p of started) await p.stop({ signal: 'SIGKILL' });
  await redis?.stop();
});

/** The environment a deployment gives LiveKit: its own variables only. */
function deploymentEnv(vars: Record<string, string>): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) {
    if (/^(LIVEKIT_|REDIS_)/.test(k) || k === 'NODE_IP' || k === 'UDP_PORT') continue;
    env[k] = v;
  }
  return { ...env, ...vars };
}

async function runLiveKit(shipped: Obj, env: Record<string, string>): Promise<Running> {
  const config: Obj = structuredClone(shipped);
  const port = await getFreePort();
  config.port = port;
  config.bind_addresses = [LOOPBACK];
  config.rtc = {
    ...config.rtc,
    tcp_port: await getFreePort(),
    udp_port: await getFreeUdpPort(),
    ips: { includes: ['127.0.0.0/8'] },
  };
  if (config.redis) config.redis = { ...config.redis, address: redis.address };
  const dir = makeTempDir(`deploy-livekit-${port}`);
  const configFile = join(dir, 'livekit.yaml');
  writeFileSync(configFile, toYaml(config));
  const proc = spawnManaged({
    name: `livekit-server:${port}`,
    command: binary,
    args: ['--config', configFile],
    logFile: join(dir, 'livekit.log'),
    env: deploymentEnv(env),
    cwd: dir,
  });
  started.push(proc);
  const url = `http://${LOOPBACK}:${port}`;
  await waitFor(`livekit-server on ${url}`, () => liveKitHealthy(url), { timeoutMs: 30_000, proc });
  return { url, proc, config };
}

async function validate(url: string, key: { apiKey: string; apiSecret: string }): Promise<number> {
  const res = await fetch(`${url}/rtc/validate?access_token=${await token(key, 'deploy-check', 'deploy-check')}`);
  await res.arrayBuffer();
  return res.status;
}

async function expectOnlyUpstreamKey(url: string, upstream: { apiKey: string; apiSecret: string }): Promise<void> {
  expect(await validate(url, upstream)).toBe(200);
  expect(await validate(url, generateApiKeyPair())).toBe(401);
  // The client key ID with another secret: still refused.
  expect(await validate(url, { apiKey: upstream.apiKey, apiSecret: generateApiKeyPair().apiSecret })).toBe(401);
}

describe('LiveKit configs as deployed', () => {
  it('compose/livekit.yaml loads, uses Redis, and LiveKit accepts only the upstream key from LIVEKIT_KEYS', async () => {
    const shipped = parseYaml(readFileSync(join(ROOT, 'compose', 'livekit.yaml'), 'utf8')) as Obj;
    expect(shipped.redis?.address).toBeDefined();
    const upstream = generateApiKeyPair();
    // As docker-compose.yml sets them.
    const lk = await runLiveKit(shipped, {
      LIVEKIT_KEYS: `${upstream.apiKey}: ${upstream.apiSecret}`,
      NODE_IP: LOOPBACK,
    });
    await expectOnlyUpstreamKey(lk.url, upstream);
  });

  it('the Helm chart livekit.yaml (redis enabled) loads and LiveKit accepts only the upstream key', async () => {
    const helm = await ensureHelm();
    const chart = join(ROOT, 'helm', 'volly-signaling');
    const r = spawnSync(
      helm,
      ['template', 'rel', chart, '--show-only', 'templates/configmap.yaml', '--set', 'redis.enabled=true', '--set', 'livekit.rtc.useExternalIp=false'],
      { encoding: 'utf8', timeout: 120_000 },
    );
    expect(r.status, r.stderr).toBe(0);
    const cm = parseAllDocuments(r.stdout)[0]?.toJS() as Obj;
    const shipped = parseYaml(cm.data['livekit.yaml']) as Obj;
    expect(shipped.bind_addresses).toEqual(['127.0.0.1']);
    const upstream = generateApiKeyPair();
    // What Kubernetes makes of "$(VOLLY_UPSTREAM_KEY): $(VOLLY_UPSTREAM_SECRET)".
    const lk = await runLiveKit(shipped, { LIVEKIT_KEYS: `${upstream.apiKey}: ${upstream.apiSecret}` });
    await expectOnlyUpstreamKey(lk.url, upstream);
  });
});
