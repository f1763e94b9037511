// helm/volly-signaling: TLS at the proxy (proxy.tls) and the chart's NOTES.txt,
// rendered with a real helm and validated by kubeconform like helm.test.ts.

import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { loadConfig } from '../../proxy/src/config.ts';
import { LIVEKIT_VERSION } from '../harness/livekit-binary.ts';
import { createTestPki } from '../harness/tls.ts';
import { GO_TOOL_TIMEOUT_MS } from '../harness/tools.ts';
import {
  CHART,
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
  podSpec,
  RELEASE,
  ROOT,
  template,
} from './lib/helm.ts';
import { TLS_SCENARIO } from './lib/helm-scenarios.ts';

beforeAll(initHelmTools, GO_TOOL_TIMEOUT_MS + 10 * 60_000);

describe('TLS at the proxy (proxy.tls)', () => {
  it('off by default: no certificate volume, no VOLLY_TLS_* variable', () => {
    const objs = docs(template([]));
    expect(podSpec(objs).volumes.map((v: Obj) => v.name)).not.toContain('proxy-tls');
    expect(Object.keys(envOf(container(objs, 'proxy'))).filter((k) => k.startsWith('VOLLY_TLS_'))).toEqual([]);
  });

  it('mounts the Secret read-only as a directory (no subPath, so renewals arrive) and the proxy loads the pair from it', () => {
    const objs = docs(template(TLS_SCENARIO.set));
    const proxy = container(objs, 'proxy');
    const volume = podSpec(objs).volumes.find((v: Obj) => v.name === 'proxy-tls');
    expect(volume).toEqual({ name: 'proxy-tls', secret: { secretName: 'volly-tls', defaultMode: 0o440 } });
    const mount = proxy.volumeMounts.find((m: Obj) => m.name === 'proxy-tls');
    expect(mount).toEqual({ name: 'proxy-tls', mountPath: '/etc/volly/tls', readOnly: true });
    // The LiveKit container does not see the key.
    expect(container(objs, 'livekit').volumeMounts.map((m: Obj) => m.name)).not.toContain('proxy-tls');

    // The kubelet's view of a kubernetes.io/tls Secret: files tls.crt and tls.key under the mount path.
    const pki = createTestPki();
    const mounted = mkdtempSync(join(tmpdir(), 'volly-tls-mount-'));
    try {
      writeFileSync(join(mounted, 'tls.crt'), pki.server.certPem);
      writeFileSync(join(mounted, 'tls.key'), pki.server.keyPem);
      const secret = find(objs, 'Secret', `${FULLNAME}-keys`);
      const env: Record<string, string> = {};
      for (const e of proxy.env as Obj[]) {
        const ref = e.valueFrom?.secretKeyRef;
        const value: string = ref ? Buffer.from(secret.data[ref.key], 'base64').toString('utf8') : e.value;
        env[e.name] = value.startsWith(`${mount.mountPath}/`) ? join(mounted, value.slice(mount.mountPath.length + 1)) : value;
      }
      expect(env.VOLLY_TLS_CERT).toBe(join(mounted, 'tls.crt'));
      expect(env.VOLLY_TLS_KEY).toBe(join(mounted, 'tls.key'));
      const config = loadConfig(env);
      expect(config.tls).toMatchObject({ minVersion: 'TLSv1.3', groups: 'X25519MLKEM768/X25519:P-256' });
    } finally {
      rmSync(mounted, { recursive: true, force: true });
    }
  });

  it("docs/deploy.md's Ingress for TLS at the ingress is valid and reaches the chart's signal port", () => {
    const doc = readFileSync(join(ROOT, 'docs', 'deploy.md'), 'utf8');
    const ingress = [...doc.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1] as string).find((y) => /^kind: Ingress$/m.test(y));
    expect(ingress).toBeDefined();
    for (const kv of KUBE_VERSIONS) {
      const { status, resources, raw } = kubeconformCheck(ingress as string, kv);
      expect(
        resources.map((r) => `${r.kind}: ${r.status}`),
        raw,
      ).toEqual(['Ingress: statusValid']);
      expect(status).toBe(0);
    }
    const backend = (parseYaml(ingress as string) as Obj).spec.rules[0].http.paths[0].backend.service;
    // The docs install the release as "volly"; the tests render it as RELEASE.
    expect(backend.name).toBe(FULLNAME.replace(`${RELEASE}-`, 'volly-'));
    const service = find(docs(template([])), 'Service', FULLNAME);
    expect(service.spec.ports.map((p: Obj) => p.name)).toContain(backend.port.name);
  });

  it('the default groups put X25519MLKEM768 first', () => {
    const env = envOf(container(docs(template(['proxy.tls.enabled=true', 'proxy.tls.secretName=volly-tls'])), 'proxy'));
    expect(env.VOLLY_TLS_GROUPS?.value).toBe('X25519MLKEM768:X25519:P-256:P-384');
    expect(env.VOLLY_TLS_MIN_VERSION?.value).toBe('TLSv1.2');
  });
});

describe('NOTES.txt', () => {
  let copy: string;
  beforeAll(() => {
    // helm renders NOTES.txt only on install; render it here through a copy of
    // the chart where it is an ordinary named template.
    copy = mkdtempSync(join(tmpdir(), 'volly-chart-'));
    cpSync(CHART, copy, { recursive: true });
    const notes = readFileSync(join(copy, 'templates', 'NOTES.txt'), 'utf8');
    rmSync(join(copy, 'templates', 'NOTES.txt'));
    writeFileSync(join(copy, 'templates', '_notes_under_test.tpl'), `{{- define "notes-under-test" -}}\n${notes}{{- end -}}\n`);
    writeFileSync(join(copy, 'templates', 'notes-under-test.yaml'), 'notes: |\n  {{- include "notes-under-test" . | nindent 2 }}\n');
  });
  afterAll(() => {
    if (copy) rmSync(copy, { recursive: true, force: true });
  });

  function notes(set: string[]): string {
    const out = template([...set], copy);
    const doc = docs(out).find((d) => typeof d.notes === 'string');
    if (!doc) throw new Error('NOTES not rendered');
    return doc.notes as string;
  }

  it('tells where clients connect, what is exposed and how to read generated keys', () => {
    const text = notes([]);
    expect(text).toContain(`ws://${FULLNAME}.${NAMESPACE}.svc:7880`);
    expect(text).toContain(`LiveKit ${LIVEKIT_VERSION}`);
    expect(text).toContain('7882/UDP');
    expect(text).toContain('not exposed');
    expect(text).toContain(`${FULLNAME}-keys`);
    expect(text).toContain('media is not');
    const withSecret = notes(['keys.existingSecret=my-keys', 'service.type=LoadBalancer']);
    expect(withSecret).toContain('existing Secret my-keys');
    expect(withSecret).not.toContain('media is not');
    const withTls = notes(TLS_SCENARIO.set);
    expect(withTls).toContain(`wss://${FULLNAME}.${NAMESPACE}.svc:7880`);
    expect(withTls).toContain('Secret volly-tls');
    expect(text).toContain('volly-pq.v2 is off');
    const withV2 = notes(['proxy.serverKeys.secretName=sk', 'proxy.serverKeys.files={v2-b.json,v2-a.json}', 'redis.enabled=true', 'replicaCount=2']);
    expect(withV2).toContain('Secret sk (v2-b.json, v2-a.json; the first KEM key is current)');
    expect(withV2).toContain(`Replay register: Redis redis://${FULLNAME}-redis:6379.`);
  });
});
