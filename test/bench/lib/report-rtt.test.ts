// The round-trip headlines, table and chart panel, and the v2 handshake
// summary keys, from results as the rtt and handshake scenarios return them.

import { describe, expect, it } from 'vitest';
import { type V2HandshakeRow, v2HandshakeSummary } from '../scenarios/handshake-v2.ts';
import { type RttResults, type RttRow, rttSummary } from '../scenarios/rtt.ts';
import { chartSvg } from './chart.ts';
import { headlines } from './headlines.ts';
import { rttTable } from './report-rtt.ts';
import { figure } from './stats.ts';

const row = (rttMs: number, key: string, config: string, medianMs: number): RttRow => ({
  rttMs,
  key,
  config,
  medianMs,
  minMs: medianMs - 1,
  maxMs: medianMs + 1,
  rtts: medianMs / rttMs,
  joins: 5,
  failedSessions: {},
});

// Direct takes 2 RTT; v2 unbound X-Wing 5% more; v2 bound X-Wing one RTT more (ML-KEM-768 rows differ, so a mix-up shows).
const rtt: RttResults = {
  selfChecks: [],
  rows: [40, 100].flatMap((t) => [
    row(t, 'direct', 'direct', 2 * t),
    row(t, 'v2', 'v2 unbound ML-KEM-768', 3 * t),
    row(t, 'v2_xwing', 'v2 unbound X-Wing', 2.1 * t),
    row(t, 'v2_bound', 'v2 bound ML-KEM-768', 5 * t),
    row(t, 'v2_bound_xwing', 'v2 bound X-Wing', 3 * t),
  ]),
};

describe('round-trip report', () => {
  it('headlines rtt40_v2_join_ratio and rtt40_v2_bound_extra_rtt from the 40 ms X-Wing rows, with their targets', () => {
    const h = Object.fromEntries(headlines({ rtt }).map((x) => [x.key, x]));
    expect(h.rtt40_v2_join_ratio?.figure?.median).toBeCloseTo(1.05);
    expect(h.rtt40_v2_join_ratio?.target).toBe(1.1);
    expect(h.rtt40_v2_bound_extra_rtt?.figure?.median).toBeCloseTo(1);
    expect(h.rtt40_v2_bound_extra_rtt?.target).toBe(1.1);
    expect(headlines({}).find((x) => x.key === 'rtt40_v2_join_ratio')?.figure).toBeUndefined();
  });

  it('has one row per configuration with both RTTs and the round trips added over direct', () => {
    const md = rttTable(rtt);
    expect(md).toContain('| configuration | 40 ms RTT: median ms | 40 ms: extra RTTs vs direct | 100 ms RTT: median ms | 100 ms: extra RTTs vs direct |');
    expect(md).toContain('| direct | 80.0 | — | 200.0 | — |');
    expect(md).toContain('| v2 bound X-Wing | 120.0 | +1.00 | 300.0 | +1.00 |');
    expect(rttSummary(rtt)).toMatchObject({ rtt40_v2_ms: 120, rtt100_v2_bound_xwing_ms: 300 });
  });

  it('draws a round-trip panel with a bar per configuration and RTT', () => {
    const svg = chartSvg({ rtt }, 'test');
    expect(svg).toContain('Join over an emulated round trip');
    expect(svg).toContain('>v2 bound ML-KEM-768</text>');
    expect(svg).toContain('>100 ms RTT</text>');
  });
});

it('summarises v2_handshake_us as the X-Wing unbound figure, v2_handshake_us_mlkem768 beside it', () => {
  const hs = (algorithm: 'X-Wing' | 'ML-KEM-768', flow: 'unbound' | 'bound', us: number): V2HandshakeRow => ({
    algorithm,
    flow,
    backend: 'native',
    us: figure([us]),
    firstFlightUs: figure([us - 10]),
    perSecondPerCore: 1e6 / us,
    batch: 16,
    failedSessions: {},
  });
  const rows = [hs('ML-KEM-768', 'unbound', 200), hs('ML-KEM-768', 'bound', 250), hs('X-Wing', 'unbound', 300), hs('X-Wing', 'bound', 400)];
  expect(v2HandshakeSummary(rows)).toEqual({ v2_handshake_us: 300, v2_handshake_us_mlkem768: 200 });
  expect(v2HandshakeSummary(undefined)).toEqual({ v2_handshake_us: null, v2_handshake_us_mlkem768: null });
});
