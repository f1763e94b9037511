// Relay-process CPU per join, one configuration at a time, for chasing
// join_cpu_ratio without the whole benchmark: N sequential sessions (join,
// leave) through the bare Node.js + ws relay (the floor) and through the
// proxy classical, v1 in-band ML-KEM-768, v2 unbound X-Wing and ML-KEM-768,
// interleaved over rounds; prints the median CPU per session of each and its
// ratio to the bare relay. `--only=v2-x-wing,...` picks configurations
// (names as printed, in kebab case). `--cpu-prof=DIR` runs the proxy and the
// bare relay under --cpu-prof (DIR/proxy, DIR/bare) and prints both
// processes' sampled time per session by package, side by side: with one
// proxy configuration (--only), what the proxy spends beyond the floor, and
// where. The profiler slows both processes alike; compare shares and
// differences, not absolute figures, with the unprofiled run.
//
//   npm exec -- node test/scripts/join-cpu.ts [--sessions=200] [--rounds=3] [--cpu-prof=DIR]
//
// `--perf=DIR` records the last round with Linux perf (on-CPU samples only) and
// prints each configuration's CPU per session by what it runs: kernel,
// crypto, JavaScript, V8, Node.js C++, libc (lib/perf.ts).
//
// Loopback only; run it on a quiet machine (it says how busy the rest was).

import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { type BenchSession, openSession } from '../bench/lib/client.ts';
import { openV2Session } from '../bench/lib/client-v2.ts';
import { type Measured, startBenchProxy, startNodeWsRelay } from '../bench/lib/servers.ts';
import { median } from '../bench/lib/stats.ts';
import { mintToken } from '../bench/lib/tokens.ts';
import { startLiveKit } from '../harness/livekit.ts';
import { fetchServerKeys } from '../harness/v2-signal.ts';
import { PERF_CATEGORY_NAMES, PERF_HZ, perfAvailable, perfCategories, perfRecord } from './lib/perf.ts';
import { type Profile, summarize } from './profile.ts';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '200' },
    rounds: { type: 'string', default: '3' },
    'cpu-prof': { type: 'string' },
    only: { type: 'string' },
    top: { type: 'string', default: '0' },
    perf: { type: 'string' },
  },
});
const N = Number(values.sessions);
const ROUNDS = Number(values.rounds);

