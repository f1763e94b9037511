// The headline figures of a benchmark run and their targets: the one place
// the targets are defined (summary.json's `targets`, the report's first table).

import type { Results } from './report.ts';
import { type Figure, figure, ratioFigure } from './stats.ts';

export interface Headline {
  readonly key: string;
  readonly label: string;
  readonly figure: Figure | undefined;
  readonly unit: string;
  /** The figure must not exceed the target. */
  readonly target: number;
  readonly digits: number;
  /** The same figure for the bare Node.js + ws relay (the floor of a relay on Node.js), where one exists. */
  readonly bareRelay?: Figure | undefined;
}

/** Per-round ratio a/b (rounds paired by index) as a Figure; undefined when either is missing. */
const rel = (a: Figure | undefined, b: Figure | undefined): Figure | undefined => (a && b ? ratioFigure(a, b) : undefined);

/** The headline figures and their targets: the one place the targets are defined. */
export function headlines(r: Results): Headline[] {
  const join = (config: string) => r.join?.rows.find((x) => x.config === config);
  const sealed = join('sealed in-band ML-KEM-768');
  const bare = join('bare Node.js + ws relay');
  // The shipped default: volly-pq.v2 to the proxy's X-Wing static key, unbound token.
  const v2 = join('sealed v2 X-Wing');
  const hs = r.handshake?.rows.find((x) => x.algorithm === 'ML-KEM-768' && x.backend === 'native');
  const cpu = (name: string) => r.relay?.rows.find((x) => x.target === name)?.cpuUsPerFrame;
  const top = r.scale?.levels.at(-1);
  // v2 rows at 40 ms RTT, X-Wing (v2's default static key); one median per configuration, so no spread.
  const at40 = (key: string) => r.rtt?.rows.find((x) => x.rttMs === 40 && x.key === key)?.medianMs;
  const direct40 = at40('direct');
  const v2Ratio = (at40('v2_xwing') ?? Number.NaN) / (direct40 ?? Number.NaN);
  const v2BoundExtra = ((at40('v2_bound_xwing') ?? Number.NaN) - (direct40 ?? Number.NaN)) / 40;
  return [
    {
      key: 'join_ratio_p50',
      label: 'join p50, sealed in-band ML-KEM-768 / direct',
      figure: sealed?.ratioP50,
      unit: 'x',
      target: 1.5,
      digits: 2,
      bareRelay: bare?.ratioP50,
    },
    {
      key: 'join_ratio_p99',
      label: 'join p99, sealed in-band ML-KEM-768 / direct',
      figure: sealed?.ratioP99,
      unit: 'x',
      target: 1.2,
      digits: 2,
      bareRelay: bare?.ratioP99,
    },
    {
      key: 'join_cpu_ratio',
      label: 'proxy CPU per session, sealed in-band ML-KEM-768 / bare Node.js + ws relay',
      figure: rel(sealed?.relayCpuUsPerSession, bare?.relayCpuUsPerSession),
      unit: 'x',
      target: 1.25,
      digits: 2,
    },
    {
      key: 'join_ratio_p50_v2',
      label: 'join p50, sealed v2 X-Wing (the default) / direct',
      figure: v2?.ratioP50,
      unit: 'x',
      target: 1.5,
      digits: 2,
      bareRelay: bare?.ratioP50,
    },
    {
      key: 'join_cpu_ratio_v2',
      label: 'proxy CPU per session, sealed v2 X-Wing (the default) / bare Node.js + ws relay',
      figure: rel(v2?.relayCpuUsPerSession, bare?.relayCpuUsPerSession),
      unit: 'x',
      target: 1.25,
      digits: 2,
    },
    { key: 'handshake_us', label: 'server CPU per handshake, ML-KEM-768 native', figure: hs?.us, unit: 'us', target: 150, digits: 1 },
    {
      key: 'relay_ratio_classical',
      label: 'relay CPU/frame, sealed / proxy classical',
      figure: rel(cpu('sealed'), cpu('classical')),
      unit: 'x',
      target: 1.1,
      digits: 2,
    },
    {
      key: 'relay_ratio_nginx',
      label: 'relay CPU/frame, sealed / nginx',
      figure: rel(cpu('sealed'), cpu('nginx')),
      unit: 'x',
      target: 3,
      digits: 2,
      bareRelay: rel(cpu('node-ws'), cpu('nginx')),
    },
    {
      key: 'rss_kib_per_session',
      label: `proxy RSS per sealed session at ${top?.sessions ?? '-'} sessions`,
      figure: top?.rssKiBPerSession,
      unit: 'KiB',
      target: 24,
      digits: 1,
    },
    {
      key: 'storm_ratio',
      label: 'reconnect storm, proxy sealed in-band ML-KEM-768 / direct (time to all joined)',
      figure: r.storm?.ratio,
      unit: 'x',
      target: 1.2,
      digits: 2,
      bareRelay: r.storm?.floors?.['node-ws'],
    },
    {
      key: 'rtt40_v2_join_ratio',
      label: 'join at 40 ms RTT, v2 unbound X-Wing p50 / direct p50',
      figure: r.rtt ? figure([v2Ratio]) : undefined,
      unit: 'x',
      target: 1.1,
      digits: 2,
    },
    {
      key: 'rtt40_v2_bound_extra_rtt',
      label: 'join at 40 ms RTT, (v2 bound X-Wing p50 − direct p50) / 40 ms',
      figure: r.rtt ? figure([v2BoundExtra]) : undefined,
      unit: 'RTT',
      target: 1.1,
      digits: 2,
    },
  ];
}
