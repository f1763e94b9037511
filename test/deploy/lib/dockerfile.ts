// Reads proxy/Dockerfile and .dockerignore the way `docker build` does, far
// enough to check them and to replay the build without a Docker engine:
// each stage becomes a directory standing for its /app, COPY copies (from the
// filtered context or an earlier stage), RUN runs in that directory.
// Only what proxy/Dockerfile uses is supported; anything else throws, so the
// replay can never silently skip a step.

import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import { basename, dirname, join, relative } from 'node:path';

export interface Instruction {
  /** Upper-cased keyword: FROM, RUN, COPY, ... */
  cmd: string;
  /** The rest of the (continued) line. */
  rest: string;
  line: number;
}

export interface Stage {
  name: string;
  base: string;
  instructions: Instruction[];
}

export interface Dockerfile {
  args: Record<string, string>;
  stages: Stage[];
}

/** Joins continuation lines, drops comments and blank lines. */
export function parseDockerfile(text: string): Dockerfile {
  const instructions: Instruction[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    let line = lines[i] ?? '';
    const start = i + 1;
    if (/^\s*(#|$)/.test(line)) continue;
    while (/\\\s*$/.test(line) && i + 1 < lines.length) {
      line = `${line.replace(/\\\s*$/, '')} `;
      i++;
      const next = lines[i] ?? '';
      if (/^\s*#/.test(next)) continue;
      line += next.trim();
    }
    const m = /^\s*([A-Za-z]+)\s+(.*)$/.exec(line);
    if (!m) throw new Error(`Dockerfile line ${start}: cannot parse ${line}`);
    instructions.push({ cmd: (m[1] ?? '').toUpperCase(), rest: (m[2] ?? '').trim(), line: start });
  }

  const args: Record<string, string> = {};
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.cmd === 'ARG' && stages.length === 0) {
      const [k = '', v = ''] = ins.rest.split('=');
      args[k] = v;
    } else if (ins.cmd === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.rest);
      if (!m) throw new Error(`Dockerfile line ${ins.line}: FROM ${ins.rest}`);
      const base = (m[1] ?? '').replace(/\$\{(\w+)\}|\$(\w+)/g, (_a, x, y) => args[x ?? y] ?? '');
      stages.push({ name: m[2] ?? String(stages.length), base, instructions: [] });
    } else {
      const stage = stages.at(-1);
      if (!stage) throw new Error(`Dockerfile line ${ins.line}: ${ins.cmd} before FROM`);
      stage.instructions.push(ins);
    }
  }
  return { args, stages };
}

export function stageInstructions(stage: Stage, cmd: string): Instruction[] {
  return stage.instructions.filter((i) => i.cmd === cmd);
}

/** `KEY=value KEY2=value2` (no quoting needed in proxy/Dockerfile). */
export function parseEnv(rest: string, base: Record<string, string> = {}): Record<string, string> {
  const out: Record<string, string> = {};
  for (const tok of rest.split(/\s+/).filter(Boolean)) {
    const eq = tok.indexOf('=');
    if (eq <= 0) throw new Error(`ENV ${rest}: only KEY=value pairs are supported`);
    out[tok.slice(0, eq)] = tok.slice(eq + 1).replace(/\$\{(\w+)\}|\$(\w+)/g, (_a, x, y) => base[x ?? y] ?? '');
  }
  return out;
}

/** Exec form (`["a", "b"]`) of CMD/ENTRYPOINT/HEALTHCHECK CMD. */
export function execForm(rest: string): string[] {
  const v = JSON.parse(rest) as unknown;
  if (!Array.isArray(v) || !v.every((x) => typeof x === 'string')) throw new Error(`not an exec form: ${rest}`);
  return v;
}

// ---------------------------------------------------------------- .dockerignore

interface IgnoreRule {
  negate: boolean;
  pattern: string;
  re: RegExp;
}

export interface DockerIgnore {
  /** Whether the context leaves out this file (path relative to the context, `/`-separated). */
  (path: string): boolean;
  /** Whether anything below an ignored directory could still be re-included by a `!` rule. */
  mayReinclude(dir: string): boolean;
}

