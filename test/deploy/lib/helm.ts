// Shared by the Helm tests: the chart rendered with a real helm, the objects
// read back, and kubeconform's verdict on them (see helm.test.ts).

import { spawnSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { ensureHelm, ensureKubeconform } from '../../harness/tools.ts';
import { ensureKubernetesSchemas, schemaLocation } from './k8s-schemas.ts';
import { mapMounts } from './keys.ts';

export const ROOT = resolve(import.meta.dirname, '../../..');
export const CHART = join(ROOT, 'helm', 'volly-signaling');
/** The chart's kubeVersion floor and the newest Kubernetes kubernetes-validate 1.37.0 describes. */
export const KUBE_VERSIONS = ['1.26.0', '1.37.0'] as const;
export const RELEASE = 'rel';
export const NAMESPACE = 'media';
export const FULLNAME = `${RELEASE}-volly-signaling`;
export const LIVEKIT_PORT = 7780;
/** Kinds without a built-in schema, skipped by name (CRDs). */
export const CRD_KINDS = ['ServiceMonitor'];

export interface Scenario {
  name: string;
  set: string[];
}

export // biome-ignore lint/suspicious/noExplicitAny: rendered YAML manifests are untyped documents read field by field
type Obj = Record<string, any>;

let helm = '';
let kubeconform = '';

/** Builds or finds helm and kubeconform, and the schemas; call from beforeAll. */
export async function initHelmTools(): Promise<void> {
  [helm, kubeconform] = await Promise.all([ensureHelm(), ensureKubeconform()]);
  await ensureKubernetesSchemas(KUBE_VERSIONS);
}

export function runHelm(args: string[]): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(helm, args, { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function template(set: string[], chart = CHART): string {
  const args = ['template', RELEASE, chart, '--namespace', NAMESPACE, '--kube-version', KUBE_VERSIONS[1]];
  for (const s of set) args.push('--set', s);
  const r = runHelm(args);
  if (r.status !== 0) throw new Error(`helm ${args.join(' ')} failed:\n${r.stderr}`);
  return r.stdout;
}

export function docs(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((d): d is Obj => d !== null);
}

export function find(objs: Obj[], kind: string, name: string): Obj {
  const o = objs.find((d) => d.kind === kind && d.metadata?.name === name);
  if (!o) throw new Error(`no ${kind}/${name} in ${objs.map((d) => `${d.kind}/${d.metadata?.name}`).join(', ')}`);
  return o;
}

export interface KubeconformResource {
  kind: string;
  name: string;
  version: string;
  status: string;
  msg: string;
}

export function kubeconformCheck(manifests: string, kubeVersion: string): { status: number; resources: KubeconformResource[]; raw: string } {
  const r = spawnSync(
    kubeconform,
    [
      '-strict',
      '-summary',
      '-output',
      'json',
      '-verbose',
      '-kubernetes-version',
      kubeVersion,
      '-schema-location',
      schemaLocation(),
      '-skip',
      CRD_KINDS.join(','),
    ],
    { input: manifests, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024, timeout: 120_000 },
  );
  const report = JSON.parse(r.stdout) as { resources?: KubeconformResource[] };
  return { status: r.status ?? -1, resources: report.resources ?? [], raw: r.stdout + r.stderr };
}

export function envOf(container: Obj): Record<string, Obj> {
  return Object.fromEntries((container.env ?? []).map((e: Obj) => [e.name, e]));
}

export function podSpec(objs: Obj[]): Obj {
  return find(objs, 'Deployment', FULLNAME).spec.template.spec;
}

export function container(objs: Obj[], name: string): Obj {
  const c = podSpec(objs).containers.find((x: Obj) => x.name === name);
  if (!c) throw new Error(`no container ${name}`);
  return c;
}

export function livekitYaml(objs: Obj[]): Obj {
  return parseYaml(find(objs, 'ConfigMap', `${FULLNAME}-livekit`).data['livekit.yaml']) as Obj;
}

/**
 * The proxy container's environment as the kubelet gives it: secretKeyRef
 * values read from `secrets` (rendered Secrets, by name), and paths under a
 * mount replaced by `mounts[mountPath]` (a local directory standing for the volume).
 */
export function podEnv(objs: Obj[], opts: { secrets?: Obj[]; mounts?: Record<string, string> } = {}): Record<string, string> {
  const secrets = [...objs.filter((o) => o.kind === 'Secret'), ...(opts.secrets ?? [])];
  const env: Record<string, string> = {};
  for (const e of container(objs, 'proxy').env as Obj[]) {
    const ref = e.valueFrom?.secretKeyRef;
    const secret = ref ? secrets.find((s) => s.metadata.name === ref.name) : undefined;
    if (ref && !secret) throw new Error(`${e.name}: no Secret ${ref.name}`);
    env[e.name] = ref ? Buffer.from(secret?.data[ref.key], 'base64').toString('utf8') : e.value;
  }
  return mapMounts(env, opts.mounts ?? {});
}
