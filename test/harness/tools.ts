/**
 * Builds and caches the command-line tools the deploy tests need (helm,
 * kubeconform), and locates Go modules in the module cache.
 *
 * Everything comes from the Go module proxy through the ordinary `go` client,
 * so a machine with Go and nothing else can run the tests:
 *
 *   GOBIN=<tmp> go install -ldflags=... helm.sh/helm/v3/cmd/helm@v3.22.0
 *
 * Binaries are cached as `<cache>/<name>-<version>` so a version bump
 * rebuilds, and are moved into place with an atomic rename so two runs that
 * race end with one whole binary.
 *
 * Cache directory: the one livekit.ts builds livekit-server into,
 * `$VOLLY_CACHE_DIR` if set, else `~/.cache/volly/bin`.
 *
 * The deploy tests call ensureHelm()/ensureKubeconform() in beforeAll, so CI
 * needs nothing but Go; `node test/harness/tools.ts ensure` builds them ahead.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { access, constants, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { promisify } from 'node:util';
import { findGo, toolCacheDir } from './livekit-binary.ts';

const run = promisify(execFile);

/** The tool versions the deploy tests build. */
export const HELM_MODULE = 'helm.sh/helm/v3/cmd/helm@v3.22.0';
export const KUBECONFORM_MODULE = 'github.com/yannh/kubeconform/cmd/kubeconform@v0.8.0';

/** Long enough for a cold `go install` of helm (about 2 minutes on 2 cores). */
export const GO_TOOL_TIMEOUT_MS = 15 * 60_000;

/** `$VOLLY_CACHE_DIR` or `~/.cache/volly/bin` (shared with livekit.ts). */
export function toolsBinDir(): string {
  return toolCacheDir();
}

function splitModule(moduleAtVersion: string): { module: string; version: string } {
  const at = moduleAtVersion.lastIndexOf('@');
  if (at <= 0 || at === moduleAtVersion.length - 1) {
    throw new Error(`expected module@version, got ${JSON.stringify(moduleAtVersion)}`);
  }
  return { module: moduleAtVersion.slice(0, at), version: moduleAtVersion.slice(at + 1) };
}

async function isExecutable(path: string): Promise<boolean> {
  try {
    await access(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

function goEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
  return { ...process.env, CGO_ENABLED: '0', GOFLAGS: '-buildvcs=false -trimpath', ...extra };
}

export interface GoToolOptions {
  /** `-ldflags` for `go install`, e.g. to stamp the version a Makefile would. */
  ldflags?: string;
}

/**
 * Returns the absolute path of `name` built from `moduleAtVersion`
 * (e.g. `ensureGoTool('helm', 'helm.sh/helm/v3/cmd/helm@v3.22.0')`),
 * running `go install` into the cache the first time.
 */
export async function ensureGoTool(name: string, moduleAtVersion: string, opts: GoToolOptions = {}): Promise<string> {
  const { version } = splitModule(moduleAtVersion);
  const binDir = toolsBinDir();
  // Other ldflags make another binary: give it another name.
  const flavour = opts.ldflags ? `-${createHash('sha256').update(opts.ldflags).digest('hex').slice(0, 8)}` : '';
  const target = join(binDir, `${name}-${version}${flavour}`);
  if (await isExecutable(target)) return target;

  await mkdir(binDir, { recursive: true });
  const gobin = await mkdtemp(join(binDir, `.build-${name}-`));
  try {
    const args = ['install', ...(opts.ldflags ? [`-ldflags=${opts.ldflags}`] : []), moduleAtVersion];
    await run(findGo(), args, {
      env: goEnv({ GOBIN: gobin }),
      maxBuffer: 64 * 1024 * 1024,
      timeout: GO_TOOL_TIMEOUT_MS,
    });
    await rename(join(gobin, name), target);
  } catch (err) {
    throw new Error(`go install ${moduleAtVersion} failed: ${describe(err)}`);
  } finally {
    await rm(gobin, { recursive: true, force: true });
  }
  return target;
}

/**
 * The Kubernetes version helm v3.22.0 assumes without a cluster, as its
 * Makefile stamps it (client-go v0.37 -> 1.37). Without it a `go install`ed
 * helm assumes 1.20.
 */
export const HELM_DEFAULT_KUBE_MINOR = '37';

/** helm, stamped with its version and default Kubernetes version as its Makefile does. */
export function ensureHelm(): Promise<string> {
  const { version } = splitModule(HELM_MODULE);
  const ldflags = [
    '-s -w',
    `-X helm.sh/helm/v3/internal/version.version=${version}`,
    '-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMajor=1',
    `-X helm.sh/helm/v3/pkg/chartutil.k8sVersionMinor=${HELM_DEFAULT_KUBE_MINOR}`,
    '-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMajor=1',
    `-X helm.sh/helm/v3/pkg/lint/rules.k8sVersionMinor=${HELM_DEFAULT_KUBE_MINOR}`,
  ].join(' ');
  return ensureGoTool('helm', HELM_MODULE, { ldflags });
}

export function ensureKubeconform(): Promise<string> {
  return ensureGoTool('kubeconform', KUBECONFORM_MODULE, { ldflags: '-s -w' });
}

/**
 * Downloads a Go module into the module cache (`go mod download`) and returns
 * the directory holding its files, read-only. For data a Go module itself
 * ships and uses, e.g. compose-go's `schema/compose-spec.json`.
 */
export async function goModuleDir(moduleAtVersion: string): Promise<string> {
  splitModule(moduleAtVersion);
  try {
    const { stdout } = await run(findGo(), ['mod', 'download', '-json', moduleAtVersion], {
      // Outside any module, so the go.mod of wherever we run is not consulted.
      cwd: tmpdir(),
      env: goEnv({ GO111MODULE: 'on' }),
      maxBuffer: 16 * 1024 * 1024,
      timeout: GO_TOOL_TIMEOUT_MS,
    });
    const info = JSON.parse(stdout) as { Dir?: string; Error?: string };
    if (info.Error !== undefined || info.Dir === undefined) {
      throw new Error(info.Error ?? 'no Dir in go mod download output');
    }
    return info.Dir;
  } catch (err) {
    throw new Error(`go mod download ${moduleAtVersion} failed: ${describe(err)}`);
  }
}

function describe(err: unknown): string {
  if (err instanceof Error) {
    const withStreams = err as Error & { stderr?: string };
    return withStreams.stderr ? `${err.message}\n${withStreams.stderr}` : err.message;
  }
  return String(err);
}

// CLI for .ci/run (Node 24 runs this file directly):
//   node test/harness/tools.ts ensure   -> builds helm and kubeconform if missing, prints their paths
if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  const cmd = process.argv[2] ?? 'ensure';
  if (cmd !== 'ensure') {
    process.stderr.write(`usage: node test/harness/tools.ts ensure\n`);
    process.exit(2);
  }
  process.stdout.write(`${await ensureHelm()}\n${await ensureKubeconform()}\n`);
}