function globToRegExp(glob: string): RegExp {
  let re = '';
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string;
    if (c === '*' && glob[i + 1] === '*') {
      re += '.*';
      i++;
      if (glob[i + 1] === '/') i++;
    } else if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else re += c.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

/** A matcher with Docker's rules: patterns in order, the last match wins, `!` re-includes, a match on a parent directory counts. */
export function dockerignore(text: string): DockerIgnore {
  const rules: IgnoreRule[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const negate = line.startsWith('!');
    const pattern = (negate ? line.slice(1) : line).replace(/^\/+/, '').replace(/\/+$/, '');
    rules.push({ negate, pattern, re: globToRegExp(pattern) });
  }
  const matcher = (path: string): boolean => {
    const parts = path.split('/');
    let ignored = false;
    for (const rule of rules) {
      for (let n = 1; n <= parts.length; n++) {
        if (rule.re.test(parts.slice(0, n).join('/'))) {
          ignored = !rule.negate;
          break;
        }
      }
    }
    return ignored;
  };
  return Object.assign(matcher, {
    mayReinclude: (dir: string): boolean => rules.some((r) => r.negate && (r.pattern.startsWith(`${dir}/`) || /[*?]/.test(r.pattern))),
  });
}

/** Copies the build context (root minus what .dockerignore excludes) to `out`; returns the relative paths sent. */
export function copyContext(root: string, ignored: DockerIgnore, out: string): string[] {
  const sent: string[] = [];
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const abs = join(dir, entry.name);
      const rel = relative(root, abs);
      if (entry.isDirectory()) {
        // Docker walks into an ignored directory only if an exception may apply inside.
        if (ignored(rel) && !ignored.mayReinclude(rel)) continue;
        walk(abs);
      } else if (!ignored(rel)) {
        mkdirSync(join(out, dirname(rel)), { recursive: true });
        cpSync(abs, join(out, rel), { verbatimSymlinks: true });
        sent.push(rel);
      }
    }
  };
  walk(root);
  return sent;
}

// ---------------------------------------------------------------- replay

export interface ReplayOptions {
  /** The filtered build context (copyContext). */
  context: string;
  /** Where each stage's /app is made: `<work>/<stage>`. */
  work: string;
  /** Environment for RUN steps (the stage's ENV is added). */
  env: NodeJS.ProcessEnv;
  log?: (line: string) => void;
}

/**
 * Replays every stage: WORKDIR must be /app; COPY [--from=stage] [--chown=...]
 * src... dest; RUN through /bin/sh -c in the stage directory. Returns the
 * directory of each stage and the final stage's ENV.
 */
export function replayBuild(df: Dockerfile, opts: ReplayOptions): { dirs: Record<string, string>; env: Record<string, string> } {
  const dirs: Record<string, string> = {};
  let env: Record<string, string> = {};
  for (const stage of df.stages) {
    const dir = join(opts.work, stage.name);
    mkdirSync(dir, { recursive: true });
    dirs[stage.name] = dir;
    env = {};
    const toStagePath = (p: string, stageDir: string): string => {
      if (!p.startsWith('/')) return join(stageDir, p);
      if (p === '/app' || p.startsWith('/app/')) return join(stageDir, p.slice('/app'.length));
      throw new Error(`${stage.name}: path ${p} is outside /app`);
    };
    for (const ins of stage.instructions) {
      switch (ins.cmd) {
        case 'WORKDIR':
          if (ins.rest !== '/app') throw new Error(`replay supports WORKDIR /app only, not ${ins.rest}`);
          break;
        case 'ENV':
          env = { ...env, ...parseEnv(ins.rest, { PATH: opts.env.PATH ?? '', ...env }) };
          break;
        case 'COPY': {
          const words = ins.rest.split(/\s+/);
          let from: string | undefined;
          while (words[0]?.startsWith('--')) {
            const flag = words.shift() as string;
            if (flag.startsWith('--from=')) from = flag.slice('--from='.length);
            else if (!flag.startsWith('--chown=')) throw new Error(`COPY flag ${flag} not supported`);
          }
          const dest = words.pop();
          if (!dest || words.length === 0) throw new Error(`line ${ins.line}: COPY needs a source and a destination`);
          const srcRoot = from === undefined ? opts.context : dirs[from];
          if (srcRoot === undefined) throw new Error(`line ${ins.line}: no stage ${from}`);
          const destPath = toStagePath(dest, dir);
          for (const src of words) {
            const srcPath = from === undefined ? join(srcRoot, src) : toStagePath(src, srcRoot);
            if (!existsSync(srcPath)) throw new Error(`line ${ins.line}: COPY source ${src} is not in ${from ?? 'the context'}`);
            if (statSync(srcPath).isDirectory()) {
              // Like docker: a directory's contents go into the destination.
              mkdirSync(destPath, { recursive: true });
              cpSync(srcPath, destPath, { recursive: true, verbatimSymlinks: true });
            } else {
              const file = dest.endsWith('/') ? join(destPath, basename(srcPath)) : destPath;
              mkdirSync(dirname(file), { recursive: true });
              cpSync(srcPath, file);
            }
          }
          break;
        }
        case 'RUN':
          opts.log?.(`[${stage.name}] RUN ${ins.rest}`);
          execFileSync('/bin/sh', ['-c', ins.rest], {
            cwd: dir,
            env: { ...opts.env, ...env },
            stdio: ['ignore', 'pipe', 'pipe'],
            maxBuffer: 64 * 1024 * 1024,
          });
          break;
        case 'ARG':
        case 'LABEL':
        case 'USER':
        case 'EXPOSE':
        case 'HEALTHCHECK':
        case 'ENTRYPOINT':
        case 'CMD':
          break;
        default:
          throw new Error(`replay does not support ${ins.cmd} (line ${ins.line})`);
      }
    }
  }
  return { dirs, env };
}
