// Scenario "e2ee" (opt-in: --only=e2ee): what volly-e2ee.v1 (docs/E2EE.md)
// costs a call, in Chromium with the real livekit-client through the proxy.
// For each room size n, with and without PQ E2EE: n - 1 pages join and
// publish a canvas video and a tone; then the n-th joins and publishes.
// Time to first decoded frame = from the joiner's join() until it has
// presented a frame from every other participant and every other participant
// has presented one of its frames (requestVideoFrameCallback; with E2EE a
// frame is presented only once its key arrived and it decrypted). Then, with
// E2EE, the first page leaves: rekey time = from the leave until every
// remaining page has rotated its own key for the leave and received the new
// key of every other remaining page. One browser, all pages on this machine.

import { type E2eePage, type E2eeSite, startE2eeSite } from '../../e2e/e2ee-support.ts';
import { median } from '../lib/stats.ts';
import { type Servers, sleep, within } from './common.ts';

export interface E2eeBenchOptions {
  readonly sizes: readonly number[];
  readonly rounds: number;
  /** Default both. */
  readonly modes?: ReadonlyArray<E2eeRow['mode']>;
}

export interface E2eeRow {
  readonly participants: number;
  readonly mode: 'pq-e2ee' | 'no-e2ee';
  /** Median over rounds, ms. */
  readonly firstFrameMs: number;
  readonly firstFrameRoundsMs: number[];
  /** PQ E2EE only: leave -> all remaining hold all new keys, ms. */
  readonly rekeyMs?: number;
  readonly rekeyRoundsMs?: number[];
}

export interface E2eeResults {
  readonly rows: E2eeRow[];
}

type Event = { name: string; t: number; reason?: string; identity?: string; generation?: number };
/** The page's volly-e2ee events (`name {json}`); its other lines (livekit-client's encryption errors) are skipped. */
const events = async (p: E2eePage): Promise<Event[]> =>
  (await p.call('events')).flatMap((line) => {
    const i = line.indexOf(' {');
    if (i < 0) return [];
    return [{ name: line.slice(0, i), ...(JSON.parse(line.slice(i + 1)) as Omit<Event, 'name'>) }];
  });

async function waitFor<T>(what: string, check: () => Promise<T | undefined>, ms: number): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) throw new Error(`e2ee bench: timed out waiting for ${what}`);
    await sleep(100);
  }
}

async function oneRoom(
  site: E2eeSite,
  url: string,
  n: number,
  mode: E2eeRow['mode'],
  tag: string,
  log: (line: string) => void,
): Promise<{ firstFrameMs: number; rekeyMs?: number }> {
  const room = `bench-e2ee-${tag}`;
  const ids = Array.from({ length: n }, (_, i) => `p${i}`);
  const pages: E2eePage[] = [];
  try {
    for (const [i, identity] of ids.entries()) {
      const page = await site.open(identity);
      pages.push(page);
      const colour = { r: (i * 70) % 256, g: 200, b: 100 };
      const joined = page.join({ url, room, identity, mode: mode === 'pq-e2ee' ? 'pq' : 'plain', colour, toneHz: 440 }).then(() => true);
      // A join that never returns (a page starved on a busy machine) fails the round instead of the run hanging.
      if (!(await within(joined, 120_000))) throw new Error(`e2ee bench: ${identity} did not join within 120 s`);
      log(`e2ee n=${n} ${mode}: ${identity} joined`);
    }
    const joiner = pages[n - 1] as E2eePage;
    const start = (await joiner.call('timing')).joinStarted;
    const firstFrameMs = await waitFor(
      'first frames both ways',
      async () => {
        const seen = await Promise.all(pages.map((p) => p.call('timing')));
        const inbound = ids.slice(0, -1).map((id) => seen[n - 1]?.firstFrame[id]);
        const outbound = seen.slice(0, -1).map((t) => t.firstFrame[ids[n - 1] as string]);
        const all = [...inbound, ...outbound];
        return all.every((t) => t !== undefined) ? Math.max(...(all as number[])) - start : undefined;
      },
      90_000,
    ).catch(async (err) => {
      // What was missing: who presented whose first frame, and each page's key counters.
      for (const p of pages) log(`e2ee ${p.name}: ${JSON.stringify(await p.call('timing'))} ${JSON.stringify(await p.call('metrics'))}`);
      throw err;
    });
    if (mode !== 'pq-e2ee' || n < 3) return { firstFrameMs };
    // Rekey after a leave: p0 leaves; every remaining page rotates for it and gets everyone's new key.
    const leaver = pages[0] as E2eePage;
    const leftAt = await leaver.call('now');
    await leaver.call('leave');
    const rest = pages.slice(1);
    const rekeyMs = await waitFor(
      'rekey after the leave',
      async () => {
        let last = 0;
        for (const [i, p] of rest.entries()) {
          const ev = (await events(p)).filter((e) => e.t >= leftAt);
          const rotated = ev.find((e) => e.name === 'key-rotated' && e.reason === 'leave');
          if (!rotated) return undefined;
          const others = ids.slice(1).filter((_, j) => j !== i);
          for (const o of others) {
            const got = ev.find((e) => e.name === 'key-received' && e.identity === o);
            if (!got) return undefined;
            last = Math.max(last, got.t);
          }
          last = Math.max(last, rotated.t);
        }
        return last - leftAt;
      },
      60_000,
    );
    return { firstFrameMs, rekeyMs };
  } finally {
    for (const p of pages) await p.page.close().catch(() => {});
  }
}

export async function runE2ee(servers: Servers, opts: E2eeBenchOptions, log: (line: string) => void): Promise<E2eeResults> {
  const site = await startE2eeSite({ apiKey: servers.proxy.apiKey, apiSecret: servers.proxy.apiSecret });
  const rows: E2eeRow[] = [];
  try {
    for (const n of opts.sizes) {
      for (const mode of opts.modes ?? (['no-e2ee', 'pq-e2ee'] as const)) {
        const ff: number[] = [];
        const rk: number[] = [];
        for (let r = 0; r < opts.rounds; r++) {
          const res = await oneRoom(site, servers.proxy.wsUrl, n, mode, `${n}-${mode}-${r}-${Date.now()}`, log);
          ff.push(res.firstFrameMs);
          if (res.rekeyMs !== undefined) rk.push(res.rekeyMs);
          log(`e2ee n=${n} ${mode} round ${r}: first frame ${res.firstFrameMs} ms${res.rekeyMs !== undefined ? `, rekey ${res.rekeyMs} ms` : ''}`);
        }
        rows.push({
          participants: n,
          mode,
          firstFrameMs: median(ff),
          firstFrameRoundsMs: ff,
          ...(rk.length ? { rekeyMs: median(rk), rekeyRoundsMs: rk } : {}),
        });
      }
    }
  } finally {
    await site.close();
  }
  return { rows };
}

/** Markdown table of the rows. */
export function e2eeTable(r: E2eeResults): string {
  const lines = ['| participants | mode | time to first decoded frame, ms | rekey after a leave, ms |', '| --: | :-- | --: | --: |'];
  for (const row of r.rows) lines.push(`| ${row.participants} | ${row.mode} | ${row.firstFrameMs} | ${row.rekeyMs ?? '—'} |`);
  return lines.join('\n');
}
