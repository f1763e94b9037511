// The server-side tunnel fuzz: two `volly-pq tunnel`s (child processes)
// pointed at a hostile fake proxy (fuzz-tunnel-server-fake.ts): one (A) reads
// the proxy's key from the fake's well-known document, the other (B) holds
// the real proxy's key (--server-key), as a deployment that pins it. An SDK
// side drives one signaling upgrade per input. Oracles: every upgrade is
// answered with an HTTP status (never 101) unless a MITM relays the real
// proxy, nothing the fake made up (MARK) reaches the SDK, no token-shaped
// text in what the SDK gets or the tunnels log, a tampered frame ends the
// SDK's socket and nothing after it is passed on, both tunnels live on, and
// honest joins through the relay keep working.

import { SignalRequest } from '@livekit/protocol';
import { createLogger } from '@volly/proxy';
import { redactTokens } from '@volly/shared';
import { type LiveKitServer, startLiveKit } from '../../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../../harness/proxy.ts';
import { dialRaw } from '../../harness/raw-socket.ts';
import { connectSignal, signalUrl } from '../../harness/signal.ts';
import { startTunnel, type TestTunnel, tunnelLog, v2ProxyEnv } from '../../harness/tunnel.ts';
import { keepFinding } from './findings.ts';
import { bump } from './fuzz-http-stats.ts';
import { exchange } from './fuzz-http-wire.ts';
import { type DialRecord, type FakeProxy, startFakeProxy } from './fuzz-tunnel-server-fake.ts';
import { FAKE_TOKEN, MARK, type ServerPlan, serverPlan } from './fuzz-tunnel-server-plan.ts';
import { Prng } from './mutate.ts';

export interface ServerFuzzTarget {
  readonly livekit: LiveKitServer;
  readonly proxy: TestProxy;
  readonly fake: FakeProxy;
  /** A: keys from the fake's document; B: the real proxy's key pinned. */
  readonly tunnels: { readonly a: TestTunnel; readonly b: TestTunnel };
  /** Pinned tunnels, one per MITM slot of the fake. */
  readonly mitm: readonly TestTunnel[];
  readonly tokens: readonly string[];
  close(): Promise<void>;
}

export async function startServerFuzzTarget(lanes: number, seed: number, slots = 2): Promise<ServerFuzzTarget> {
  const livekit = await startLiveKit();
  const env = v2ProxyEnv();
  const proxy = await startTestProxy(livekit, env, { logger: createLogger('error') });
  const doc = await (await fetch(`${proxy.url}/.well-known/volly-pq`)).text();
  const fake = await startFakeProxy(proxy.wsUrl, doc, seed, slots);
  const as = (wsUrl: string) => ({ ...proxy, wsUrl, url: wsUrl.replace('ws:', 'http:') });
  const pin = { args: ['--server-key', env.VOLLY_SERVER_KEYS as string] };
  const a = await startTunnel(as(fake.wsUrl));
  const b = await startTunnel(as(fake.wsUrl), pin);
  const mitm = await Promise.all(fake.slots.map((slot) => startTunnel(as(slot.wsUrl), pin)));
  const tokens = await Promise.all(Array.from({ length: lanes + 1 }, (_, i) => proxy.token('fz-srv-room', `fz-srv-${i}`)));
  return {
    livekit,
    proxy,
    fake,
    tunnels: { a, b },
    mitm,
    tokens,
    async close() {
      await Promise.all([a, b, ...mitm].map((x) => x.close()));
      await fake.close();
      await proxy.close();
      await livekit.stop();
    },
  };
}

export interface ServerFuzzStats {
  inputs: number;
  durationMs: number;
  byPlan: Record<string, Record<string, number>>;
  docs: { real: number; fuzzed: number };
  canaries: { ok: number; failed: number; refusedByCachedDocument: number };
  /**
   * Refusals whose body is the fake's unsealed close reason (known: signal.ts passes a close frame's
   * reason from before the session opened on to the SDK; fuzz-tunnel-server.test.ts pins it).
   */
  unsealedReasons: number;
  /** Silent 101s held until the SDK left: connections to the fake the tunnel closed by the end of the run, and not. */
  held: { released: number; kept: number };
  alive: boolean;
  findings: string[];
  findingCount: number;
}

