// The rtt scenario's tables: join time over an emulated round trip, first
// per configuration with each RTT side by side and the round trips it adds
// over direct LiveKit, then every row in detail.

import type { RttResults, RttRow } from '../scenarios/rtt.ts';
import { fmt, table } from './report.ts';

/** The configurations in run order, each with its row per RTT. */
export function rttByConfig(r: RttResults): { key: string; config: string; byRtt: Map<number, RttRow> }[] {
  const out = new Map<string, { key: string; config: string; byRtt: Map<number, RttRow> }>();
  for (const x of r.rows) {
    const c = out.get(x.key) ?? { key: x.key, config: x.config, byRtt: new Map() };
    c.byRtt.set(x.rttMs, x);
    out.set(x.key, c);
  }
  return [...out.values()];
}

/** Round trips a configuration adds over direct LiveKit at the same RTT: (median − direct median) / RTT. */
export function extraRtts(r: RttResults, row: RttRow): number {
  const direct = r.rows.find((x) => x.rttMs === row.rttMs && x.key === 'direct');
  return direct ? (row.medianMs - direct.medianMs) / row.rttMs : Number.NaN;
}

export function rttTable(r: RttResults | undefined): string {
  if (!r) return '';
  const rtts = [...new Set(r.rows.map((x) => x.rttMs))];
  const checks = r.selfChecks
    .map((c) => `${c.expectedAddedMs} ms → ${fmt(c.measuredAddedMs, 1)} ms; connect + first exchange ${fmt(c.firstExchangeAddedMs, 1)} ms`)
    .join(', ');
  const extra = (x: RttRow | undefined) => (x && x.key !== 'direct' ? `${extraRtts(r, x) >= 0 ? '+' : ''}${fmt(extraRtts(r, x), 2)}` : '—');
  return [
    '\n### 6. Join time over an emulated round trip (from `new WebSocket` to the JoinResponse)\n',
    'A loopback delay relay between the client and its first hop adds half the RTT each way, and one RTT for the TCP handshake before the ' +
      `client's first bytes; plain ws, so no TLS round trip (measured against an echo server: ${checks}). ` +
      'The client\'s own crypto before the socket (v1 in-band key generation, v2 first flight) is not in the time. "extra RTTs" = (median − direct median) / RTT. ' +
      "v2 rows name the static key's algorithm; a bound token names a client key of the same algorithm.\n",
    table(
      ['configuration', ...rtts.flatMap((t) => [`${t} ms RTT: median ms`, `${t} ms: extra RTTs vs direct`])],
      rttByConfig(r).map((c) => [c.config, ...rtts.flatMap((t) => [fmt(c.byRtt.get(t)?.medianMs, 1), extra(c.byRtt.get(t))])]),
    ),
    '',
    table(
      ['RTT ms', 'configuration', 'summary key', 'median ms', 'min–max ms', 'in RTTs', 'joins'],
      r.rows.map((x) => [
        String(x.rttMs),
        x.config,
        `\`rtt${x.rttMs}_${x.key}_ms\``,
        fmt(x.medianMs, 1),
        `${fmt(x.minMs, 1)}–${fmt(x.maxMs, 1)}`,
        fmt(x.rtts, 2),
        String(x.joins),
      ]),
    ),
  ].join('\n');
}
