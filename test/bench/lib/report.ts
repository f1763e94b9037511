// The benchmark's outputs: summary.json (headline figures, targets, every
// scenario's detail, machine and runtime), report.md (markdown tables), and
// chart.svg (join latency and relay cost as bar charts, drawn by hand).

import type { HandshakeResults } from '../scenarios/handshake.ts';
import type { JoinResults } from '../scenarios/join.ts';
import type { RelayResults } from '../scenarios/relay.ts';
import type { RttResults } from '../scenarios/rtt.ts';
import type { ScaleResults } from '../scenarios/scale.ts';
import type { StormResults } from '../scenarios/storm.ts';
import { describeCounts, totalFailures } from './failures.ts';
import { type Figure, ratioFigure } from './stats.ts';

export interface Results {
  handshake?: HandshakeResults;
  join?: JoinResults;
  relay?: RelayResults;
  scale?: ScaleResults;
  storm?: StormResults;
  rtt?: RttResults;
}

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
  const hs = r.handshake?.rows.find((x) => x.algorithm === 'ML-KEM-768' && x.backend === 'native');
  const cpu = (name: string) => r.relay?.rows.find((x) => x.target === name)?.cpuUsPerFrame;
  const top = r.scale?.levels.at(-1);
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
    { key: 'storm_ratio', label: `reconnect storm, proxy / direct (time to all joined)`, figure: r.storm?.ratio, unit: 'x', target: 1.2, digits: 2 },
  ];
}

export const fmt = (x: number | undefined, d = 2): string => (x === undefined || !Number.isFinite(x) ? 'n/a' : x.toFixed(d));
/** "1.23 (1.10–1.40)": median over rounds and the range the rounds spanned. */
export const fig = (f: Figure | undefined, d = 2): string =>
  f ? (f.rounds.length > 1 ? `${fmt(f.median, d)} (${fmt(f.min, d)}–${fmt(f.max, d)})` : fmt(f.median, d)) : 'n/a';

export function table(header: string[], rows: string[][]): string {
  return [`| ${header.join(' | ')} |`, `|${header.map((_, i) => (i === 0 ? ' :-- ' : ' --: ')).join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join(
    '\n',
  );
}

export function headlineTable(r: Results): string {
  return table(
    ['figure', 'measured: median (range over rounds)', 'target', 'met', 'bare Node.js + ws relay'],
    headlines(r).map((h) => {
      const v = h.figure?.median;
      const met = v === undefined || !Number.isFinite(v) ? 'n/a' : v <= h.target ? 'yes' : '**no**';
      const bare = 'bareRelay' in h ? `${fig(h.bareRelay, h.digits)} ${h.unit}` : '—';
      return [`\`${h.key}\`: ${h.label}`, `${fig(h.figure, h.digits)} ${h.unit}`, `≤ ${h.target} ${h.unit}`, met, bare];
    }),
  );
}

