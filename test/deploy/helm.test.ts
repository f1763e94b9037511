// helm/volly-signaling: linted and rendered with a real helm, and every
// rendered object validated by kubeconform against the Kubernetes JSON schemas
// (strict: unknown fields fail) of the chart's oldest supported Kubernetes and
// of the newest one the schema package has. No cluster, no Docker: helm and
// kubeconform are built from the Go module proxy into the tool cache, the
// schemas come from the kubernetes-validate wheel on PyPI (lib/k8s-schemas.ts).
// ServiceMonitor (a Prometheus Operator CRD, no built-in schema) is skipped
// explicitly by kind, and everything else must come out `statusValid`.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { isMap, parseDocument, parse as parseYaml, type YAMLMap } from 'yaml';
import { loadConfig, SETTING_ENV_NAMES } from '../../proxy/src/config.ts';
import { LIVEKIT_VERSION } from '../harness/livekit-binary.ts';
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
  LIVEKIT_PORT,
  livekitYaml,
  NAMESPACE,
  type Obj,
  podSpec,
  ROOT,
  runHelm,
  template,
} from './lib/helm.ts';
import { SCENARIOS, TLS_SCENARIO } from './lib/helm-scenarios.ts';

beforeAll(initHelmTools, GO_TOOL_TIMEOUT_MS + 10 * 60_000);

describe('helm lint', () => {
  for (const s of [...SCENARIOS.slice(0, 2), TLS_SCENARIO]) {
    it(`passes --strict with ${s.name}`, () => {
      const args = ['lint', CHART, '--strict', '--namespace', NAMESPACE];
      for (const v of s.set) args.push('--set', v);
      for (const kv of KUBE_VERSIONS) {
        const r = runHelm([...args, '--kube-version', kv]);
        expect(r.status, r.stdout + r.stderr).toBe(0);
        expect(r.stdout).toContain('1 chart(s) linted, 0 chart(s) failed');
      }
    });
  }
});

describe('helm template | kubeconform -strict', () => {
  for (const s of SCENARIOS) {
    for (const kv of KUBE_VERSIONS) {
      it(`${s.name}: every object is valid for Kubernetes ${kv}`, () => {
        const rendered = template(s.set);
        const { status, resources, raw } = kubeconformCheck(rendered, kv);
        const objs = docs(rendered);
        expect(resources.length, raw).toBe(objs.length);
        for (const r of resources) {
          const want = CRD_KINDS.includes(r.kind) ? 'statusSkipped' : 'statusValid';
          expect(`${r.kind}/${r.name}: ${r.status} ${r.msg}`).toBe(`${r.kind}/${r.name}: ${want} `);
        }
        expect(status, raw).toBe(0);
      });
    }
  }

  it('the schemas are really applied: an unknown field and a wrong type are rejected', () => {
    const bad = template([]).replace('terminationGracePeriodSeconds: 60', 'terminationGracePeriodSeconds: "sixty"\n      notAPodField: true');
    const { status, resources } = kubeconformCheck(bad, KUBE_VERSIONS[0]);
    const deployment = resources.find((r) => r.kind === 'Deployment');
    expect(deployment?.status).toBe('statusInvalid');
    expect(deployment?.msg).toContain('notAPodField');
    expect(deployment?.msg).toContain('terminationGracePeriodSeconds');
    expect(status).not.toBe(0);
  });
});

