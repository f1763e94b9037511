// proxy/Dockerfile and .dockerignore, without a Docker engine.
//
// 1. Static rules: Node 24 base, multi-stage, production dependencies only in
//    the final stage, no install scripts, non-root user, EXPOSE, HEALTHCHECK,
//    ENTRYPOINT/CMD; the context .dockerignore sends what the build needs and
//    nothing else.
// 2. A replay of the build on this machine: the context filtered by
//    .dockerignore, each stage a directory standing for its /app, every COPY
//    and RUN of the Dockerfile carried out (npm ci against the registry, tsc).
//    The final stage's tree is then started exactly as the image would start
//    it (ENTRYPOINT + CMD found through the image's PATH, as a plain process on
//    loopback ports), in front of a real livekit-server; the image's own
//    HEALTHCHECK command is run against it. The base image itself (Debian +
//    Node 24) is the one thing not exercised.

import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { delimiter, dirname, join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKeyPair, type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { getFreePort, LOOPBACK } from '../harness/ports.ts';
import { type ManagedProcess, makeTempDir, spawnManaged, waitFor } from '../harness/process.ts';
import {
  copyContext,
  type Dockerfile,
  dockerignore,
  execForm,
  parseDockerfile,
  parseEnv,
  replayBuild,
  type Stage,
  stageInstructions,
} from './lib/dockerfile.ts';

const ROOT = resolve(import.meta.dirname, '../..');
const df: Dockerfile = parseDockerfile(readFileSync(join(ROOT, 'proxy', 'Dockerfile'), 'utf8'));
const ignored = dockerignore(readFileSync(join(ROOT, '.dockerignore'), 'utf8'));

function stage(name: string): Stage {
  const s = df.stages.find((x) => x.name === name);
  if (!s) throw new Error(`no stage ${name}`);
  return s;
}

function last(s: Stage, cmd: string): string {
  const ins = stageInstructions(s, cmd).at(-1);
  if (!ins) throw new Error(`stage ${s.name} has no ${cmd}`);
  return ins.rest;
}

const finalStage = (): Stage => df.stages.at(-1) as Stage;

function healthcheckCommand(): string[] {
  const m = /^(?:--\S+\s+)*CMD\s+(\[.*\])$/.exec(last(finalStage(), 'HEALTHCHECK'));
  if (!m?.[1]) throw new Error('HEALTHCHECK is not in exec form');
  return execForm(m[1]);
}

describe('proxy/Dockerfile rules', () => {
  it('builds on Node 24 in stages; the final stage is the runtime', () => {
    expect(df.args.NODE_IMAGE).toMatch(/^node:24-[a-z]+-slim$/);
    expect(df.stages.map((s) => s.name)).toEqual(['build', 'deps', 'final']);
    for (const s of df.stages) expect(s.base).toBe(df.args.NODE_IMAGE);
  });

  it('never runs install scripts; builds with the root build script', () => {
    const runs = df.stages.flatMap((s) => stageInstructions(s, 'RUN').map((r) => r.rest));
    const installs = runs.filter((r) => /\bnpm (ci|install|i)\b/.test(r));
    expect(installs.length).toBe(2);
    for (const r of installs) expect(r).toContain('--ignore-scripts');
    // `npm run` puts node_modules/.bin first on PATH: the root devDependency
    // `node` must not have linked a second Node there.
    expect(stageInstructions(stage('build'), 'RUN').map((r) => r.rest)).toEqual([
      expect.stringContaining('&& test ! -e node_modules/.bin/node'),
      'npm run build',
    ]);
    const rootPkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> };
    expect(rootPkg.scripts.build).toMatch(/^tsc -b shared proxy\b/);
  });

  it('the final stage gets only production dependencies, from the deps stage', () => {
    const deps = last(stage('deps'), 'RUN');
    expect(deps).toMatch(/npm ci --omit=dev/);
    expect(deps).toContain('--workspace=@volly/shared');
    expect(deps).toContain('--workspace=@volly/proxy');
    const copies = stageInstructions(finalStage(), 'COPY').map((c) => c.rest);
    const nodeModules = copies.filter((c) => c.includes('node_modules'));
    expect(nodeModules).toEqual(['--from=deps --chown=root:root /app/node_modules/ node_modules/']);
    // Nothing comes from the context straight into the final stage.
    for (const c of copies) expect(c).toMatch(/^--from=(build|deps) /);
  });

  it('runs as a non-root user, exposes 7880 and 9880, probes /healthz with node, starts `volly-pq proxy`', () => {
    const f = finalStage();
    const user = last(f, 'USER');
    expect(user).not.toMatch(/^(root|0)(:|$)/);
    expect(user).toBe('node');
    expect(last(f, 'EXPOSE').split(/\s+/).sort()).toEqual(['7880', '9880']);
    const hc = healthcheckCommand();
    expect(hc[0]).toBe('node');
    expect(hc.join(' ')).toContain('/healthz');
    expect(execForm(last(f, 'ENTRYPOINT'))).toEqual(['volly-pq']);
    expect(execForm(last(f, 'CMD'))).toEqual(['proxy']);
    const env: Record<string, string> = {};
    for (const e of stageInstructions(f, 'ENV')) Object.assign(env, parseEnv(e.rest, { PATH: '/usr/local/bin', ...env }));
    expect(env.VOLLY_ADMIN_LISTEN).toBe('0.0.0.0:9880');
    expect(env.VOLLY_LISTEN).toBe('0.0.0.0:7880');
    expect(env.NODE_ENV).toBe('production');
    expect(env.PATH?.split(':')[0]).toBe('/app/node_modules/.bin');
  });

  it('.dockerignore sends the sources and manifests, and no installs, builds, tests or deploy files', () => {
    for (const p of [
      'package.json',
      'package-lock.json',
      'tsconfig.base.json',
      'shared/package.json',
      'shared/tsconfig.json',
      'shared/src/index.ts',
      'proxy/package.json',
      'proxy/tsconfig.json',
      'proxy/src/cli.ts',
      'proxy/bin/volly-pq.js',
    ]) {
      expect(ignored(p), p).toBe(false);
    }
    for (const p of [
      'node_modules/typescript/package.json',
      'shared/node_modules/x/index.js',
      'shared/dist/index.js',
      'proxy/dist/cli.js',
      'proxy/tsconfig.tsbuildinfo',
      'shared/test/frame.test.ts',
      'proxy/test/config.test.ts',
      'test/harness/livekit.ts',
      'test/package.json',
      'compose/docker-compose.yml',
      'helm/volly-signaling/values.yaml',
      '.git/HEAD',
      '.ci/run',
      '.env',
      'docs/deploy.md',
    ]) {
      expect(ignored(p), p).toBe(true);
    }
  });
});

