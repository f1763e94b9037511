// Long plain-HTTP fuzz run against `volly-pq proxy` (a child process, demo
// routes on) in front of a real LiveKit:
//
//   npm exec -- node test/scripts/fuzz-http.ts --inputs 1000000 [--concurrency 48]
//        [--seed 1] [--time-limit-min 90] [--max-crashes N] [--out report.json]
//
// Prints progress, then inputs, duration, outcomes by status and by route,
// crashes (with the input that causes each), canaries, what LiveKit saw, and
// the findings. Exit status 1 when anything that must be zero is not.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { httpProblems, runHttpFuzz } from '../security/lib/fuzz-http-engine.ts';
import { startHttpFuzzTarget } from '../security/lib/fuzz-http-target.ts';

const { values } = parseArgs({
  options: {
    inputs: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '48' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    'time-limit-min': { type: 'string', default: '90' },
    'max-crashes': { type: 'string' },
    out: { type: 'string' },
  },
});
const inputs = Number(values.inputs);
const concurrency = Number(values.concurrency);
const seed = Number(values.seed);
const timeLimitMs = Number(values['time-limit-min']) * 60_000;
process.on('SIGINT', () => process.exit(130));
const log = (s: string) => process.stdout.write(`[fuzz-http ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

log(`starting LiveKit and volly-pq proxy; inputs ${inputs}, concurrency ${concurrency}, seed ${seed}`);
const target = await startHttpFuzzTarget();
log(
  `proxy ${target.url} (admin :${target.adminPort}, pid ${target.proxy.pid}), LiveKit ${target.livekit.url}; ${target.seeds.length} honest requests recorded`,
);

let stats: Awaited<ReturnType<typeof runHttpFuzz>>;
try {
  stats = await runHttpFuzz(target, {
    inputs,
    concurrency,
    seed,
    timeLimitMs,
    canaryEveryMs: 1000,
    ...(values['max-crashes'] ? { maxCrashes: Number(values['max-crashes']) } : {}),
    progressEveryMs: Number(process.env.FUZZ_PROGRESS_MS ?? 30_000),
    onFinding: (f) => log(`finding #${f.index} ${f.kind}: ${f.outcome} — ${f.detail.slice(0, 400)}`),
    onProgress: ({ done, elapsedMs, findings, crashes }) =>
      log(`${done} inputs in ${(elapsedMs / 1000).toFixed(0)} s (${((done / elapsedMs) * 1000).toFixed(0)}/s), crashes ${crashes}, findings ${findings}`),
  });
} finally {
  await target.close();
}

const sorted = (m: Record<string, number>) =>
  Object.entries(m)
    .sort((a, b) => b[1] - a[1])
    .map(([k, v]) => `${k} ×${v}`)
    .join(', ');
const out: string[] = [];
out.push(
  `inputs: ${stats.inputs} in ${(stats.durationMs / 1000).toFixed(0)} s (${((stats.inputs / stats.durationMs) * 1000).toFixed(0)}/s), seed ${seed}, concurrency ${concurrency}`,
);
out.push('outcomes by status:');
for (const [k, v] of Object.entries(stats.byOutcome).sort((a, b) => b[1] - a[1])) out.push(`  ${k.padEnd(28)} ${v}`);
out.push('outcomes by route:');
for (const [route, oc] of Object.entries(stats.byRoute)) out.push(`  ${route.padEnd(9)} ${sorted(oc)}`);
out.push(`exchange wall time: ${sorted(stats.latency)}`);
out.push(`inputs by source: ${sorted(stats.bySource)}; by credential: ${sorted(stats.byCred)}`);
out.push(`crashes (process exits): ${stats.crashes}; inputs in flight during a crash (not judged): ${stats.duringCrash}`);
for (const c of stats.crashDetails.slice(0, 20)) out.push(`  ${c}`);
out.push(`PQ-bound 2xx that the same request without the token also gets (LiveKit answers anyone): ${stats.boundTwoXxAnyway}`);
out.push(`canaries (validate, Twirp ListRooms): ${stats.canaries.ok} ok, ${stats.canaries.failed} failed, slowest ${stats.canaries.maxMs.toFixed(0)} ms`);
out.push(
  `LiveKit, asked directly: fuzz identities as participants ${stats.liveKit.participants.length}, sessions started for one in its log ${stats.liveKit.logLines}`,
);
out.push(`findings: ${stats.findingCount}`);
for (const f of stats.findings.slice(0, 50)) out.push(`  #${f.index} ${f.kind}: ${f.outcome} — ${f.detail.slice(0, 300)}`);
process.stdout.write(`${out.join('\n')}\n`);
if (values.out) writeFileSync(values.out, `${JSON.stringify({ seed, concurrency, ...stats }, null, 2)}\n`);
const bad = httpProblems(stats);
log(bad.length ? `FAILED: ${bad.length} problems` : 'clean: 0 crashes, 0 findings');
process.exit(bad.length ? 1 : 0);
