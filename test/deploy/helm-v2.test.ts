// helm/volly-signaling and volly-pq.v2: the static keys come from an existing
// Secret (Helm cannot make a KEM key), mounted read-only as a directory in the
// proxy container only, listed in VOLLY_SERVER_KEYS in the order values give;
// VOLLY_REDIS_URL follows the Redis the release already uses; trusted proxies
// and the Grafana dashboard ConfigMap come from values. Rendered with a real
// helm and validated with kubeconform like helm.test.ts; the live proxy run
// with this environment is in deploy-v2-live.test.ts.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, SETTING_ENV_NAMES } from '../../proxy/src/config.ts';
import { GO_TOOL_TIMEOUT_MS } from '../harness/tools.ts';
import {
  CHART,
  CRD_KINDS,
  container,
  docs,
  envOf,
  FULLNAME,
  find,
  initHelmTools,
  KUBE_VERSIONS,
  kubeconformCheck,
  NAMESPACE,
  type Obj,
  podEnv,
  podSpec,
  ROOT,
  runHelm,
  template,
} from './lib/helm.ts';

export const V2_SET = [
  'proxy.serverKeys.secretName=volly-server-keys',
  'proxy.serverKeys.files={v2-next.json,v2-old.json}',
  'redis.enabled=true',
  'replicaCount=2',
  'proxy.trustedProxies={10.0.0.0/8,fd00::/8}',
  'grafana.dashboard.enabled=true',
];
const MOUNT = '/etc/volly/server-keys';

beforeAll(initHelmTools, GO_TOOL_TIMEOUT_MS + 10 * 60_000);

describe('v2 keys, Redis, trusted proxies and the dashboard: lint and kubeconform', () => {
  it('helm lint --strict passes', () => {
    const args = ['lint', CHART, '--strict', '--namespace', NAMESPACE];
    for (const v of V2_SET) args.push('--set', v);
    for (const kv of KUBE_VERSIONS) {
      const r = runHelm([...args, '--kube-version', kv]);
      expect(r.status, r.stdout + r.stderr).toBe(0);
    }
  });

  for (const kv of KUBE_VERSIONS) {
    it(`every object is valid for Kubernetes ${kv}`, () => {
      const rendered = template(V2_SET);
      const { status, resources, raw } = kubeconformCheck(rendered, kv);
      expect(resources.length, raw).toBe(docs(rendered).length);
      for (const r of resources) {
        const want = CRD_KINDS.includes(r.kind) ? 'statusSkipped' : 'statusValid';
        expect(`${r.kind}/${r.name}: ${r.status} ${r.msg}`).toBe(`${r.kind}/${r.name}: ${want} `);
      }
      expect(status, raw).toBe(0);
    });
  }
});

describe('proxy.serverKeys', () => {
  it('off by default: v1 only, said explicitly; no key volume, no Redis URL, no trusted proxy, no dashboard', () => {
    const objs = docs(template([]));
    const env = envOf(container(objs, 'proxy'));
    expect(env.VOLLY_PROTOCOLS?.value).toBe('v1');
    for (const k of ['VOLLY_SERVER_KEYS', 'VOLLY_REDIS_URL', 'VOLLY_TRUSTED_PROXIES']) expect(env[k], k).toBeUndefined();
    expect(podSpec(objs).volumes.map((v: Obj) => v.name)).not.toContain('proxy-server-keys');
    expect(objs.filter((o) => o.kind === 'ConfigMap').map((o) => o.metadata.name)).toEqual([`${FULLNAME}-livekit`]);
  });

  it('mounts the Secret read-only as a directory in the proxy only, and lists its files in the given order', () => {
    const objs = docs(template(V2_SET));
    const volume = podSpec(objs).volumes.find((v: Obj) => v.name === 'proxy-server-keys');
    expect(volume).toEqual({ name: 'proxy-server-keys', secret: { secretName: 'volly-server-keys', defaultMode: 0o440 } });
    const mount = container(objs, 'proxy').volumeMounts.find((m: Obj) => m.name === 'proxy-server-keys');
    expect(mount).toEqual({ name: 'proxy-server-keys', mountPath: MOUNT, readOnly: true });
    expect(container(objs, 'livekit').volumeMounts.map((m: Obj) => m.name)).not.toContain('proxy-server-keys');
    const env = envOf(container(objs, 'proxy'));
    expect(env.VOLLY_SERVER_KEYS?.value).toBe(`${MOUNT}/v2-next.json,${MOUNT}/v2-old.json`);
    // The proxy's default (v1,v2): v2 is served because a KEM key is listed.
    expect(env.VOLLY_PROTOCOLS).toBeUndefined();
    for (const e of container(objs, 'proxy').env as Obj[]) expect(new Set(Object.values(SETTING_ENV_NAMES))).toContain(e.name);
    // The chart creates no Secret for them: the keys never pass through values.
    expect(objs.filter((o) => o.kind === 'Secret').map((o) => o.metadata.name)).toEqual([`${FULLNAME}-keys`]);
  });

  it('a rotation step (the files reordered) changes the pod template, so the pods roll', () => {
    const spec = (files: string) => JSON.stringify(podSpec(docs(template([...V2_SET.slice(0, 1), `proxy.serverKeys.files={${files}}`]))));
    expect(spec('v2-old.json,v2-next.json')).not.toBe(spec('v2-next.json,v2-old.json'));
    expect(spec('v2-next.json')).not.toBe(spec('v2-next.json,v2-old.json'));
  });

  it('proxy.protocols is passed as given', () => {
    const env = envOf(container(docs(template([...V2_SET, 'proxy.protocols=v2'])), 'proxy'));
    expect(env.VOLLY_PROTOCOLS?.value).toBe('v2');
  });
});

