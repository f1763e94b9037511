// The SDK-side tunnel fuzz run: inputs (fuzz-tunnel-sdk-gen.ts) over
// `concurrency` lanes, each judged (fuzz-tunnel-sdk-exec.ts); over the run,
// honest joins through the tunnel (the raw signal harness) every
// `canaryEveryMs`, and at the end: the tunnel process still answers, no
// token or secret in its log, no signaling token crossed the tunnel→proxy
// tap in clear, and the tunnel dialed the proxy no more often than the
// well-formed signaling upgrades, joins and canaries allow (a malformed
// upgrade is refused before anything is sent).

import { redactTokens } from '@volly/shared';
import { connectSignal } from '../../harness/signal.ts';
import { keepFinding } from './findings.ts';
import { show } from './fuzz-http-oracle.ts';
import { bump } from './fuzz-http-stats.ts';
import { execSdk } from './fuzz-tunnel-sdk-exec.ts';
import { SdkInputs } from './fuzz-tunnel-sdk-gen.ts';
import type { TunnelFuzzTarget } from './fuzz-tunnel-target.ts';
import { queryArb } from './generators.ts';

export interface SdkRunOptions {
  inputs: number;
  concurrency: number;
  seed: number;
  timeLimitMs: number;
  canaryEveryMs?: number;
  onProgress?: (s: { done: number; elapsedMs: number; findings: number }) => void;
}

export interface SdkFuzzStats {
  inputs: number;
  durationMs: number;
  byKind: Record<string, number>;
  byOutcome: Record<string, Record<string, number>>;
  canaries: { ok: number; failed: number; failures: string[] };
  /** Upgrades the tunnel sent the proxy (ws client handshakes on the tap), and the most the inputs allow. */
  dials: { seen: number; allowed: number };
  alive: boolean;
  findings: string[];
  findingCount: number;
}

/** The tunnel's dials as the tap saw them: the `ws` client's handshake, with the subprotocol it always offers. */
const DIAL =
  /\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: [A-Za-z0-9+/=]+\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Protocol: volly-pq/g;

export async function runSdkFuzz(t: TunnelFuzzTarget, o: SdkRunOptions): Promise<SdkFuzzStats> {
  const s: SdkFuzzStats = {
    inputs: 0,
    durationMs: 0,
    byKind: {},
    byOutcome: {},
    canaries: { ok: 0, failed: 0, failures: [] },
    dials: { seen: 0, allowed: 0 },
    alive: true,
    findings: [],
    findingCount: 0,
  };
  const finding = (what: string) => keepFinding(s, what.slice(0, 400), 100);
  const inputs = new SdkInputs(t, o.seed);
  const started = performance.now();
  const deadline = started + o.timeLimitMs;
  let index = 0;
  let stop = false;
  let dialing = 0;
  const canary = async (n: number) => {
    dialing++;
    try {
      const sig = await connectSignal(t.tunnel.wsUrl, t.sig.join[o.concurrency + (n % 2)], undefined, { path: n % 2 ? '/rtc/v1' : '/rtc', timeoutMs: 20_000 });
      await sig.close();
      s.canaries.ok++;
    } catch (err) {
      s.canaries.failed++;
      if (s.canaries.failures.length < 10) s.canaries.failures.push((err as Error).message.slice(0, 160));
      finding(`canary: ${(err as Error).message.slice(0, 200)}`);
    }
  };
  const canaries = (async () => {
    for (let n = 0; !stop; n++) {
      await canary(n);
      await new Promise((r) => setTimeout(r, o.canaryEveryMs ?? 2000));
    }
  })();
  const progress = setInterval(() => o.onProgress?.({ done: s.inputs, elapsedMs: performance.now() - started, findings: s.findingCount }), 10_000);
  const lane = async (l: number) => {
    for (;;) {
      const i = index++;
      if (stop || i >= o.inputs || performance.now() > deadline) return;
      const input = inputs.at(i, queryArb);
      if (input.kind === 'frames' || (input.kind === 'upgrade' && input.upgrade.dials)) dialing++;
      const v = await execSdk(t, input, l);
      s.inputs++;
      bump(s.byKind, input.kind);
      const group = input.kind === 'frames' ? `frames ${input.frames.label}` : input.kind;
      s.byOutcome[group] ??= {};
      bump(s.byOutcome[group] as Record<string, number>, v.outcome.replace(/: .*/, ''));
      if (v.finding)
        finding(`#${i} ${input.kind} ${v.finding.kind}: ${v.finding.why}; ${input.kind === 'frames' ? input.frames.label : show(input.http.bytes, 200)}`);
      if (v.finding?.kind === 'crash') stop = true;
    }
  };
  await Promise.all(Array.from({ length: o.concurrency }, (_, l) => lane(l)));
  s.durationMs = performance.now() - started;
  clearInterval(progress);
  stop = true;
  await canaries;
  s.alive = await t.alive();
  if (!s.alive) finding('the tunnel process is gone');
  else await canary(0);

  const log = t.log();
  const tokens = [...t.sig.join, t.sig.bad, t.http.admin, t.http.join, ...t.http.bound, ...t.http.bad];
  // a signature alone is enough to flag (an alg:none token has none: the whole token then)
  for (const line of log.split('\n'))
    for (const tok of tokens)
      if (line.includes(tok) || ((tok.split('.')[2] ?? '').length >= 20 && line.includes(tok.split('.')[2] as string)))
        finding(`a token (or its signature) is in the tunnel log: ${show(Buffer.from(line), 300)}`);
  for (const secret of t.secrets) if (log.includes(secret)) finding('a secret is in the tunnel log');
  if (redactTokens(log) !== log) finding('a token-like string is in the tunnel log');

  const wire = t.tap.captured();
  for (const tok of [...t.sig.join, t.sig.bad]) if (wire.includes(tok)) finding('a signaling token crossed the tunnel→proxy wire in clear');
  s.dials = { seen: wire.match(DIAL)?.length ?? 0, allowed: 2 * dialing };
  if (s.dials.seen > s.dials.allowed)
    finding(`the tunnel dialed the proxy ${s.dials.seen} times; well-formed upgrades, joins and canaries allow ${s.dials.allowed}`);
  return s;
}
