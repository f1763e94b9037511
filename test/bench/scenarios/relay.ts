// Scenario 3: relay cost per frame. One fixed signaling workload — S sessions
// in rooms of 10, each sending a pingReq and an UpdateTrackSettings
// alternately every `intervalMs` — run direct to LiveKit, through nginx (one
// worker), through a bare Node.js + ws relay (node-ws-relay.mjs: the floor
// of any relay on Node.js), and through the proxy classical and sealed
// (ML-KEM-768 in-band).
// Per round and target: open the sessions, warm up, then over a window take
// the relay process's CPU (utime+stime of the OS process from /proc) per frame
// relayed (frames the clients sent + received in the window), and the
// pingReq → pongResp round trip (LiveKit answers it in its WebSocket loop).

import { type SignalResponse, UpdateTrackSettings, VideoQuality } from '@livekit/protocol';
import { type BenchSession, type FrameCounters, openSession, pool, tallySessionFailures } from '../lib/client.ts';
import { addCounts, countFailure, type FailureCounts } from '../lib/failures.ts';
import { type Figure, figure, median, p99 } from '../lib/stats.ts';
import { mintToken } from '../lib/tokens.ts';
import { rotate, type Servers, sleep, type TargetName, target, within } from './common.ts';

export interface RelayOptions {
  readonly rounds: number;
  readonly sessions: number;
  /** Each session sends one message every intervalMs (pingReq and track settings alternately). */
  readonly intervalMs: number;
  readonly warmupMs: number;
  readonly windowMs: number;
}

export interface RelayRow {
  readonly target: TargetName;
  /** Relay process CPU microseconds per relayed frame; undefined for direct. */
  readonly cpuUsPerFrame: Figure | undefined;
  /** Of which in the kernel (stime): loopback TCP is processed inside the sender's write(). */
  readonly kernelUsPerFrame: Figure | undefined;
  readonly rttP50Ms: Figure;
  readonly rttP99Ms: Figure;
  /** Added round trip over direct, per round (ms). */
  readonly addedP50Ms: Figure;
  readonly addedP99Ms: Figure;
  readonly framesPerSecond: Figure;
  /** Relay process CPU as a share of one core during the window. */
  readonly relayCoreShare: Figure | undefined;
  /** The same CPU from schedstat (ns resolution): a cross-check of the tick-based figure. */
  readonly schedCpuUsPerFrame: Figure | undefined;
  /** Frames the proxy itself counted (volly_frames_total) over the client-side count; a cross-check. */
  readonly proxyCountRatio: Figure | undefined;
  /** Sessions that failed to open or dropped during a round, by failure key, all rounds. */
  readonly failedSessions: FailureCounts;
}

export interface RelayResults {
  readonly rows: RelayRow[];
  readonly messagesPerSecond: number;
}

interface RoundStats {
  cpuPerFrame?: number;
  kernelPerFrame?: number;
  schedPerFrame?: number;
  p50: number;
  p99: number;
  fps: number;
  share?: number;
  proxyCountRatio?: number;
  failed: FailureCounts;
}

