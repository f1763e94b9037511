// The run's chart (chart.svg; docs/reports/bench-chart.svg is a copy): join latency, relay cost and
// join time over an emulated round trip as horizontal grouped bars with
// min–max whiskers, in plain SVG.

import type { Results } from './report.ts';
import { rttByConfig } from './report-rtt.ts';
import type { Figure } from './stats.ts';

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
  if (r.rtt) {
    const rtts = [...new Set(r.rtt.rows.map((x) => x.rttMs))];
    const p = panel(
      10,
      y,
      W - 20,
      'Join over an emulated round trip: new WebSocket → JoinResponse (median, whiskers: range over joins)',
      'milliseconds',
      rttByConfig(r.rtt).map((c) => ({
        label: c.config,
        series: rtts.map((t) => {
          const x = c.byRtt.get(t);
          return { name: `${t} ms RTT`, f: x ? { median: x.medianMs, min: x.minMs, max: x.maxMs, rounds: [] } : undefined };
        }),
      })),
      colors,
    );
    parts.push(p.svg);
    y += p.height + 10;
  }
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${y}" viewBox="0 0 ${W} ${y}" font-family="sans-serif" role="img">\n<title>volly-signaling benchmark: join latency, relay cost and join over a round trip (${esc(subtitle)})</title>\n<rect width="100%" height="100%" fill="#fff"/>\n${parts.join('\n')}\n</svg>\n`;
}