describe('VOLLY_REDIS_URL and VOLLY_TRUSTED_PROXIES', () => {
  const redisUrl = (set: string[]) => envOf(container(docs(template(set)), 'proxy')).VOLLY_REDIS_URL?.value;

  it("the chart's Redis when redis.enabled, the one LiveKit uses otherwise, proxy.redisUrl over both", () => {
    const objs = docs(template(V2_SET));
    const svc = find(objs, 'Service', `${FULLNAME}-redis`);
    expect(redisUrl(V2_SET)).toBe(`redis://${svc.metadata.name}:${svc.spec.ports[0].port}`);
    expect(redisUrl(['livekit.redis.address=redis.example.internal:6379'])).toBe('redis://redis.example.internal:6379');
    expect(redisUrl(['redis.enabled=true', 'proxy.redisUrl=rediss://r.example:6380/2'])).toBe('rediss://r.example:6380/2');
    expect(redisUrl([])).toBeUndefined();
  });

  it('the trusted proxies are joined as the proxy reads them', () => {
    const objs = docs(template(V2_SET));
    expect(envOf(container(objs, 'proxy')).VOLLY_TRUSTED_PROXIES?.value).toBe('10.0.0.0/8,fd00::/8');
    // The rest of the pod's environment as it is (the key files are loaded in deploy-v2-live.test.ts).
    const { VOLLY_SERVER_KEYS: _files, ...env } = podEnv(objs);
    const config = loadConfig(env);
    expect(config.trustedProxyList).toEqual(['10.0.0.0/8', 'fd00::/8']);
    expect(config.trustedProxies.check('10.1.2.3', 'ipv4')).toBe(true);
    expect(config.trustedProxies.check('203.0.113.9', 'ipv4')).toBe(false);
  });
});

describe('the Grafana dashboard ConfigMap', () => {
  it('carries the chart file as valid JSON, labelled for the Grafana sidecar', () => {
    const cm = find(docs(template(V2_SET)), 'ConfigMap', `${FULLNAME}-dashboard`);
    expect(cm.metadata.labels.grafana_dashboard).toBe('1');
    const file = readFileSync(join(CHART, 'dashboards', 'volly-pq.json'), 'utf8');
    expect(JSON.parse(cm.data['volly-pq.json'])).toEqual(JSON.parse(file));
    const withFolder = find(
      docs(template(['grafana.dashboard.enabled=true', 'grafana.dashboard.annotations.grafana_folder=volly'])),
      'ConfigMap',
      `${FULLNAME}-dashboard`,
    );
    expect(withFolder.metadata.annotations).toEqual({ grafana_folder: 'volly' });
  });
});

describe("docs/deploy.md's rotation (PROTOCOL.md v2.9)", () => {
  it('lists the new key second, then first, then alone, and each step renders that order', () => {
    const doc = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');
    const section = doc.slice(doc.indexOf('### Rotating the v2 static key'));
    const steps = [...section.matchAll(/--set '(proxy\.serverKeys\.files=\{[^}]*\})'/g)].map((m) => m[1] as string);
    const lists = steps.map((set) => set.slice(set.indexOf('{') + 1, -1).split(','));
    expect(lists).toHaveLength(3);
    const [[oldKey, newKey], second, third] = lists as [[string, string], string[], string[]];
    expect(lists[0]).toEqual([oldKey, newKey]);
    expect(second).toEqual([newKey, oldKey]);
    expect(third).toEqual([newKey]);
    for (const [i, set] of steps.entries()) {
      const env = envOf(container(docs(template(['proxy.serverKeys.secretName=volly-server-keys', set])), 'proxy'));
      expect(env.VOLLY_SERVER_KEYS?.value).toBe((lists[i] as string[]).map((f) => `${MOUNT}/${f}`).join(','));
    }
  });
});

describe('refused at render time', () => {
  it('v2 without keys, keys without files, and bad names or protocols', () => {
    const failing: Array<[string[], RegExp]> = [
      [['proxy.protocols=v2'], /needs a KEM static key: make one with `volly-pq keygen --algorithm X-Wing/],
      [['proxy.protocols=v1\\,v2'], /kubectl create secret generic/],
      [['proxy.serverKeys.secretName=s'], /needs proxy\.serverKeys\.files/],
      [['proxy.serverKeys.files={a.json}'], /needs proxy\.serverKeys\.secretName/],
      [['proxy.serverKeys.secretName=s', 'proxy.serverKeys.files={../a.json}'], /not a Secret entry name/],
      [['proxy.protocols=v3'], /"v3" is not v1 or v2/],
    ];
    for (const [set, message] of failing) expect(() => template(set), set.join(' ')).toThrow(message);
  });
});
