// Shared by the micro-benchmarks here: load the built package from one or
// more dist directories (an A/B of two builds runs in one process, rounds
// interleaved, so a busy machine slows both alike) and time rounds.
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

/** The dist directories named on the command line (default: this package's own). */
export function distDirs(defaultDir) {
  const dirs = process.argv.slice(2).filter((a) => !a.startsWith('--'));
  return dirs.length ? dirs.map((d) => resolve(d)) : [defaultDir];
}

/** `--name=value` from the command line, or `fallback`. */
export function option(name, fallback) {
  const hit = process.argv.find((a) => a.startsWith(`--${name}=`));
  return hit ? hit.slice(name.length + 3) : fallback;
}

export const load = (dir, file) => import(pathToFileURL(resolve(dir, file)).href);

/**
 * The clock: process CPU time (user + system, all threads) by default, so
 * time the process spends waiting for a core on a shared machine is not
 * counted; `--clock=wall` for elapsed time.
 */
const cpuClock = option('clock', 'cpu') === 'cpu';
const now = () => {
  if (!cpuClock) return Number(process.hrtime.bigint()) / 1e3;
  const { user, system } = process.cpuUsage();
  return user + system;
};
export const clockName = cpuClock ? 'process CPU time' : 'wall time';

/**
 * µs per call of each variant, rounds interleaved: `variants[v].prepare()`
 * runs untimed before each round, `run(state)` does `calls` calls. Returns
 * per variant the median and min over `rounds` rounds (after 3 warm-up rounds).
 */
export async function interleaved(variants, calls, rounds = Number(option('rounds', '15'))) {
  const times = variants.map(() => []);
  for (let r = -3; r < rounds; r++) {
    for (const [v, { prepare, run }] of variants.entries()) {
      const state = prepare ? await prepare() : undefined;
      const t0 = now();
      await run(state);
      if (r >= 0) times[v].push((now() - t0) / calls);
    }
  }
  return times.map((t) => {
    t.sort((a, b) => a - b);
    return { median: t[t.length >> 1], min: t[0] };
  });
}

/** One table row: the name, then median / min per variant. */
export function row(name, results, width = 48, digits = 1) {
  const cells = results.map(({ median, min }) => `${median.toFixed(digits).padStart(7)} ${min.toFixed(digits).padStart(7)}`);
  return `${name.padEnd(width)} ${cells.join('  |')}`;
}

export function header(dirs, width = 48) {
  return `${clockName} per call\n${''.padEnd(width)} ${dirs.map(() => ' median     min').join('  |')}\n${dirs.map((d, i) => `  [${i}] ${d}`).join('\n')}`;
}
