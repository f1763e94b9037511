// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. the proxies of
// `npm run bench -- --profile`): the functions with the most self time and
// the most inclusive time, and time per package (node_modules/<pkg>,
// node:internal, the proxy's and shared's own files).
//
//   node test/scripts/profile.ts FILE.cpuprofile [--top=25]

import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}
export interface Profile {
  startTime: number;
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface ProfileSummary {
  totalMs: number;
  self: Array<{ name: string; ms: number; share: number }>;
  inclusive: Array<{ name: string; ms: number; share: number }>;
  packages: Array<{ name: string; ms: number; share: number }>;
}

function shortUrl(url: string): string {
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) return url.slice(nm + 'node_modules/'.length);
  const m = /\/(proxy|shared)\/(dist|src)\/(.*)$/.exec(url);
  if (m) return `${m[1]}/${m[3]}`;
  return url.replace(/^file:\/\//, '');
}

function packageOf(url: string): string {
  if (!url) return '(native / V8)';
  if (url.startsWith('node:')) return 'node: builtins';
  const nm = url.lastIndexOf('node_modules/');
  if (nm >= 0) {
    const rest = url.slice(nm + 'node_modules/'.length).split('/');
    return rest[0]?.startsWith('@') ? `${rest[0]}/${rest[1]}` : (rest[0] ?? url);
  }
  const m = /\/(proxy|shared)\/(dist|src)\//.exec(url);
  if (m) return `@volly/${m[1]} (own code)`;
  return url;
}

/**
 * `window`: only samples taken within [from, to] (µs on CLOCK_MONOTONIC, the
 * clock of V8's profile timestamps and of process.hrtime), e.g. to leave a
 * process's start-up out.
 */
export function summarize(p: Profile, top = 25, window?: { from: number; to: number }): ProfileSummary {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const key = (n: ProfileNode) => {
    const f = n.callFrame;
    return `${f.functionName || '(anonymous)'} ${f.url ? `${shortUrl(f.url)}:${f.lineNumber + 1}` : ''}`.trim();
  };
  const self = new Map<string, number>();
  const incl = new Map<string, number>();
  const pkgs = new Map<string, number>();
  let total = 0;
  let at = p.startTime;
  p.samples.forEach((id, i) => {
    at += p.timeDeltas[i] ?? 0;
    if (window && (at < window.from || at > window.to)) return;
    const dt = (p.timeDeltas[i] ?? 0) / 1000;
    const n = byId.get(id);
    if (!n) return;
    const name = n.callFrame.functionName;
    if (name === '(idle)' || name === '(program)') return;
    total += dt;
    self.set(key(n), (self.get(key(n)) ?? 0) + dt);
    pkgs.set(
      name === '(garbage collector)' ? '(garbage collector)' : packageOf(n.callFrame.url),
      (pkgs.get(name === '(garbage collector)' ? '(garbage collector)' : packageOf(n.callFrame.url)) ?? 0) + dt,
    );
    const seen = new Set<string>();
    for (let cur: number | undefined = id; cur !== undefined; cur = parent.get(cur)) {
      const node = byId.get(cur);
      if (!node) break;
      const k = key(node);
      if (k === '(root)' || seen.has(k)) continue;
      seen.add(k);
      incl.set(k, (incl.get(k) ?? 0) + dt);
    }
  });
  const rank = (m: Map<string, number>) =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms, share: ms / total }));
  return { totalMs: total, self: rank(self), inclusive: rank(incl), packages: rank(pkgs) };
}

export function formatSummary(s: ProfileSummary): string {
  const rows = (xs: ProfileSummary['self']) => xs.map((x) => `| ${(x.share * 100).toFixed(1)}% | ${x.ms.toFixed(0)} | \`${x.name}\` |`).join('\n');
  const head = '| share | ms | function |\n| --: | --: | :-- |';
  return [
    `Busy time sampled: ${s.totalMs.toFixed(0)} ms`,
    '',
    '**By package (self time)**',
    '',
    head.replace('function', 'package'),
    rows(s.packages),
    '',
    '**Self time**',
    '',
    head,
    rows(s.self),
    '',
    '**Inclusive time**',
    '',
    head,
    rows(s.inclusive),
  ].join('\n');
}

if (process.argv[1] && import.meta.url === `file://${process.argv[1]}`) {
  const { values, positionals } = parseArgs({ allowPositionals: true, options: { top: { type: 'string' } } });
  for (const file of positionals) {
    process.stdout.write(`## ${file}\n\n${formatSummary(summarize(JSON.parse(readFileSync(file, 'utf8')) as Profile, Number(values.top ?? 25)))}\n\n`);
  }
}
