/**
 * Kubernetes JSON schemas for kubeconform, with no network but the package
 * registries.
 *
 * kubeconform downloads its schemas from GitHub by default, which is not
 * reachable here. The PyPI package `kubernetes-validate` ships the Kubernetes
 * OpenAPI definitions converted to JSON Schema (draft 2020-12), strict
 * variants included (additionalProperties: false), one file per kind named as
 * kubeconform names them (`deployment-apps-v1.json`). We download its wheel
 * with pip, check its sha256, and unpack the `v<version>-local-strict`
 * directories into the cache.
 *
 * Those files point at their shared definitions with an absolute `$ref`
 * (`/api/_definitions.json#/$defs/...`) under an `$id` on kubernetes.io, which
 * kubeconform would try to fetch. We drop the `$id`s and make the refs
 * relative (`_definitions.json#/$defs/...`) so they resolve to the sibling
 * file on disk. Nothing else in a schema is changed.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, mkdir, mkdtemp, readdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { toolsBinDir } from '../../harness/tools.ts';

const run = promisify(execFile);

export const KUBERNETES_VALIDATE = {
  name: 'kubernetes-validate',
  version: '1.37.0',
  wheel: 'kubernetes_validate-1.37.0-py3-none-any.whl',
  sha256: '85136d018a27b50ec7fc049d902bfa5193f5976807e6c0f408e3ab6fe078cad9',
} as const;

const ABSOLUTE_DEFS_REF = '"/api/_definitions.json#';
const RELATIVE_DEFS_REF = '"_definitions.json#';

export function schemasRoot(): string {
  return join(toolsBinDir(), 'k8s-schemas', `${KUBERNETES_VALIDATE.name}-${KUBERNETES_VALIDATE.version}`);
}

/**
 * kubeconform `-schema-location` for the directories ensureKubernetesSchemas
 * prepares (pair it with `-strict` and `-kubernetes-version X.Y.Z`).
 */
export function schemaLocation(): string {
  return `${schemasRoot()}/{{ .NormalizedKubernetesVersion }}-local{{ .StrictSuffix }}/{{ .ResourceKind }}{{ .KindSuffix }}.json`;
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}

async function ensureWheel(root: string): Promise<string> {
  const wheel = join(root, KUBERNETES_VALIDATE.wheel);
  if (await exists(wheel)) return wheel;
  await mkdir(root, { recursive: true });
  const tmp = await mkdtemp(join(root, '.download-'));
  try {
    await run(
      'python3',
      [
        '-m',
        'pip',
        'download',
        '--no-deps',
        '--only-binary=:all:',
        '--disable-pip-version-check',
        '--dest',
        tmp,
        `${KUBERNETES_VALIDATE.name}==${KUBERNETES_VALIDATE.version}`,
      ],
      { maxBuffer: 16 * 1024 * 1024, timeout: 10 * 60_000 },
    );
    const downloaded = join(tmp, KUBERNETES_VALIDATE.wheel);
    const digest = createHash('sha256')
      .update(await readFile(downloaded))
      .digest('hex');
    if (digest !== KUBERNETES_VALIDATE.sha256) {
      throw new Error(`${KUBERNETES_VALIDATE.wheel}: sha256 ${digest}, expected ${KUBERNETES_VALIDATE.sha256}`);
    }
    await rename(downloaded, wheel);
    return wheel;
  } finally {
    await rm(tmp, { recursive: true, force: true });
  }
}

const UNZIP_PY = `
import sys, zipfile, os
wheel, prefix, out = sys.argv[1], sys.argv[2], sys.argv[3]
n = 0
with zipfile.ZipFile(wheel) as z:
    for info in z.infolist():
        if info.filename.startswith(prefix) and not info.is_dir():
            name = info.filename[len(prefix):]
            if '/' in name or name in ('', '.', '..'):
                continue
            with open(os.path.join(out, name), 'wb') as f:
                f.write(z.read(info))
            n += 1
print(n)
`;

/**
 * Makes sure `<schemasRoot>/v<version>-local-strict/` exists for each
 * Kubernetes version (e.g. '1.26.0'), and returns schemasRoot().
 */
export async function ensureKubernetesSchemas(versions: readonly string[]): Promise<string> {
  const root = schemasRoot();
  for (const version of versions) {
    const dirName = `v${version}-local-strict`;
    const dir = join(root, dirName);
    if (await exists(join(dir, '.complete'))) continue;

    const wheel = await ensureWheel(root);
    const tmp = await mkdtemp(join(root, `.${dirName}-`));
    try {
      const prefix = `kubernetes_validate/kubernetes-json-schema/${dirName}/`;
      const { stdout } = await run('python3', ['-c', UNZIP_PY, wheel, prefix, tmp], {
        maxBuffer: 1024 * 1024,
      });
      if (Number(stdout.trim()) < 100) {
        throw new Error(`${KUBERNETES_VALIDATE.wheel} has no schemas for Kubernetes ${version} (${prefix})`);
      }
      for (const file of await readdir(tmp)) {
        if (!file.endsWith('.json')) continue;
        const path = join(tmp, file);
        const text = (await readFile(path, 'utf8')).replaceAll(ABSOLUTE_DEFS_REF, RELATIVE_DEFS_REF);
        const schema = JSON.parse(text) as Record<string, unknown>;
        delete schema.$id;
        const out = JSON.stringify(schema);
        if (/"\$ref":"(?!#|_definitions\.json#)/.test(out)) {
          throw new Error(`${dirName}/${file}: a $ref that is neither local nor to _definitions.json`);
        }
        await writeFile(path, out);
      }
      await writeFile(join(tmp, '.complete'), `${KUBERNETES_VALIDATE.wheel}\n`);
      await rm(dir, { recursive: true, force: true });
      await rename(tmp, dir);
    } catch (err) {
      await rm(tmp, { recursive: true, force: true });
      throw err;
    }
  }
  return root;
}
