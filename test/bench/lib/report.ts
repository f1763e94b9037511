// The benchmark's outputs: summary.json (headline figures, targets, every
// scenario's detail, machine and runtime) and report.md (markdown tables);
// chart.svg is drawn in chart.ts.

import { type E2eeResults, e2eeTable } from '../scenarios/e2ee.ts';
import type { HandshakeResults } from '../scenarios/handshake.ts';
import type { JoinResults } from '../scenarios/join.ts';
import type { RelayResults } from '../scenarios/relay.ts';
import type { RttResults } from '../scenarios/rtt.ts';
import type { ScaleResults } from '../scenarios/scale.ts';
import type { StormResults } from '../scenarios/storm.ts';
import { describeCounts, totalFailures } from './failures.ts';
import { headlines } from './headlines.ts';
import { v2HandshakeTable } from './report-handshake-v2.ts';
import type { Figure } from './stats.ts';

export interface Results {
  handshake?: HandshakeResults;
  join?: JoinResults;
  relay?: RelayResults;
  scale?: ScaleResults;
  storm?: StormResults;
  rtt?: RttResults;
  /** Opt-in (--only=e2ee): Chromium pages with PQ end-to-end media keys. */
  e2ee?: E2eeResults;
}

const STORM_LABEL: Record<string, string> = {
  'node-ws': 'bare Node.js + ws relay',
  classical: 'proxy classical',
  sealed: 'proxy (sealed ML-KEM-768 in-band)',
};

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
    out.push(v2HandshakeTable(r.handshake.v2));
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
          STORM_LABEL[x.target] ?? x.target,
          fig(x.allJoinedS),
          fig(x.joinP50Ms, 0),
          fig(x.joinP99Ms, 0),
          fig(x.retries, 0),
          String(x.failures),
          x.target !== 'sealed' || !x.handshakeQueue
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
  if (r.e2ee) {
    out.push(
      "\n### 7. PQ end-to-end media keys (volly-e2ee.v1, docs/E2EE.md; opt-in `--only=e2ee`)\n\nChromium pages with the real livekit-client through the proxy, one browser on this machine; medians over rounds. First decoded frame: from the last joiner's join() until it has presented a frame of every other participant and every other one a frame of it. Rekey: from a leave until every remaining page rotated and holds every other remaining page's new key.\n",
    );
    out.push(e2eeTable(r.e2ee));
  }
  return out.join('\n');
}
