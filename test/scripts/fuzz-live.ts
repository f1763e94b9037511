// Long live-fuzz run against the real proxy in front of a real LiveKit:
//
//   node test/scripts/fuzz-live.ts --inputs 1000000 [--concurrency 256]
//        [--seed 1] [--time-limit-min 100] [--proxy worker|process] [--out report.json]
//
// Prints progress, then inputs tried, outcomes per class and per close code /
// HTTP status, crashes, canary joins, and the leak oracles (proxy counters and
// LiveKit's side). Exit status 1 when anything that must be zero is not.

import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { problems } from '../security/lib/fuzz-live-report.ts';
import { runFuzz } from '../security/lib/fuzz-live-runner.ts';
import { startFuzzTarget } from '../security/lib/fuzz-live-target.ts';
import type { FuzzStats } from '../security/lib/fuzz-live-types.ts';

const { values } = parseArgs({
  options: {
    inputs: { type: 'string', default: '100000' },
    concurrency: { type: 'string', default: '256' },
    seed: { type: 'string', default: String(Date.now() % 1_000_000) },
    'time-limit-min': { type: 'string', default: '100' },
    proxy: { type: 'string', default: 'worker' },
    out: { type: 'string' },
  },
});

const inputs = Number(values.inputs);
const concurrency = Number(values.concurrency);
const seed = Number(values.seed);
const timeLimitMs = Number(values['time-limit-min']) * 60_000;
const proxyIn = values.proxy === 'process' ? 'process' : 'worker';
process.on('SIGINT', () => process.exit(130));
const log = (s: string) => process.stdout.write(`[fuzz ${new Date().toISOString().slice(11, 19)}] ${s}\n`);

log(`starting LiveKit and the proxy (${proxyIn}); inputs ${inputs}, concurrency ${concurrency}, seed ${seed}, time limit ${timeLimitMs / 60_000} min`);
const target = await startFuzzTarget({ proxyIn });
log(`proxy ${target.proxy.wsUrl}, LiveKit ${target.livekit.url}; ${target.seeds.all.length} seed frames recorded from ${4} real sessions`);

let stats: FuzzStats;
try {
  stats = await runFuzz(target, {
    inputs,
    concurrency,
    seed,
    timeLimitMs,
    canaryEveryMs: 2000,
    progressEveryMs: Number(process.env.FUZZ_PROGRESS_MS ?? 30_000),
    onFinding: (f) => log(`finding #${f.index} ${f.cls} ${f.kind}: ${f.outcome} — ${f.detail.slice(0, 400)}`),
    onProgress: ({ done, elapsedMs, findings, oldest }) =>
      log(
        `${done} inputs in ${(elapsedMs / 1000).toFixed(0)} s (${((done / elapsedMs) * 1000).toFixed(0)}/s), findings ${findings}${oldest ? `, oldest in flight ${oldest}` : ''}`,
      ),
  });
} finally {
  await target.close();
}

const pad = (s: string, n: number) => s.padEnd(n);
const lines: string[] = [];
lines.push(
  `inputs tried: ${stats.inputs} in ${(stats.durationMs / 1000).toFixed(0)} s (${((stats.inputs / stats.durationMs) * 1000).toFixed(0)}/s), seed ${seed}, concurrency ${concurrency}, proxy in ${proxyIn}`,
);
lines.push('outcomes by close code / HTTP status:');
for (const [k, v] of Object.entries(stats.byCode).sort((a, b) => b[1] - a[1])) lines.push(`  ${pad(k, 36)} ${v}`);
lines.push('outcomes by class:');
for (const [cls, oc] of Object.entries(stats.outcomes))
  lines.push(
    `  ${pad(cls, 24)} ${stats.perClass[cls]}: ${Object.entries(oc)
      .sort((a, b) => b[1] - a[1])
      .map(([k, v]) => `${k} ×${v}`)
      .join(', ')}`,
  );
lines.push(`crashes: ${stats.crashes}${stats.proxyCrashes.length ? ` (${stats.proxyCrashes.join(' | ').slice(0, 500)})` : ''}`);
lines.push(`canary joins during the run: ${stats.canaries.ok} ok, ${stats.canaries.failed} failed, slowest ${stats.canaries.maxMs.toFixed(0)} ms`);
const l = stats.leaks;
lines.push('leaks (frames or joins that reached LiveKit from inputs that failed to open):');
lines.push(`  seen by the fuzzing client (a LiveKit answer to a frame that must not open): ${l.observedByClient}`);
lines.push(
  `  proxy upstream dials: +${l.dialsDelta.pq} pq, +${l.dialsDelta.classical} classical; honest traffic accounts for ${l.dialsExpected}; unaccounted ${l.dialsUnaccounted}`,
);
lines.push(
  `  proxy volly_frames_total{direction="client_to_upstream"}: +${l.framesToUpstreamDelta}; honest frames sent ${l.framesToUpstreamExpected}; unaccounted ${l.framesUnaccounted}`,
);
lines.push(
  `  LiveKit log "starting RTC session": ${l.liveKitJoinsTotal} (honest traffic at most ${l.liveKitJoinsExpectedMax}); for identity fz-victim: ${l.liveKitJoinsForVictim}`,
);
lines.push(`  watcher participant in the post-join room saw LEAK metadata: ${l.watcherSawLeakedMetadata} (reconnects ${l.watcherReconnects})`);
lines.push(`findings: ${stats.findingCount}`);
for (const f of stats.findings.slice(0, 50)) lines.push(`  #${f.index} ${f.cls} ${f.kind}: ${f.outcome} — ${f.detail.slice(0, 300)}`);
lines.push(
  `mean ms per input by class: ${Object.entries(stats.meanMs)
    .map(([k, v]) => `${k} ${v.toFixed(0)}`)
    .join(', ')}; CPU ${(stats.cpuMs / 1000).toFixed(0)} s`,
);
process.stdout.write(`${lines.join('\n')}\n`);
if (values.out) writeFileSync(values.out, `${JSON.stringify({ seed, concurrency, proxyIn, ...stats }, null, 2)}\n`);
const bad = problems(stats);
if (bad.length) {
  log(`FAILED: ${bad.length} problems`);
  process.exit(1);
}
log('clean: 0 crashes, 0 leaks');
process.exit(0);
