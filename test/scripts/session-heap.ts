// What one idle sealed session costs the proxy once it relays: starts the
// real LiveKit and a bench proxy (inspector open), opens N idle sessions
// (volly-pq.v1 in-band ML-KEM-768, or volly-pq.v2 X-Wing unbound), and
// compares heap snapshots taken after a full GC with them open and after they closed: the
// self bytes per session by constructor (heap.ts's census), plus RSS per session.
// Lighter than the bench's scale scenario (no 10k ramp), for before/after
// comparisons of the proxy's per-session state.
//
//   npm exec -- node test/scripts/session-heap.ts --sessions=1000 [--protocol=v1|v2] [--top=30] [--out=DIR]

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { clientAddress, openSession, pool } from '../bench/lib/client.ts';
import { openV2Session } from '../bench/lib/client-v2.ts';
import { type BenchProxy, startBenchProxy } from '../bench/lib/servers.ts';
import { mintToken } from '../bench/lib/tokens.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { fetchServerKeys } from '../harness/v2-signal.ts';
import { census, perSession } from './heap.ts';

const { values } = parseArgs({
  options: {
    sessions: { type: 'string', default: '1000' },
    protocol: { type: 'string', default: 'v1' },
    concurrency: { type: 'string', default: '16' },
    warmup: { type: 'string', default: '20' },
    top: { type: 'string', default: '30' },
    out: { type: 'string', default: '/tmp/session-heap' },
  },
});
const n = Number(values.sessions);
const protocol = values.protocol === 'v2' ? 'v2' : 'v1';
const concurrency = Number(values.concurrency);
const out = values.out as string;
mkdirSync(out, { recursive: true });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const log = (line: string) => process.stderr.write(`${new Date().toISOString().slice(11, 19)} ${line}\n`);

interface Held {
  close(): Promise<void> | void;
  open(): boolean;
}

/** Opens one idle session of the chosen protocol; `i` picks its room (10 per room) and client address. */
async function opener(proxy: BenchProxy, tag: string): Promise<(i: number) => Promise<Held>> {
  if (protocol === 'v1') {
    return async (i) => {
      const token = await mintToken(proxy, `heap-${tag}-${Math.floor(i / 10)}`, `${tag}-${i}`);
      const s = await openSession({
        baseUrl: proxy.wsUrl,
        token,
        sealed: { algorithm: 'ML-KEM-768', flow: 'in-band' },
        timeoutMs: 30_000,
        localAddress: clientAddress(i),
      });
      return { close: () => s.close(), open: () => s.ws.readyState === s.ws.OPEN && !s.failure };
    };
  }
  const serverKey = (await fetchServerKeys(proxy.wsUrl)).find((k) => k.algorithm === 'X-Wing');
  if (!serverKey) throw new Error('the proxy publishes no X-Wing v2 key');
  return async (i) => {
    const token = await mintToken(proxy, `heap-${tag}-${Math.floor(i / 10)}`, `${tag}-${i}`);
    let closed = false;
    const s = await openV2Session({ baseUrl: proxy.wsUrl, token, serverKey, timeoutMs: 30_000 });
    return {
      close: () => {
        closed = true;
        return s.close();
      },
      open: () => !closed,
    };
  };
}

/** RSS (KiB) after a full GC, the median of 3 samples. */
async function settledRss(proxy: BenchProxy): Promise<number> {
  await proxy.collectGarbage();
  await sleep(300);
  const xs: number[] = [];
  for (let i = 0; i < 3; i++) {
    if (i) await sleep(300);
    xs.push(proxy.rssKiB());
  }
  return xs.sort((a, b) => a - b)[1] as number;
}

let livekit: LiveKitServer | undefined;
let proxy: BenchProxy | undefined;
try {
  livekit = await startLiveKit({ logLevel: 'error' });
  // Idle sessions send nothing: no idle timeout while we look at them.
  proxy = await startBenchProxy(livekit, { inspect: true, env: { VOLLY_HANDSHAKE_TIMEOUT_MS: '30000', VOLLY_IDLE_TIMEOUT_MS: '600000' } });
  const px = proxy;
  const open = await opener(px, protocol);
  // A few sessions first, closed again: one-time costs (modules, JIT, metric children) land in the baseline.
  const warm = await pool(Number(values.warmup), concurrency, (i) => open(100_000 + i));
  await Promise.all(warm.map((s) => s.close()));
  await sleep(1000);
  // RSS first, with no snapshot taken yet (writing one leaves the malloc arenas larger); the baseline
  // snapshot comes after the sessions have closed again, so one ramp serves both.
  const baseRss = await settledRss(px);
  log(`baseline: RSS ${(baseRss / 1024).toFixed(1)} MiB; opening ${n} ${protocol} sessions`);
  const t0 = performance.now();
  const held = await pool(n, concurrency, open);
  log(`${n} sessions open in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const rss = await settledRss(px);
  const loadedFile = join(out, `${protocol}-${n}.heapsnapshot`);
  await px.heapSnapshot(loadedFile);
  const still = held.filter((s) => s.open()).length;
  if (still !== n) log(`warning: only ${still} of ${n} sessions still open at the snapshot`);
  await Promise.all(held.map((s) => s.close()));
  await sleep(2000);
  await px.collectGarbage();
  const baseFile = join(out, `${protocol}-base.heapsnapshot`);
  await px.heapSnapshot(baseFile);
  const r = perSession(census(baseFile), census(loadedFile), n, Number(values.top));
  process.stdout.write(
    `${protocol} idle sealed sessions: ${n} (${still} open at the snapshot)\n` +
      `RSS per session: ${((rss - baseRss) / n).toFixed(1)} KiB (RSS ${(baseRss / 1024).toFixed(1)} -> ${(rss / 1024).toFixed(1)} MiB)\n` +
      `JS heap per session: ${(r.totalBytes / 1024).toFixed(2)} KiB (self sizes, all objects)\n\n` +
      '| per session: objects | bytes | constructor |\n| --: | --: | :-- |\n',
  );
  for (const x of r.rows) process.stdout.write(`| ${x.count.toFixed(2)} | ${x.bytes.toFixed(0)} | \`${x.name}\` |\n`);
  process.stdout.write(`\nsnapshots: ${baseFile} (after the sessions closed) ${loadedFile}\n`);
} finally {
  await proxy?.stop().catch(() => {});
  await livekit?.stop().catch(() => {});
}
