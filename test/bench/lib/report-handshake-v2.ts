// The v2 part of scenario 2's report: the proxy's CPU per volly-pq.v2 handshake.

import type { V2HandshakeRow } from '../scenarios/handshake-v2.ts';
import { fig, fmt, table } from './report.ts';

export function v2HandshakeTable(rows: readonly V2HandshakeRow[] | undefined): string {
  if (!rows?.length) return '';
  return [
    '\n#### volly-pq.v2: proxy CPU per server handshake (`v2_handshake_us`: X-Wing unbound; `v2_handshake_us_mlkem768`)\n',
    'First flight (decapsulate to the static key, open the early frame, clock, register) + ServerHello (encapsulate to the ephemeral key, ' +
      'and to the bound key for a bound token) + opening the key confirmation; the token check is the authorize stage above. ' +
      'The client side is prepared outside the timed loops; process CPU time.\n',
    table(
      ['static key', 'token', 'KEM backend', 'us / handshake', 'of which first flight + ServerHello', 'handshakes / s / core', 'batch'],
      rows.map((x) => [x.algorithm, x.flow, x.backend, fig(x.us, 1), fig(x.firstFlightUs, 1), fmt(x.perSecondPerCore, 0), String(x.batch)]),
    ),
  ].join('\n');
}
