// The attacker's storm (attacker.ts `storm` / `calm`): one address hammering
// for more handshake slots than its share. Up to `parallel` half-open PQ
// upgrades are kept in flight, new ones started at most `perSecond` a second:
// each 101 is held (silent, or dribbling a frame a byte at a time) until the
// proxy closes it, each refusal (429) is counted and replaced by the next try.

import { frameHeader, openUpgrade } from './raw-upgrade.ts';

export interface StormOptions {
  port: number;
  parallel: number;
  perSecond: number;
  /** Fraction of the held upgrades that dribble a frame instead of staying silent. */
  dribble: number;
}

export interface StormReport {
  started: number;
  statuses: Record<string, number>;
  /** Milliseconds from dial to a refusal's status line: [min, max] (a queued wait would show here). */
  refusedAfterMs: [number, number] | null;
  ms: number;
}

let running: { timer: ReturnType<typeof setInterval>; pending: Set<Promise<void>>; report: () => StormReport } | undefined;

export function startStorm(o: StormOptions): void {
  if (running) throw new Error('a storm is already running');
  const t0 = performance.now();
  const statuses: Record<string, number> = {};
  let minRefused = Number.POSITIVE_INFINITY;
  let maxRefused = 0;
  let started = 0;
  let live = 0;
  const pending = new Set<Promise<void>>();
  const launch = () => {
    const dribble = started % 100 < o.dribble * 100;
    started++;
    live++;
    const at = performance.now();
    const p: Promise<void> = openUpgrade(o.port, true, true, dribble).then(({ status, sock }) => {
      pending.delete(p);
      statuses[status] = (statuses[status] ?? 0) + 1;
      if (status !== 101) {
        live--;
        const ms = performance.now() - at;
        minRefused = Math.min(minRefused, ms);
        maxRefused = Math.max(maxRefused, ms);
        return;
      }
      if (dribble) sock.write(frameHeader());
      if (sock.destroyed) live--;
      else sock.once('close', () => live--);
    });
    pending.add(p);
  };
  // Paced: try i starts no earlier than i / perSecond after the first.
  const timer = setInterval(() => {
    const due = ((performance.now() - t0) * o.perSecond) / 1000;
    while (live < o.parallel && started < due) launch();
  }, 10);
  running = {
    timer,
    pending,
    report: () => ({
      started,
      statuses: { ...statuses },
      refusedAfterMs: maxRefused > 0 ? [Math.round(minRefused), Math.round(maxRefused)] : null,
      ms: Math.round(performance.now() - t0),
    }),
  };
}

/** Stops starting new tries and waits for those in flight (held ones stay until the proxy closes them); the storm's figures. */
export async function calm(): Promise<StormReport | null> {
  const r = running;
  if (!r) return null;
  running = undefined;
  clearInterval(r.timer);
  await Promise.all(r.pending);
  return r.report();
}