describe('proxy/Dockerfile replayed without Docker', () => {
  let work: string;
  let finalDir: string;
  let finalEnv: Record<string, string>;
  let lk: LiveKitServer | undefined;
  let proxy: ManagedProcess | undefined;
  const upstream = generateApiKeyPair();
  const client = generateApiKeyPair();
  let adminPort: number;

  /** The environment the image gives its process, /app mapped onto the replayed tree. */
  function imageEnv(extra: Record<string, string>): NodeJS.ProcessEnv {
    const base: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) {
      if (!/^(npm_|VOLLY_|LIVEKIT_)/.test(k)) base[k] = v;
    }
    const path = (finalEnv.PATH ?? '')
      .split(':')
      .map((p) => (p.startsWith('/app/') ? join(finalDir, p.slice('/app/'.length)) : p))
      .join(delimiter);
    // The image's node is Node 24, as is the one running the tests.
    return { ...base, ...finalEnv, PATH: `${dirname(process.execPath)}${delimiter}${path}`, ...extra };
  }

  beforeAll(async () => {
    work = makeTempDir('docker-replay');
    const context = join(work, 'context');
    const sent = copyContext(ROOT, ignored, context);
    expect(sent).toContain('proxy/bin/volly-pq.js');
    const runEnv: NodeJS.ProcessEnv = {};
    for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('npm_')) runEnv[k] = v;
    runEnv.PATH = `${dirname(process.execPath)}${delimiter}${process.env.PATH ?? ''}`;
    const { dirs, env } = replayBuild(df, { context, work: join(work, 'stages'), env: runEnv });
    finalDir = dirs.final as string;
    finalEnv = env;
  }, 600_000);

  afterAll(async () => {
    await proxy?.stop({ signal: 'SIGTERM', graceMs: 5_000 });
    await lk?.stop();
  });

  it('the final tree holds the compiled proxy and production dependencies only', () => {
    expect(readdirSync(finalDir).sort()).toEqual(['node_modules', 'package-lock.json', 'package.json', 'proxy', 'shared']);
    expect(readdirSync(join(finalDir, 'proxy')).sort()).toEqual(['bin', 'dist', 'package.json']);
    expect(existsSync(join(finalDir, 'proxy', 'dist', 'demo', 'index.html'))).toBe(true);
    expect(readdirSync(join(finalDir, 'shared')).sort()).toEqual(['dist', 'package.json']);
    expect(existsSync(join(finalDir, 'proxy', 'dist', 'cli.js'))).toBe(true);
    expect(existsSync(join(finalDir, 'shared', 'dist', 'index.js'))).toBe(true);
    const nm = join(finalDir, 'node_modules');
    for (const dev of [
      'typescript',
      'vitest',
      '@biomejs',
      'node',
      'esbuild',
      '@bufbuild/buf',
      '@types',
      'fast-check',
      'ajv',
      'livekit-client',
      'playwright-core',
    ]) {
      expect(existsSync(join(nm, dev)), `${dev} must not be in the image`).toBe(false);
    }
    // Workspace packages are links to the compiled trees beside them.
    for (const ws of ['proxy', 'shared']) {
      const link = join(nm, '@volly', ws);
      expect(lstatSync(link).isSymbolicLink()).toBe(true);
      expect(readlinkSync(link)).toBe(`../../${ws}`);
    }
    expect(existsSync(join(nm, '@volly', 'test'))).toBe(false);
    expect(existsSync(join(nm, '.bin', 'volly-pq'))).toBe(true);
  });

  it('starts as ENTRYPOINT + CMD, serves /healthz and /readyz in front of LiveKit, and passes its HEALTHCHECK', async () => {
    lk = await startLiveKit({ apiKey: upstream.apiKey, apiSecret: upstream.apiSecret });
    adminPort = await getFreePort();
    const listenPort = await getFreePort();
    const [entry = '', ...entryArgs] = [...execForm(last(finalStage(), 'ENTRYPOINT')), ...execForm(last(finalStage(), 'CMD'))];
    const env = imageEnv({
      VOLLY_LISTEN: `${LOOPBACK}:${listenPort}`,
      VOLLY_ADMIN_LISTEN: `${LOOPBACK}:${adminPort}`,
      VOLLY_UPSTREAM_URL: lk.url,
      LIVEKIT_KEYS: `${client.apiKey}: ${client.apiSecret}`,
      VOLLY_UPSTREAM_KEY: upstream.apiKey,
      VOLLY_UPSTREAM_SECRET: upstream.apiSecret,
    });
    // Resolve the ENTRYPOINT through the image's PATH, as the runtime would.
    const which = execFileSync('/bin/sh', ['-c', `command -v ${entry}`], { env, encoding: 'utf8' }).trim();
    expect(which).toBe(join(finalDir, 'node_modules', '.bin', 'volly-pq'));
    proxy = spawnManaged({
      name: 'volly-pq (image replay)',
      command: which,
      args: entryArgs,
      logFile: join(work, 'proxy.log'),
      env,
      cwd: finalDir,
    });
    const admin = `http://${LOOPBACK}:${adminPort}`;
    await waitFor('the replayed image to answer /readyz', async () => (await fetch(`${admin}/readyz`, { signal: AbortSignal.timeout(2_000) })).status === 200, {
      timeoutMs: 30_000,
      proc: proxy,
    });
    expect((await fetch(`${admin}/healthz`)).status).toBe(200);

    const [hcCmd = '', ...hcArgs] = healthcheckCommand();
    const check = (adminListen: string | undefined) => {
      const e = imageEnv({});
      if (adminListen === undefined) delete e.VOLLY_ADMIN_LISTEN;
      else e.VOLLY_ADMIN_LISTEN = adminListen;
      return spawnSync(hcCmd, hcArgs, { env: e, timeout: 10_000 }).status;
    };
    expect(check(`${LOOPBACK}:${adminPort}`)).toBe(0);
    // A wildcard listen address is probed on loopback.
    expect(check(`0.0.0.0:${adminPort}`)).toBe(0);
    // Nothing listening: unhealthy.
    expect(check(`${LOOPBACK}:${await getFreePort()}`)).toBe(1);
  });
});