async function oneRound(s: Servers, name: TargetName, r: number, o: RelayOptions): Promise<RoundStats> {
  const t = target(s, name);
  const counters: FrameCounters = { sent: 0, received: 0 };
  const rtts: number[] = [];
  let measuring = false;
  const pending: Array<Map<bigint, number>> = [];
  const tokens = await Promise.all(Array.from({ length: o.sessions }, (_, i) => mintToken(t.creds, `relay-${name}-r${r}-${Math.floor(i / 10)}`, `u${i}`)));
  const failed: FailureCounts = {};
  // A session that fails to open is counted and left out of the workload, not fatal to the run.
  const opened = await pool(o.sessions, 32, async (i) => {
    const inflight = new Map<bigint, number>();
    pending[i] = inflight;
    return openSession({
      baseUrl: t.baseUrl,
      token: tokens[i] as string,
      ...(t.sealed ? { sealed: t.sealed } : {}),
      counters,
      onMessage: (m: SignalResponse) => {
        if (m.message.case !== 'pongResp') return;
        const sentAt = inflight.get(m.message.value.lastPingTimestamp);
        if (sentAt === undefined) return;
        inflight.delete(m.message.value.lastPingTimestamp);
        if (measuring) rtts.push(performance.now() - sentAt);
      },
    }).catch((err: unknown) => {
      countFailure(failed, err);
      return undefined;
    });
  });
  const live = opened.flatMap((x, i) => (x ? [{ sess: x, inflight: pending[i] as Map<bigint, number> }] : []));
  const sessions: BenchSession[] = live.map((x) => x.sess);
  // The workload: every session, every intervalMs, alternately a pingReq and track settings.
  const settings = new UpdateTrackSettings({ trackSids: ['TR_benchVideo'], disabled: false, quality: VideoQuality.HIGH, width: 1280, height: 720, fps: 30 });
  const timers: Array<ReturnType<typeof setInterval>> = [];
  const starters: Array<ReturnType<typeof setTimeout>> = [];
  for (const { sess, inflight } of live) {
    let n = 0;
    let timer: ReturnType<typeof setInterval> | undefined;
    const tick = () => {
      n++;
      let sent: boolean;
      if (n % 2 === 1) {
        const ts = BigInt(n);
        inflight.set(ts, performance.now());
        sent = sess.send({ case: 'pingReq', value: { timestamp: ts, rtt: 0n } as never });
      } else {
        sent = sess.send({ case: 'trackSetting', value: settings });
      }
      // A failed session stops its own workload (it is counted below).
      if (!sent) clearInterval(timer);
    };
    starters.push(
      setTimeout(() => {
        tick();
        timer = setInterval(tick, o.intervalMs);
        timers.push(timer);
      }, Math.random() * o.intervalMs),
    );
  }
  await sleep(o.warmupMs);
  const relay = name === 'direct' ? undefined : name === 'nginx' ? s.nginx : name === 'node-ws' ? s.nodeWs : s.proxy;
  const proxyFrames = async () => {
    const m = await s.proxy.metrics();
    let n = 0;
    for (const [k, v] of m) if (k.startsWith('volly_frames_total{') && k.includes(`mode="${name === 'sealed' ? 'pq' : 'classical'}"`)) n += v;
    return n;
  };
  const countsProxy = name === 'classical' || name === 'sealed';
  const pf0 = countsProxy ? await proxyFrames() : 0;
  const c0 = relay?.cpuMicros() ?? 0;
  const k0 = relay?.kernelMicros() ?? 0;
  const sc0 = relay?.schedCpuMicros() ?? 0;
  const f0 = counters.sent + counters.received;
  const w0 = performance.now();
  measuring = true;
  await sleep(o.windowMs);
  measuring = false;
  const c1 = relay?.cpuMicros() ?? 0;
  const k1 = relay?.kernelMicros() ?? 0;
  const sc1 = relay?.schedCpuMicros() ?? 0;
  const f1 = counters.sent + counters.received;
  const w1 = performance.now();
  const pf1 = countsProxy ? await proxyFrames() : 0;
  tallySessionFailures(sessions, failed);
  for (const t of starters) clearTimeout(t);
  for (const t of timers) clearInterval(t);
  await sleep(200);
  for (const sess of sessions) sess.close();
  await within(Promise.all(sessions.map((x) => x.closed)), 5_000);
  const frames = f1 - f0;
  return {
    ...(relay
      ? { cpuPerFrame: (c1 - c0) / frames, kernelPerFrame: (k1 - k0) / frames, schedPerFrame: (sc1 - sc0) / frames, share: (c1 - c0) / 1000 / (w1 - w0) }
      : {}),
    ...(countsProxy ? { proxyCountRatio: (pf1 - pf0) / frames } : {}),
    p50: median(rtts),
    p99: p99(rtts),
    fps: (frames * 1000) / (w1 - w0),
    failed,
  };
}

export async function runRelay(s: Servers, o: RelayOptions, log: (line: string) => void): Promise<RelayResults> {
  const names: TargetName[] = ['direct', ...(s.nginx ? (['nginx'] as const) : []), ...(s.nodeWs ? (['node-ws'] as const) : []), 'classical', 'sealed'];
  const stats = new Map<TargetName, RoundStats[]>(names.map((n) => [n, []]));
  for (let r = 0; r < o.rounds; r++) {
    for (const name of rotate(names, r)) {
      const st = await oneRound(s, name, r, o);
      (stats.get(name) as RoundStats[]).push(st);
      log(
        `relay r${r} ${name}: ${st.fps.toFixed(0)} frames/s, RTT p50 ${st.p50.toFixed(2)} ms p99 ${st.p99.toFixed(2)} ms` +
          (st.cpuPerFrame !== undefined
            ? `, ${st.cpuPerFrame.toFixed(1)} us CPU/frame (schedstat ${(st.schedPerFrame ?? 0).toFixed(1)}; ${((st.share ?? 0) * 100).toFixed(1)}% of a core)`
            : ''),
      );
    }
  }
  const direct = stats.get('direct') as RoundStats[];
  const rows = names.map((name): RelayRow => {
    const st = stats.get(name) as RoundStats[];
    const cpu = st.map((x) => x.cpuPerFrame ?? Number.NaN);
    return {
      target: name,
      cpuUsPerFrame: name === 'direct' ? undefined : figure(cpu),
      schedCpuUsPerFrame: name === 'direct' ? undefined : figure(st.map((x) => x.schedPerFrame ?? Number.NaN)),
      kernelUsPerFrame: name === 'direct' ? undefined : figure(st.map((x) => x.kernelPerFrame ?? Number.NaN)),
      rttP50Ms: figure(st.map((x) => x.p50)),
      rttP99Ms: figure(st.map((x) => x.p99)),
      addedP50Ms: figure(st.map((x, i) => x.p50 - (direct[i]?.p50 ?? Number.NaN))),
      addedP99Ms: figure(st.map((x, i) => x.p99 - (direct[i]?.p99 ?? Number.NaN))),
      framesPerSecond: figure(st.map((x) => x.fps)),
      relayCoreShare: name === 'direct' ? undefined : figure(st.map((x) => x.share ?? Number.NaN)),
      proxyCountRatio: name === 'classical' || name === 'sealed' ? figure(st.map((x) => x.proxyCountRatio ?? Number.NaN)) : undefined,
      failedSessions: st.reduce<FailureCounts>((acc, x) => addCounts(acc, x.failed), {}),
    };
  });
  return { rows, messagesPerSecond: (o.sessions * 1000) / o.intervalMs };
}