const PING = new SignalRequest({ message: { case: 'ping', value: 1n } }).toBinary();

/** The path and query of a join: `/fz/<i>/rtc?...` (a signaling path to the tunnel) names input i to the fake. */
const pathFor = (i: number | undefined, token: string) => {
  const u = new URL(signalUrl(`ws://127.0.0.1:1${i === undefined ? '' : `/fz/${i}`}/rtc`, token));
  return `${u.pathname}${u.search}`;
};

export async function runServerFuzz(
  t: ServerFuzzTarget,
  o: { inputs: number; concurrency: number; seed: number; timeLimitMs: number },
): Promise<ServerFuzzStats> {
  const s: ServerFuzzStats = {
    inputs: 0,
    durationMs: 0,
    byPlan: {},
    docs: t.fake.docs,
    canaries: { ok: 0, failed: 0, refusedByCachedDocument: 0 },
    unsealedReasons: 0,
    held: { released: 0, kept: 0 },
    alive: true,
    findings: [],
    findingCount: 0,
  };
  const finding = (what: string) => keepFinding(s, what.slice(0, 400), 100);
  const started = performance.now();
  let index = 0;
  const held: Array<{ label: string; rec: DialRecord | undefined; at: number }> = [];

  const free = t.fake.slots.map((_, k) => k);
  const waiting: Array<(k: number) => void> = [];
  const slot = () => new Promise<number>((resolve) => (free.length ? resolve(free.pop() as number) : waiting.push(resolve)));
  const release = (k: number) => (waiting.length ? waiting.shift()?.(k) : free.push(k));

  /** The SDK joins through a pinned tunnel whose fake relays the real proxy and tampers with one frame. */
  const viaMitm = async (label: string, plan: Extract<ServerPlan, { kind: 'mitm' }>, token: string): Promise<string> => {
    const k = await slot();
    const sl = t.fake.slots[k] as FakeProxy['slots'][number];
    sl.plan = plan;
    sl.rec = { dials: 0, passed: 0, tampered: false, closed: false };
    const rec = sl.rec;
    try {
      const port = Number(new URL((t.mitm[k] as TestTunnel).url).port);
      const d = await dialRaw({ host: '127.0.0.1', port, path: pathFor(undefined, token), timeoutMs: 20_000 });
      if (!d.ok) return d.outcome;
      const conn = d.conn;
      // LiveKit answers pings: traffic for the tamper to land in
      for (let n = 0; n < 12 && !conn.ended; n++) {
        conn.send(PING);
        await conn.next(150);
      }
      if (rec.tampered && !conn.ended) await conn.waitClose(5000);
      if (rec.tampered && conn.messages.length > rec.passed)
        finding(`${label}: the SDK got ${conn.messages.length} messages, only ${rec.passed} came untouched from the proxy`);
      if (rec.tampered && !conn.ended) finding(`${label}: the SDK's socket is still open 5 s after a tampered frame`);
      conn.destroy();
      return !rec.tampered ? 'joined, untouched' : conn.closeCode === null ? 'joined, then dropped' : `joined, then close ${conn.closeCode}`;
    } finally {
      sl.plan = undefined;
      release(k);
    }
  };

  const one = async (i: number, lane: number) => {
    const r = new Prng((o.seed * 2654435761 + i * 40503) >>> 0);
    const plan = serverPlan(r);
    const which = r.chance(0.5) ? 'b' : 'a';
    const token = t.tokens[lane] as string;
    let outcome: string;
    if (plan.kind === 'mitm') outcome = await viaMitm(`#${i} mitm ${plan.tamper}@${plan.at}`, plan, token);
    else {
      const label = `#${i} ${plan.kind}${plan.kind === 'status' ? ` ${plan.status}` : ''} via ${which}`;
      const port = Number(new URL(t.tunnels[which].url).port);
      t.fake.plans.set(i, plan);
      // the fake stays silent after its 101: the SDK's own connect timeout decides, as with a silent LiveKit
      const silent = plan.kind === 'junk' && plan.end === 'stay';
      const req = `GET ${pathFor(i, token)} HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dm9sbHktZnV6ei1rZXkxMg==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
      const ex = await exchange({ host: '127.0.0.1', port, data: Buffer.from(req), silenceMs: 25_000, timeoutMs: silent ? 8000 : 25_000 });
      outcome = ex.outcome;
      const text = ex.received.toString('latin1');
      if (ex.outcome === 'refused') finding(`${label}: tunnel ${which} refused the connection (gone)`);
      else if (ex.status === 101) finding(`${label}: the SDK got 101 from a server that cannot seal`);
      else if (ex.outcome === 'stuck' && silent) {
        // ... and once the SDK gives up, the tunnel should let go of the proxy's side (counted at the end)
        outcome = 'held until the SDK left';
        held.push({ label, rec: t.fake.records.get(i), at: performance.now() });
      } else if (ex.status === null) finding(`${label}: ${ex.outcome}, no HTTP status for the SDK`);
      const unsealed = text.includes(MARK) || redactTokens(text) !== text;
      if (unsealed && plan.kind === 'junk' && plan.frames.some((f) => ((f[0] as number) & 0x0f) === 8)) s.unsealedReasons++;
      else if (unsealed) finding(`${label}: the fake's unsealed text reached the SDK: ${text.slice(0, 200)}`);
      t.fake.plans.delete(i);
      if (outcome !== 'held until the SDK left') t.fake.records.delete(i);
    }
    s.inputs++;
    s.byPlan[plan.kind] ??= {};
    bump(s.byPlan[plan.kind] as Record<string, number>, outcome.replace(/^stuck.*/, 'stuck'));
  };

  await Promise.all(
    Array.from({ length: o.concurrency }, async (_, lane) => {
      for (;;) {
        const i = index++;
        if (i >= o.inputs || performance.now() - started > o.timeLimitMs) return;
        await one(i, lane);
      }
    }),
  );
  s.durationMs = performance.now() - started;
  // KNOWN (pinned in fuzz-tunnel-server.test.ts): the tunnel keeps a silent proxy's connection after the SDK left
  for (const h of held) h.rec?.closed ? s.held.released++ : s.held.kept++;

  // an honest join through each tunnel, relayed untouched by the fake, its document the real one
  t.fake.honest = true;
  for (const which of ['a', 'b'] as const) {
    try {
      const sig = await connectSignal(t.tunnels[which].wsUrl, t.tokens[o.concurrency], undefined, { timeoutMs: 20_000 });
      await sig.close();
      s.canaries.ok++;
    } catch (err) {
      const msg = (err as Error).message;
      // KNOWN: a document that failed to give keys is cached 5 min (FAILED_FETCH_TTL_MS), so A refuses until then
      if (which === 'a' && msg.includes('serves no volly-pq.v2 keys')) s.canaries.refusedByCachedDocument++;
      else {
        s.canaries.failed++;
        finding(`canary via ${which}: ${msg.slice(0, 200)}`);
      }
    }
  }
  const untouched = await viaMitm('canary via a MITM slot', { kind: 'mitm', at: -1, tamper: 'flip' }, t.tokens[o.concurrency] as string);
  t.fake.honest = false;
  if (untouched === 'joined, untouched') s.canaries.ok++;
  else {
    s.canaries.failed++;
    finding(`canary via a MITM slot: ${untouched}`);
  }
  for (const [which, tunnel] of [['a', t.tunnels.a], ['b', t.tunnels.b], ...t.mitm.map((m, k) => [`mitm ${k}`, m] as const)] as const) {
    const alive = await tunnel.metrics().then(
      (m) => m.includes('volly_tunnel_'),
      () => false,
    );
    const log = tunnelLog(tunnel);
    // its last words: the first lines that are not a JSON log line (Node's report of an uncaught error)
    const crash = log.split('\n').find((l) => l.includes('"event":"crash"'));
    const words = crash ? String((JSON.parse(crash) as { err?: string }).err).slice(0, 500) : log.trimEnd().split('\n').slice(-3).join(' | ');
    if (!alive) {
      s.findingCount++;
      s.findings.unshift(`tunnel ${which} is gone: ${words.slice(0, 600)}`);
    }
    s.alive &&= alive;
    if (log.includes(FAKE_TOKEN) || redactTokens(log) !== log) finding(`tunnel ${which}'s log holds a token-shaped string`);
    for (const tok of t.tokens) if (log.includes(tok)) finding(`tunnel ${which}'s log holds an SDK token`);
  }
  return s;
}