describe('chart layout', () => {
  const defaults = () => docs(template([]));

  it('pins LiveKit to the version the tests run, and appVersion to the proxy package', () => {
    const values = parseYaml(readFileSync(join(CHART, 'values.yaml'), 'utf8')) as Obj;
    expect(values.livekit.image.tag).toBe(LIVEKIT_VERSION);
    const chart = parseYaml(readFileSync(join(CHART, 'Chart.yaml'), 'utf8')) as Obj;
    const proxyPkg = JSON.parse(readFileSync(join(ROOT, 'proxy', 'package.json'), 'utf8')) as Obj;
    expect(chart.appVersion).toBe(proxyPkg.version);
    // Every LiveKit image in every rendering carries the same tag.
    for (const s of SCENARIOS) {
      const images = [...template(s.set).matchAll(/image: "?(livekit\/livekit-server:[^"\s]+)/g)].map((m) => m[1]);
      expect(images.length).toBeGreaterThan(0);
      for (const image of images) expect(image).toBe(`livekit/livekit-server:${LIVEKIT_VERSION}`);
    }
  });

  it('documents every value in values.yaml and in the chart README', () => {
    const doc = parseDocument(readFileSync(join(CHART, 'values.yaml'), 'utf8'));
    const undocumented: string[] = [];
    const documentedPaths: string[] = [];
    const walk = (map: YAMLMap, path: string[], inherited: boolean): void => {
      map.items.forEach((pair, i) => {
        const key = pair.key as { value: unknown; commentBefore?: string | null };
        const p = [...path, String(key.value)];
        const own = Boolean(key.commentBefore) || (i === 0 && Boolean(map.commentBefore));
        if (own) documentedPaths.push(p.join('.'));
        if (isMap(pair.value)) walk(pair.value, p, inherited || own);
        else if (!(inherited || own)) undocumented.push(p.join('.'));
      });
    };
    walk(doc.contents as YAMLMap, [], false);
    expect(undocumented).toEqual([]);
    const readme = readFileSync(join(CHART, 'README.md'), 'utf8');
    for (const p of documentedPaths) expect(readme, p).toContain(`\`${p}\``);
  });

  it('runs LiveKit and the proxy as two containers of one pod', () => {
    const objs = defaults();
    expect(objs.filter((o) => o.kind === 'Deployment').map((o) => o.metadata.name)).toEqual([FULLNAME]);
    const pod = podSpec(objs);
    expect(pod.containers.map((c: Obj) => c.name)).toEqual(['livekit', 'proxy']);
    expect(container(objs, 'livekit').image).toBe(`livekit/livekit-server:${LIVEKIT_VERSION}`);
    expect(container(objs, 'proxy').image).toMatch(/^volly\/volly-pq:\d+\.\d+\.\d+/);
    expect(container(objs, 'proxy').args).toEqual(['proxy']);
  });

  it('LiveKit listens on 127.0.0.1:7780 only, with no keys in its config; the proxy is its upstream', () => {
    const objs = defaults();
    const conf = livekitYaml(objs);
    expect(conf.port).toBe(LIVEKIT_PORT);
    expect(conf.bind_addresses).toEqual(['127.0.0.1']);
    expect(conf).not.toHaveProperty('keys');
    expect(conf).not.toHaveProperty('key_file');
    expect(conf).not.toHaveProperty('redis');
    expect(container(objs, 'livekit').args).toEqual(['--config', '/etc/livekit/livekit.yaml']);
    const env = envOf(container(objs, 'proxy'));
    expect(env.VOLLY_UPSTREAM_URL?.value).toBe(`http://127.0.0.1:${LIVEKIT_PORT}`);
    expect(env.VOLLY_LISTEN?.value).toBe('0.0.0.0:7880');
    expect(env.VOLLY_ADMIN_LISTEN?.value).toBe('0.0.0.0:9880');
    expect(env.VOLLY_PQ_POLICY?.value).toBe('prefer');
    expect(env.VOLLY_PQ_ALGORITHMS?.value).toBe('ML-KEM-768,X-Wing');
  });

  it('LiveKit gets only the upstream key; the proxy gets the client keys and the upstream key', () => {
    const objs = defaults();
    const secretName = `${FULLNAME}-keys`;
    const secret = find(objs, 'Secret', secretName);
    expect(Object.keys(secret.data).sort()).toEqual(['LIVEKIT_KEYS', 'VOLLY_UPSTREAM_KEY', 'VOLLY_UPSTREAM_SECRET']);
    const decoded = (k: string) => Buffer.from(secret.data[k], 'base64').toString('utf8');
    expect(decoded('LIVEKIT_KEYS')).toMatch(/^API\w+: \w{32,}$/);
    expect(decoded('VOLLY_UPSTREAM_SECRET').length).toBeGreaterThanOrEqual(32);
    expect(decoded('LIVEKIT_KEYS').startsWith(`${decoded('VOLLY_UPSTREAM_KEY')}:`)).toBe(false);

    const lk = envOf(container(objs, 'livekit'));
    expect(lk.LIVEKIT_KEYS?.value).toBe('$(VOLLY_UPSTREAM_KEY): $(VOLLY_UPSTREAM_SECRET)');
    const names = container(objs, 'livekit').env.map((e: Obj) => e.name);
    // Kubernetes expands $(VAR) only from variables defined before it.
    expect(names.indexOf('VOLLY_UPSTREAM_KEY')).toBeLessThan(names.indexOf('LIVEKIT_KEYS'));
    expect(names.indexOf('VOLLY_UPSTREAM_SECRET')).toBeLessThan(names.indexOf('LIVEKIT_KEYS'));
    for (const k of ['VOLLY_UPSTREAM_KEY', 'VOLLY_UPSTREAM_SECRET']) {
      expect(lk[k]?.valueFrom.secretKeyRef).toEqual({ name: secretName, key: k });
    }
    const px = envOf(container(objs, 'proxy'));
    for (const k of ['LIVEKIT_KEYS', 'VOLLY_UPSTREAM_KEY', 'VOLLY_UPSTREAM_SECRET']) {
      expect(px[k]?.valueFrom.secretKeyRef).toEqual({ name: secretName, key: k });
    }
  });

  it('the proxy accepts the environment the pod gives it, and every variable is one it reads', () => {
    for (const s of SCENARIOS.slice(0, 2)) {
      const objs = docs(template(s.set));
      const secret = find(objs, 'Secret', `${FULLNAME}-keys`);
      const known = new Set(Object.values(SETTING_ENV_NAMES));
      const env: Record<string, string> = {};
      for (const e of container(objs, 'proxy').env as Obj[]) {
        expect(known, e.name).toContain(e.name);
        const ref = e.valueFrom?.secretKeyRef;
        env[e.name] = ref ? Buffer.from(secret.data[ref.key], 'base64').toString('utf8') : e.value;
      }
      const config = loadConfig(env);
      expect(config.upstreamUrl.href).toBe(`http://127.0.0.1:${LIVEKIT_PORT}/`);
      expect(config.adminListen).toEqual({ host: '0.0.0.0', port: 9880 });
      expect(config.listen).toEqual({ host: '0.0.0.0', port: 7880 });
      expect(config.keys.has(config.upstream.key)).toBe(false);
    }
  });

  it('given keys are used as given; existingSecret replaces the chart Secret', () => {
    const given = docs(
      template([
        'keys.clientKeys=APIclient: client-secret-client-secret-client-secret',
        'keys.upstreamKey=APIup',
        'keys.upstreamSecret=upstream-secret-upstream-secret-upstream',
      ]),
    );
    const data = find(given, 'Secret', `${FULLNAME}-keys`).data;
    expect(Buffer.from(data.LIVEKIT_KEYS, 'base64').toString()).toBe('APIclient: client-secret-client-secret-client-secret');
    expect(Buffer.from(data.VOLLY_UPSTREAM_KEY, 'base64').toString()).toBe('APIup');

    const existing = docs(template(['keys.existingSecret=my-keys']));
    expect(existing.filter((o) => o.kind === 'Secret')).toEqual([]);
    for (const c of podSpec(existing).containers) {
      for (const e of c.env) {
        if (e.valueFrom?.secretKeyRef) expect(e.valueFrom.secretKeyRef.name).toBe('my-keys');
      }
    }
  });

  it('probes the proxy admin port: /readyz for readiness, /healthz for liveness', () => {
    const proxy = container(defaults(), 'proxy');
    const admin = proxy.ports.find((p: Obj) => p.name === 'admin');
    expect(admin).toEqual({ name: 'admin', containerPort: 9880, protocol: 'TCP' });
    expect(proxy.readinessProbe.httpGet).toEqual({ path: '/readyz', port: 'admin' });
    expect(proxy.livenessProbe.httpGet).toEqual({ path: '/healthz', port: 'admin' });
    const lk = container(defaults(), 'livekit');
    expect(lk.livenessProbe.exec.command).toEqual(['wget', '-q', '-O', '/dev/null', `http://127.0.0.1:${LIVEKIT_PORT}/`]);
  });

  it('the Service exposes the proxy on 7880 and the media ports, never LiveKit signaling', () => {
    for (const s of [...SCENARIOS, { name: 'moved LiveKit port', set: ['livekit.port=7790'] }]) {
      const objs = docs(template(s.set));
      const lkPort = Number(livekitYaml(objs).port);
      const pod = podSpec(objs);
      const namedPorts = new Map<string, { port: number; container: string }>();
      for (const c of pod.containers) {
        for (const p of c.ports ?? []) namedPorts.set(p.name, { port: p.containerPort, container: c.name });
        // No container even declares LiveKit's signaling port.
        for (const p of c.ports ?? []) expect(p.containerPort).not.toBe(lkPort);
      }
      for (const svc of objs.filter((o) => o.kind === 'Service')) {
        for (const p of svc.spec.ports) {
          const target = typeof p.targetPort === 'string' ? namedPorts.get(p.targetPort)?.port : p.targetPort;
          expect(p.port, `${s.name}: ${svc.metadata.name}`).not.toBe(lkPort);
          expect(target ?? p.port, `${s.name}: ${svc.metadata.name}`).not.toBe(lkPort);
        }
      }
      const main = find(objs, 'Service', FULLNAME);
      const ports = main.spec.ports.map((p: Obj) => ({
        name: p.name,
        port: p.port,
        protocol: p.protocol,
        container: namedPorts.get(p.targetPort)?.container,
        containerPort: namedPorts.get(p.targetPort)?.port,
      }));
      expect(ports).toEqual([
        { name: 'signal', port: 7880, protocol: 'TCP', container: 'proxy', containerPort: 7880 },
        { name: 'rtc-tcp', port: 7881, protocol: 'TCP', container: 'livekit', containerPort: 7881 },
        { name: 'rtc-udp', port: 7882, protocol: 'UDP', container: 'livekit', containerPort: 7882 },
      ]);
      const conf = livekitYaml(objs);
      expect(conf.rtc.tcp_port).toBe(7881);
      expect(conf.rtc.udp_port).toBe(7882);
      expect(envOf(container(objs, 'proxy')).VOLLY_UPSTREAM_URL?.value).toBe(`http://127.0.0.1:${lkPort}`);
    }
  });

  it('redis.enabled deploys Redis and points LiveKit at it; serviceMonitor scrapes the admin port', () => {
    const objs = docs(template(SCENARIOS[1]?.set ?? []));
    const redisName = `${FULLNAME}-redis`;
    const redisDeploy = find(objs, 'Deployment', redisName);
    const redisSvc = find(objs, 'Service', redisName);
    expect(livekitYaml(objs).redis).toEqual({ address: `${redisName}:6379` });
    expect(redisSvc.spec.selector).toEqual(redisDeploy.spec.template.metadata.labels);
    // The Redis pod is not selected by the LiveKit Service, nor the other way round.
    const main = find(objs, 'Service', FULLNAME);
    expect(main.spec.selector).not.toEqual(redisSvc.spec.selector);
    expect(find(objs, 'Deployment', FULLNAME).spec.replicas).toBe(3);

    const sm = find(objs, 'ServiceMonitor', FULLNAME);
    const metricsSvc = find(objs, 'Service', `${FULLNAME}-metrics`);
    for (const [k, v] of Object.entries(sm.spec.selector.matchLabels)) expect(metricsSvc.metadata.labels[k]).toBe(v);
    // ...and only that Service.
    expect(Object.entries(sm.spec.selector.matchLabels).every(([k, v]) => main.metadata.labels[k] === v)).toBe(false);
    expect(sm.spec.endpoints).toEqual([expect.objectContaining({ port: 'admin', path: '/metrics' })]);
    expect(metricsSvc.spec.ports).toEqual([{ name: 'admin', port: 9880, targetPort: 'admin', protocol: 'TCP' }]);
    expect(sm.spec.namespaceSelector.matchNames).toEqual([NAMESPACE]);
  });

  it('no Redis, no ServiceMonitor, no metrics Service by default', () => {
    const kinds = defaults().map((o) => `${o.kind}/${o.metadata.name}`);
    expect(kinds.sort()).toEqual(
      [`ConfigMap/${FULLNAME}-livekit`, `Deployment/${FULLNAME}`, `Secret/${FULLNAME}-keys`, `Service/${FULLNAME}`, `ServiceAccount/${FULLNAME}`].sort(),
    );
  });

  it('refuses unsafe or broken settings at render time', () => {
    const failing: Array<[string[], RegExp]> = [
      [['replicaCount=2'], /needs Redis/],
      [['livekit.config.keys.foo=bar'], /livekit\.config\.keys/],
      [['livekit.config.port=7880'], /livekit\.config\.port/],
      [['livekit.config.bind_addresses={0.0.0.0}'], /livekit\.config\.bind_addresses/],
      [['keys.upstreamSecret=short'], /at least 32/],
      [['proxy.pq.policy=maybe'], /prefer or require/],
      [['livekit.port=7880'], /must differ/],
      [['proxy.tls.enabled=true'], /proxy\.tls\.secretName/],
      [['proxy.tls.enabled=true', 'proxy.tls.secretName=t', 'proxy.tls.minVersion=TLSv1.1'], /TLSv1\.2 or TLSv1\.3/],
    ];
    for (const [set, message] of failing) {
      expect(() => template(set), set.join(' ')).toThrow(message);
    }
  });
});