export function scenarioTables(r: Results): string {
  const out: string[] = [];
  if (r.join) {
    out.push('### 1. Join latency (time to JoinResponse, sequential joins)\n');
    out.push(
      table(
        ['configuration', 'p50 ms', 'p99 ms', 'p50 / direct', 'p99 / direct', 'relay CPU us / session', 'failed'],
        r.join.rows.map((x) => [
          x.config,
          fig(x.p50Ms),
          fig(x.p99Ms),
          fig(x.ratioP50),
          fig(x.ratioP99),
          x.relayCpuUsPerSession ? fig(x.relayCpuUsPerSession, 0) : '—',
          String(x.failures),
        ]),
      ),
    );
  }
  if (r.handshake) {
    out.push(`\n### 2. Handshake CPU on the server (AEAD backend: ${r.handshake.aeadBackend})\n`);
    out.push(
      table(
        ['algorithm', 'KEM backend', 'us / handshake', 'of which decode + encapsulate + key schedule', 'handshakes / s / core', 'batch'],
        r.handshake.rows.map((x) => [x.algorithm, x.backend, fig(x.us, 1), fig(x.encapsulateUs, 1), fmt(x.perSecondPerCore, 0), String(x.batch)]),
      ),
    );
    out.push(`\nAuthorize stage (JWT verify + re-sign, every session, classical too): ${fig(r.handshake.authorizeUs, 1)} us.`);
  }
  if (r.relay) {
    out.push(`\n### 3. Relay cost (${fmt(r.relay.messagesPerSecond, 0)} client messages/s offered)\n`);
    out.push(
      table(
        [
          'target',
          'relay CPU us / frame',
          'of which kernel',
          'same from schedstat',
          'relay CPU, % of a core',
          'RTT p50 ms',
          'RTT p99 ms',
          'added p50 ms',
          'added p99 ms',
          'frames / s',
          'proxy-counted / client-counted frames',
        ],
        r.relay.rows.map((x) => [
          x.target,
          x.cpuUsPerFrame ? fig(x.cpuUsPerFrame, 1) : '—',
          x.kernelUsPerFrame ? fig(x.kernelUsPerFrame, 1) : '—',
          x.schedCpuUsPerFrame ? fig(x.schedCpuUsPerFrame, 1) : '—',
          x.relayCoreShare
            ? fig({ ...x.relayCoreShare, median: x.relayCoreShare.median * 100, min: x.relayCoreShare.min * 100, max: x.relayCoreShare.max * 100 }, 1)
            : '—',
          fig(x.rttP50Ms),
          fig(x.rttP99Ms),
          x.target === 'direct' ? '—' : fig(x.addedP50Ms),
          x.target === 'direct' ? '—' : fig(x.addedP99Ms),
          fig(x.framesPerSecond, 0),
          x.proxyCountRatio ? fig(x.proxyCountRatio, 3) : '—',
        ]),
      ),
    );
  }
  if (r.scale) {
    const s = r.scale;
    out.push(`\n### 4. Scale: idle sealed sessions through one proxy process (fd limit ${s.fdLimit})\n`);
    out.push(
      table(
        [
          'sessions',
          'proxy RSS MiB',
          'RSS KiB / session',
          'heap KiB / session',
          'marginal KiB / session',
          'loop delay p50 ms',
          'p99 ms',
          'max ms',
          'LiveKit RSS MiB',
          'ramp s (joins/s)',
        ],
        s.levels.map((l, i) => [
          String(l.sessions),
          fmt(l.rssKiB.median / 1024, 1),
          fig(l.rssKiBPerSession, 1),
          fig(l.heapKiBPerSession, 1),
          fmt(s.marginalKiB[i], 1),
          fmt(l.lagP50Ms),
          fmt(l.lagP99Ms),
          fmt(l.lagMaxMs),
          fmt(l.livekitRssKiB / 1024, 0),
          `${fmt(l.rampSeconds, 1)} (${fmt(l.joinsPerSecond, 0)})`,
        ]),
      ),
    );
    out.push(
      `\nBaseline proxy RSS ${fmt(s.baselineRssKiB.median / 1024, 1)} MiB. Linear fit of RSS over sessions: ${fmt(s.fit.slopeKiB, 1)} KiB/session, R² ${fmt(s.fit.r2, 4)}. ` +
        `Reached ${s.reached} sessions${s.shortfall ? ` (stopped: ${s.shortfall})` : ''}; ${s.failures} sessions failed (${describeCounts(s.failedSessions)}), ${s.retries} attempts retried after 429/503. Keepalive: one pingReq per session every ${s.pingIntervalS} s. ` +
        "Event-loop delay is prom-client's monitorEventLoopDelay at 10 ms resolution: the figures include that 10 ms sampling interval, so ~10 ms means no delay.",
    );
  }
  if (r.storm) {
    out.push('\n### 5. Reconnect storm\n');
    out.push(
      table(
        [
          'target',
          'all joined after s',
          'join p50 ms',
          'join p99 ms',
          'failed attempts, retried',
          'no JoinResponse by the deadline',
          'proxy handshake queue: queued / refused (429) / expired',
        ],
        r.storm.rows.map((x) => [
          x.target === 'sealed' ? 'proxy (sealed ML-KEM-768 in-band)' : x.target,
          fig(x.allJoinedS),
          fig(x.joinP50Ms, 0),
          fig(x.joinP99Ms, 0),
          fig(x.retries, 0),
          String(x.failures),
          x.target === 'direct' || !x.handshakeQueue
            ? '—'
            : `${x.handshakeQueue.queued} / ${x.handshakeQueue.refused} / ${x.handshakeQueue.expired}${x.handshakeQueue.metricPresent ? '' : ' (no metric)'}`,
        ]),
      ),
    );
  }
  if (r.storm) {
    for (const x of r.storm.rows) {
      if (totalFailures(x.retryReasons)) out.push(`\nRetried attempts, ${x.target}, all rounds: ${describeCounts(x.retryReasons)}.`);
    }
  }
  return out.join('\n');
}