const livekit = await startLiveKit({ logLevel: 'error' });
const profDir = values['cpu-prof'];
const perfDir = values.perf;
if (perfDir) {
  if (!perfAvailable()) throw new Error('--perf needs Linux perf (Debian: linux-perf)');
  mkdirSync(perfDir, { recursive: true });
}
const profArgs = (sub: string) =>
  profDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${join(profDir, sub)}`] } : perfDir ? { nodeArgs: ['--perf-basic-prof-only-functions'] } : {};
const proxy = await startBenchProxy(livekit, profArgs('proxy'));
const bare = await startNodeWsRelay(livekit, profArgs('bare'));
const keys = await fetchServerKeys(proxy.wsUrl);
const key = (a: string) => {
  const k = keys.find((x) => x.algorithm === a);
  if (!k) throw new Error(`the bench proxy publishes no ${a} key`);
  return k;
};

const closeOf = async (s: BenchSession) => {
  s.close();
  await s.closed;
};
interface Config {
  readonly name: string;
  readonly relay: Measured;
  readonly one: (i: number) => Promise<void>;
}
const configs: Config[] = [
  {
    name: 'bare Node.js + ws relay',
    relay: bare,
    one: async (i) => closeOf(await openSession({ baseUrl: bare.wsUrl, token: await mintToken(livekit, 'cpu-bare', `p${i}`) })),
  },
  {
    name: 'proxy classical',
    relay: proxy,
    one: async (i) => closeOf(await openSession({ baseUrl: proxy.wsUrl, token: await mintToken(proxy, 'cpu-classical', `p${i}`) })),
  },
  {
    name: 'v1 in-band ML-KEM-768',
    relay: proxy,
    one: async (i) =>
      closeOf(
        await openSession({ baseUrl: proxy.wsUrl, token: await mintToken(proxy, 'cpu-v1', `p${i}`), sealed: { algorithm: 'ML-KEM-768', flow: 'in-band' } }),
      ),
  },
  ...(['X-Wing', 'ML-KEM-768'] as const).map((a) => ({
    name: `v2 ${a}`,
    relay: proxy,
    one: async (i: number) => {
      const s = await openV2Session({ baseUrl: proxy.wsUrl, token: await mintToken(proxy, `cpu-v2-${a}`, `p${i}`), serverKey: key(a) });
      await s.close();
    },
  })),
];
const kebab = (s: string) => s.toLowerCase().replace(/[^a-z0-9]+/g, '-');
const only = values.only ? new Set(values.only.split(',')) : undefined;
const chosen = configs.filter((c) => c.relay === bare || !only || only.has(kebab(c.name))); // the floor always runs
const sessions = { bare: 0, proxy: 0 };
const monotonicUs = () => Number(process.hrtime.bigint() / 1000n);
const window = { from: 0, to: 0 };
const perSession = new Map<string, number[]>(chosen.map((c) => [c.name, []]));
const kernelPerSession = new Map<string, number[]>(chosen.map((c) => [c.name, []]));
try {
  for (const c of chosen) for (let i = 0; i < 20; i++) await c.one(1_000_000 + i); // warm-up: rooms exist, JIT warm
  window.from = monotonicUs(); // profiles count from here: no start-up, no warm-up
  for (let r = 0; r < ROUNDS; r++) {
    for (const c of [...chosen.slice(r % chosen.length), ...chosen.slice(0, r % chosen.length)]) {
      const cpu0 = c.relay.schedCpuMicros();
      const kernel0 = c.relay.kernelMicros();
      // --perf: the last round's batches are recorded, each on its own.
      const stopPerf = perfDir && r === ROUNDS - 1 ? await perfRecord(c.relay.pid, join(perfDir, `${kebab(c.name)}.data`)) : undefined;
      for (let i = 0; i < N; i++) await c.one(r * N + i);
      await stopPerf?.();
      if (c.relay === bare) sessions.bare += N;
      else sessions.proxy += N;
      await new Promise((res) => setTimeout(res, 200)); // closes finish
      perSession.get(c.name)?.push((c.relay.schedCpuMicros() - cpu0) / N);
      kernelPerSession.get(c.name)?.push((c.relay.kernelMicros() - kernel0) / N);
    }
  }
  window.to = monotonicUs();
} finally {
  await proxy.stop();
  await bare.stop();
  await livekit.stop();
}
const floor = median(perSession.get('bare Node.js + ws relay') ?? []);
process.stdout.write(
  `Relay CPU per session (join + leave; schedstat, ns resolution), ${N} sessions x ${ROUNDS} rounds; of which kernel (/proc stat, 10 ms ticks); load average now ${loadavg()[0]?.toFixed(2)}\n\n`,
);
process.stdout.write('| configuration | µs / session (median) | of which kernel | rounds | / bare relay |\n|:--|--:|--:|:--|--:|\n');
for (const [name, xs] of perSession) {
  const m = median(xs);
  const k = median(kernelPerSession.get(name) ?? []);
  process.stdout.write(
    `| ${name} | ${m.toFixed(0)} | ${k.toFixed(0)} | ${xs.map((x) => x.toFixed(0)).join(', ')} | ${floor ? (m / floor).toFixed(2) : '—'} |\n`,
  );
}
if (profDir) {
  const load = (sub: string, top = 40) => {
    const dir = join(profDir, sub);
    const file = readdirSync(dir).find((f) => f.endsWith('.cpuprofile'));
    if (!file) throw new Error(`no profile in ${dir}`);
    return summarize(JSON.parse(readFileSync(join(dir, file), 'utf8')) as Profile, top, window);
  };
  const [p, b] = [load('proxy'), load('bare')];
  const per = (ms: number, n: number) => (n ? ((ms * 1000) / n).toFixed(0) : '—');
  const names = [...new Set([...p.packages, ...b.packages].map((x) => x.name))];
  const ms = (s: typeof p, name: string) => s.packages.find((x) => x.name === name)?.ms ?? 0;
  process.stdout.write(
    `\nSampled time per session by package (self time, µs; profiled, so slower than above):\n\n| package | proxy | bare relay | proxy − bare |\n|:--|--:|--:|--:|\n`,
  );
  for (const name of names.sort((x, y) => ms(p, y) - ms(p, x))) {
    const d = (ms(p, name) * 1000) / (sessions.proxy || 1) - (ms(b, name) * 1000) / (sessions.bare || 1);
    process.stdout.write(`| ${name} | ${per(ms(p, name), sessions.proxy)} | ${per(ms(b, name), sessions.bare)} | ${d.toFixed(0)} |\n`);
  }
  process.stdout.write(`| total | ${per(p.totalMs, sessions.proxy)} | ${per(b.totalMs, sessions.bare)} | |\n`);
  const top = Number(values.top);
  if (top > 0) {
    const full = load('proxy', 4000);
    const rows = (xs: typeof full.self) =>
      xs
        .slice(0, top)
        .map((x) => `| ${per(x.ms, sessions.proxy)} | \`${x.name}\` |`)
        .join('\n');
    process.stdout.write(`\nThe proxy's top ${top} functions per session, µs (profiled):\n\n**Self**\n\n| µs | function |\n|--:|:--|\n${rows(full.self)}\n`);
    process.stdout.write(
      `\n**Inclusive, own code and libraries**\n\n| µs | function |\n|--:|:--|\n${rows(full.inclusive.filter((x) => !/^\(|node:|^\S+ $/.test(x.name)))}\n`,
    );
  }
}

if (perfDir) {
  const cats = chosen.map((c) => perfCategories(join(perfDir, `${kebab(c.name)}.data`)));
  const us = (samples: number) => ((samples * 1e6) / PERF_HZ / N).toFixed(0);
  process.stdout.write(`\nOn-CPU time per session by what it runs (perf, cpu-clock at ${PERF_HZ} Hz, the last round's ${N} sessions), µs:\n\n`);
  process.stdout.write(`| | ${chosen.map((c) => c.name).join(' | ')} |\n|:--|${chosen.map(() => '--:|').join('')}\n`);
  for (const name of PERF_CATEGORY_NAMES) process.stdout.write(`| ${name} | ${cats.map((m) => us(m.get(name) ?? 0)).join(' | ')} |\n`);
  process.stdout.write(`| total | ${cats.map((m) => us([...m.values()].reduce((a, b) => a + b, 0))).join(' | ')} |\n`);
}
