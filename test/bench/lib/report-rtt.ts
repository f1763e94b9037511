// The rtt scenario's table: join time over an emulated round trip.

import type { RttResults } from '../scenarios/rtt.ts';
import { fmt, table } from './report.ts';

export function rttTable(r: RttResults | undefined): string {
  if (!r) return '';
  const checks = r.selfChecks
    .map((c) => `${c.expectedAddedMs} ms → ${fmt(c.measuredAddedMs, 1)} ms; connect + first exchange ${fmt(c.firstExchangeAddedMs, 1)} ms`)
    .join(', ');
  return [
    '\n### 6. Join time over an emulated round trip (from `new WebSocket` to the JoinResponse)\n',
    'A loopback delay relay between the client and its first hop adds half the RTT each way, and one RTT for the TCP handshake before the ' +
      `client's first bytes; plain ws, so no TLS round trip (measured against an echo server: ${checks}). "in RTTs" = median / RTT.\n`,
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