// ---- SVG ----------------------------------------------------------------

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

interface Bar {
  readonly label: string;
  readonly series: Array<{ name: string; f: Figure | undefined }>;
}

function niceMax(v: number): number {
  if (!Number.isFinite(v) || v <= 0) return 1;
  const e = 10 ** Math.floor(Math.log10(v));
  for (const m of [1, 2, 2.5, 5, 10]) if (m * e >= v) return m * e;
  return 10 * e;
}

/** One horizontal grouped bar panel with min–max whiskers. */
function panel(x0: number, y0: number, w: number, title: string, unit: string, bars: Bar[], colors: string[]): { svg: string; height: number } {
  const labelW = 190;
  const rowH = 14;
  const groupGap = 8;
  const nSeries = Math.max(1, ...bars.map((b) => b.series.length));
  const plotW = w - labelW - 60;
  // The axis follows the medians (whiskers past it are clipped at the edge), so one wild round cannot flatten the bars.
  const max = niceMax(1.3 * Math.max(0, ...bars.flatMap((b) => b.series.map((s) => (s.f && Number.isFinite(s.f.median) ? s.f.median : 0)))));
  const clip = (v: number) => Math.min(v, max);
  const parts: string[] = [`<text x="${x0}" y="${y0 + 14}" font-size="14" font-weight="bold">${esc(title)}</text>`];
  let y = y0 + 30;
  // legend
  const names = bars[0]?.series.map((s) => s.name) ?? [];
  names.forEach((n, i) => {
    parts.push(`<rect x="${x0 + labelW + i * 110}" y="${y}" width="10" height="10" fill="${colors[i % colors.length]}"/>`);
    parts.push(`<text x="${x0 + labelW + i * 110 + 14}" y="${y + 9}" font-size="11">${esc(n)}</text>`);
  });
  y += 20;
  const axisTop = y;
  for (const b of bars) {
    parts.push(`<text x="${x0 + labelW - 6}" y="${y + (nSeries * rowH) / 2 + 4}" font-size="11" text-anchor="end">${esc(b.label)}</text>`);
    b.series.forEach((s, i) => {
      const by = y + i * rowH;
      const v = s.f?.median;
      if (v !== undefined && Number.isFinite(v)) {
        const bw = (clip(v) / max) * plotW;
        parts.push(`<rect x="${x0 + labelW}" y="${by + 1}" width="${bw.toFixed(1)}" height="${rowH - 3}" fill="${colors[i % colors.length]}"/>`);
        if (s.f && Number.isFinite(s.f.min) && Number.isFinite(s.f.max) && s.f.max > s.f.min) {
          const a = x0 + labelW + (s.f.min / max) * plotW;
          const c = x0 + labelW + (clip(s.f.max) / max) * plotW;
          const cy = by + rowH / 2 - 1;
          // A whisker that runs past the axis ends in an arrow head instead of a bar.
          const end =
            s.f.max > max ? `M${(c - 5).toFixed(1)} ${cy - 3}L${c.toFixed(1)} ${cy}L${(c - 5).toFixed(1)} ${cy + 3}` : `M${c.toFixed(1)} ${cy - 3}V${cy + 3}`;
          parts.push(`<path d="M${a.toFixed(1)} ${cy}H${c.toFixed(1)}M${a.toFixed(1)} ${cy - 3}V${cy + 3}${end}" stroke="#222" stroke-width="1" fill="none"/>`);
        }
        parts.push(
          `<text x="${(x0 + labelW + Math.max(bw, s.f && Number.isFinite(s.f.max) ? (clip(s.f.max) / max) * plotW : 0) + 4).toFixed(1)}" y="${by + rowH - 3}" font-size="10">${esc(v >= 100 ? v.toFixed(0) : v.toFixed(v >= 10 ? 1 : 2))}</text>`,
        );
      } else {
        parts.push(`<text x="${x0 + labelW + 4}" y="${by + rowH - 3}" font-size="10" fill="#888">n/a</text>`);
      }
    });
    y += nSeries * rowH + groupGap;
  }
  // axis
  parts.push(`<line x1="${x0 + labelW}" y1="${axisTop - 2}" x2="${x0 + labelW}" y2="${y}" stroke="#444"/>`);
  parts.push(`<line x1="${x0 + labelW}" y1="${y}" x2="${x0 + labelW + plotW}" y2="${y}" stroke="#444"/>`);
  for (let k = 0; k <= 4; k++) {
    const tx = x0 + labelW + (k / 4) * plotW;
    parts.push(`<line x1="${tx}" y1="${y}" x2="${tx}" y2="${y + 4}" stroke="#444"/>`);
    parts.push(`<text x="${tx}" y="${y + 16}" font-size="10" text-anchor="middle">${esc(String(+((max * k) / 4).toPrecision(3)))}</text>`);
  }
  parts.push(`<text x="${x0 + labelW + plotW / 2}" y="${y + 30}" font-size="11" text-anchor="middle">${esc(unit)}</text>`);
  return { svg: parts.join('\n'), height: y + 40 - y0 };
}

const TARGET_LABELS: Record<string, string> = { sealed: 'proxy sealed', classical: 'proxy classical', 'node-ws': 'bare Node.js + ws relay' };

export function chartSvg(r: Results, subtitle: string): string {
  const W = 860;
  const colors = ['#3b6ea5', '#e0883a', '#5a9e5a'];
  const parts: string[] = [];
  let y = 10;
  parts.push(`<text x="10" y="${y + 16}" font-size="16" font-weight="bold">volly-signaling benchmark: the cost of PQ signaling</text>`);
  parts.push(`<text x="10" y="${y + 34}" font-size="11" fill="#444">${esc(subtitle)}</text>`);
  y += 50;
  if (r.join) {
    const p = panel(
      10,
      y,
      W - 20,
      'Join latency: time to JoinResponse (median over rounds, whiskers: range)',
      'milliseconds',
      r.join.rows.map((x) => ({
        label: x.config,
        series: [
          { name: 'p50', f: x.p50Ms },
          { name: 'p99', f: x.p99Ms },
        ],
      })),
      colors,
    );
    parts.push(p.svg);
    y += p.height + 10;
  }
  if (r.relay) {
    const rows = r.relay.rows.filter((x) => x.cpuUsPerFrame);
    const p = panel(
      10,
      y,
      W - 20,
      'Relay cost: relay process CPU per relayed frame',
      'CPU microseconds per frame',
      rows.map((x) => ({
        label: TARGET_LABELS[x.target] ?? x.target,
        series: [
          { name: 'CPU/frame', f: x.cpuUsPerFrame },
          { name: 'of which kernel', f: x.kernelUsPerFrame },
        ],
      })),
      colors,
    );
    parts.push(p.svg);
    y += p.height + 10;
    const q = panel(
      10,
      y,
      W - 20,
      'Relay latency: pingReq → pongResp round trip',
      'milliseconds',
      r.relay.rows.map((x) => ({
        label: TARGET_LABELS[x.target] ?? x.target,
        series: [
          { name: 'p50', f: x.rttP50Ms },
          { name: 'p99', f: x.rttP99Ms },
        ],
      })),
      colors,
    );
    parts.push(q.svg);
    y += q.height + 10;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif" role="img">\n<title>volly-signaling benchmark: join latency and relay cost (${esc(subtitle)})</title>\n<rect width="100%" height="100%" fill="#fff"/>\n${parts.join('\n')}\n</svg>\n`;
}
