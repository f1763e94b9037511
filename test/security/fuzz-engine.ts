// Live fuzzing of the volly-pq proxy in front of a real LiveKit: generated
// (fast-check) and mutated (seeded from recorded real sessions) upgrades,
// handshakes, tokens and sealed frames, many connections at once, with two
// independent leak oracles:
//   - the proxy's own counters: upstream dials and client_to_upstream frames
//     must grow only by what honest traffic (seed sessions, canaries, inputs
//     whose frames did open) accounts for;
//   - LiveKit's side: its log ("starting RTC session" per participant, by
//     identity) and a watcher participant that would see metadata that only a
//     fuzzed frame could set.
// Honest canary joins run alongside to show the proxy keeps serving.
// Used by fuzz-live.test.ts (short) and test/scripts/fuzz-live.ts (long runs).

import { readFileSync } from 'node:fs';
import { Worker } from 'node:worker_threads';
import { SignalRequest, type SignalResponse } from '@livekit/protocol';
import {
  addPqClaims,
  clientHandshake,
  decodeResponse,
  encodeControl,
  encodeHandshake,
  FrameKind,
  FrameSealer,
  getAead,
  getKem,
  type KemAlgorithm,
  type KemKeyPair,
  randomBytes,
  SESSION_ID_PARAM,
  type SealedChannel,
  SUBPROTOCOL,
  sealedChannel,
  splitSignalUrl,
  toBase64Url,
} from '@volly/shared';
import fc from 'fast-check';
import { AccessToken } from 'livekit-server-sdk';
import { metricSum } from '../harness/metrics.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startTestProxy } from '../harness/proxy.ts';
import { openRawPq, type RawPq } from '../harness/raw-pq.ts';
import { connectSignal, type SignalConnection, signalUrl } from '../harness/signal.ts';
import { type ControlSpec, controlArb, handshakeArb, hugeProtobufArb, protobufArb, type TokenKeys, tokenArb } from './generators.ts';
import { equal, mutate, mutateToken, Prng } from './mutate.ts';
import { type Dialed, dialRaw, type RawConn } from './raw-socket.ts';

const aead = getAead();
const ALGS: KemAlgorithm[] = ['ML-KEM-768', 'X-Wing'];

export type FuzzClass =
  | 'upgrade'
  | 'classical-token'
  | 'token-url'
  | 'hello-mutated'
  | 'hello-generated'
  | 'connect-mutated'
  | 'connect-attack'
  | 'connect-sealed-hostile'
  | 'post-join'
  | 'huge-frame';

/** Relative weights; the long run is mostly pre-handshake and first-sealed-frame input. */
export const DEFAULT_MIX: Record<FuzzClass, number> = {
  upgrade: 20,
  'classical-token': 40,
  'token-url': 120,
  'hello-mutated': 250,
  'hello-generated': 150,
  'connect-mutated': 250,
  'connect-attack': 80,
  'connect-sealed-hostile': 60,
  'post-join': 2,
  'huge-frame': 1,
};

/** Outcomes each class may end in; anything else is a finding. */
export const ALLOWED: Record<FuzzClass, RegExp> = {
  upgrade: /^(http (400|401|403|404|431)|close (4400|4401|4403|4408)|keyed|client refused subprotocol)$/,
  'classical-token': /^(http (400|401|403|431))$/,
  'token-url': /^(http (400|431)|close (4400|4401|4403|4408)|keyed)$/,
  'hello-mutated': /^(close (1009|4400|4403)|keyed)$/,
  'hello-generated': /^(close (1009|4400|4403)|keyed)$/,
  'connect-mutated': /^close (1009|4400)$/,
  'connect-attack': /^close (1009|4400)$/,
  'connect-sealed-hostile': /^(close (1009|4400|4401|4502)|joined|upstream refused \d{3})$/,
  'post-join': /^(close (1009|4400)|forwarded, (livekit closed \d+|still open))$/,
  'huge-frame': /^close 1009$/,
};

export interface FuzzTarget {
  readonly livekit: LiveKitServer;
  readonly proxy: ProxyEndpoint;
  readonly keys: TokenKeys;
  /** In-band token for identity fz-victim: must never reach LiveKit from a failing input. */
  readonly victimToken: string;
  /** Token-bound tokens (fz-victim) and the key pairs they bind. */
  readonly bound: Record<KemAlgorithm, { token: string; keyPair: KemKeyPair }>;
  /** A valid token for identity fz-open: inputs whose sealed frames do open may join with it. */
  readonly openToken: string;
  /**
   * Token-bound tokens for identity fz-open, bound to the same keys: sessions whose first sealed frame is
   * sealed correctly (an empty connect token falls back to the URL token, by the protocol) use these.
   */
  readonly openBound: Record<KemAlgorithm, string>;
  readonly seeds: Seeds;
  readonly query: string;
  close(): Promise<void>;
}

export interface Seeds {
  handshakes: Uint8Array[];
  connects: Uint8Array[];
  sealedLiveKit: Uint8Array[];
  received: Uint8Array[];
  all: Uint8Array[];
}

function mint(
  key: string,
  secret: string,
  identity: string,
  room: string,
  ttl = '4h',
  extra: Record<string, unknown> = {},
  bind?: { algorithm: KemAlgorithm; publicKey: Uint8Array; keyExpiry?: number },
): Promise<string> {
  const at = new AccessToken(key, secret, { identity, ttl });
  at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true, canUpdateOwnMetadata: true, ...extra });
  if (bind) addPqClaims(at, { ...bind, keyExpiry: bind.keyExpiry ?? Math.floor(Date.now() / 1000) + 4 * 3600 });
  return at.toJwt();
}

/** The proxy under test, wherever it runs. */
export interface ProxyEndpoint {
  readonly host: string;
  readonly port: number;
  readonly wsUrl: string;
  readonly adminUrl: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly maxFrameBytes: number;
  /** 'process': this process; 'worker': a worker thread of it (the fuzzer and the proxy each get a core). */
  readonly where: 'process' | 'worker';
  /** Uncaught exceptions and unhandled rejections in the proxy's thread (worker only; in-process ones are counted by the runner). */
  readonly crashes: string[];
  /** True once the proxy's thread has exited. */
  exited(): boolean;
  close(): Promise<void>;
}

const PROXY_ENV = { VOLLY_LOG_LEVEL: 'error', VOLLY_HANDSHAKE_TIMEOUT_MS: '5000' };

async function proxyInProcess(livekit: LiveKitServer, env: Record<string, string>): Promise<ProxyEndpoint> {
  const p = await startTestProxy(livekit, { ...PROXY_ENV, ...env });
  return {
    host: '127.0.0.1',
    port: p.proxy.port,
    wsUrl: p.wsUrl,
    adminUrl: p.adminUrl,
    apiKey: p.apiKey,
    apiSecret: p.apiSecret,
    maxFrameBytes: p.config.limits.maxFrameBytes,
    where: 'process',
    crashes: [],
    exited: () => false,
    close: () => p.close(),
  };
}

async function proxyInWorker(livekit: LiveKitServer, env: Record<string, string>): Promise<ProxyEndpoint> {
  const worker = new Worker(new URL('./proxy-worker.ts', import.meta.url), {
    workerData: { livekit: { url: livekit.url, apiKey: livekit.apiKey, apiSecret: livekit.apiSecret }, env: { ...PROXY_ENV, ...env } },
  });
  const crashes: string[] = [];
  let exited = false;
  let onClosed: (() => void) | undefined;
  worker.on('error', (err) => crashes.push(`worker error: ${err.stack ?? err.message}`));
  worker.on('exit', () => {
    exited = true;
    onClosed?.();
  });
  const ready = await new Promise<{ port: number; adminPort: number; apiKey: string; apiSecret: string; maxFrameBytes: number }>((resolve, reject) => {
    worker.on('message', (m: { type: string; message?: string }) => {
      if (m.type === 'ready') resolve(m as never);
      if (m.type === 'crash') crashes.push(m.message ?? '');
    });
    worker.once('exit', (code) => reject(new Error(`proxy worker exited with ${code} before it was ready`)));
  });
  return {
    host: '127.0.0.1',
    port: ready.port,
    wsUrl: `ws://127.0.0.1:${ready.port}`,
    adminUrl: `http://127.0.0.1:${ready.adminPort}`,
    apiKey: ready.apiKey,
    apiSecret: ready.apiSecret,
    maxFrameBytes: ready.maxFrameBytes,
    where: 'worker',
    crashes,
    exited: () => exited,
    close: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        const t = setTimeout(() => void worker.terminate(), 45_000);
        onClosed = () => {
          clearTimeout(t);
          resolve();
        };
        worker.on('message', (m: { type: string }) => {
          if (m.type === 'closed') onClosed?.();
        });
        worker.postMessage('close');
      }),
  };
}

export async function startFuzzTarget(opts: { env?: Record<string, string>; proxyIn?: 'process' | 'worker' } = {}): Promise<FuzzTarget> {
  const livekit = await startLiveKit({ logLevel: 'info' });
  const proxy = opts.proxyIn === 'worker' ? await proxyInWorker(livekit, opts.env ?? {}) : await proxyInProcess(livekit, opts.env ?? {});
  const bound = {} as Record<KemAlgorithm, { token: string; keyPair: KemKeyPair }>;
  for (const a of ALGS) {
    const keyPair = getKem(a).keygen();
    bound[a] = { keyPair, token: await mint(proxy.apiKey, proxy.apiSecret, 'fz-victim', 'fz-room', '4h', {}, { algorithm: a, publicKey: keyPair.publicKey }) };
  }
  const keys: TokenKeys = {
    apiKey: proxy.apiKey,
    apiSecret: proxy.apiSecret,
    upstreamKey: livekit.apiKey,
    upstreamSecret: livekit.apiSecret,
    mlKemPublicKey: toBase64Url(bound['ML-KEM-768'].keyPair.publicKey),
    xWingPublicKey: toBase64Url(bound['X-Wing'].keyPair.publicKey),
  };
  const openBound = {} as Record<KemAlgorithm, string>;
  for (const a of ALGS)
    openBound[a] = await mint(proxy.apiKey, proxy.apiSecret, 'fz-open', 'fz-open-room', '4h', {}, { algorithm: a, publicKey: bound[a].keyPair.publicKey });
  const query = splitSignalUrl(signalUrl(proxy.wsUrl, 'x'), 'in-band').query;
  const seeds = await recordSeeds(proxy);
  return {
    livekit,
    proxy,
    keys,
    victimToken: await mint(proxy.apiKey, proxy.apiSecret, 'fz-victim', 'fz-room'),
    bound,
    openToken: await mint(proxy.apiKey, proxy.apiSecret, 'fz-open', 'fz-open-room'),
    openBound,
    seeds,
    query,
    async close() {
      await proxy.close();
      await livekit.stop();
    },
  };
}

/** Real sessions through the proxy (both algorithms, both modes), frames recorded with openRawPq. */
async function recordSeeds(proxy: ProxyEndpoint): Promise<Seeds> {
  const seeds: Seeds = { handshakes: [], connects: [], sealedLiveKit: [], received: [], all: [] };
  for (const a of ALGS) {
    for (const mode of ['in-band', 'token-bound'] as const) {
      const keyPair = mode === 'token-bound' ? getKem(a).keygen() : undefined;
      const t = await mint(
        proxy.apiKey,
        proxy.apiSecret,
        `fz-seed-${a}-${mode}`,
        'fz-seed-room',
        '10m',
        {},
        keyPair ? { algorithm: a, publicKey: keyPair.publicKey } : undefined,
      );
      const raw = await openRawPq(proxy.wsUrl, t, { algorithm: a, ...(keyPair ? { keyPair } : {}) });
      raw.send({ case: 'updateMetadata', value: { metadata: 'seed' } as never });
      raw.send({ case: 'ping', value: BigInt(Date.now()) });
      await raw.waitFor((m) => m.message.case === 'pong');
      raw.ws.close(1000);
      await raw.closed;
      if (mode === 'in-band') seeds.handshakes.push(raw.sent[0] as Uint8Array);
      const sealed = mode === 'in-band' ? raw.sent.slice(1) : raw.sent;
      seeds.connects.push(sealed[0] as Uint8Array);
      seeds.sealedLiveKit.push(...sealed.slice(1));
      seeds.received.push(...raw.received);
    }
  }
  seeds.all = [...seeds.handshakes, ...seeds.connects, ...seeds.sealedLiveKit, ...seeds.received];
  return seeds;
}
/** Frames client→LiveKit and dials made by recordSeeds (2 frames and 1 dial per session). */
export const SEED_SESSIONS = 4;

// ---------------------------------------------------------------------------
// Client connections: raw sockets (see raw-socket.ts), spread over
// 127.0.0.2-127.0.0.250 so a million short connections never run out of ports.

type Conn = RawConn;
type Opened = Dialed;

let addrCounter = 0;
const localAddress = () => `127.0.0.${2 + (addrCounter++ % 249)}`;

function dial(
  target: ProxyEndpoint,
  path: string,
  protocol: string | undefined,
  opts: { headers?: Record<string, string>; early?: Array<Uint8Array | string> } = {},
): Promise<Opened> {
  return dialRaw({ host: target.host, port: target.port, localAddress: localAddress(), path, protocol, ...opts });
}

// ---------------------------------------------------------------------------

export interface Finding {
  readonly index: number;
  readonly cls: FuzzClass;
  readonly kind: 'leak' | 'unexpected-outcome' | 'stuck' | 'internal-error';
  readonly outcome: string;
  readonly detail: string;
}

export interface FuzzStats {
  inputs: number;
  perClass: Record<string, number>;
  outcomes: Record<string, Record<string, number>>;
  /** Outcomes over all classes: close codes and HTTP statuses. */
  byCode: Record<string, number>;
  /** The first 500 findings; findingCount counts them all. */
  findings: Finding[];
  findingCount: number;
  crashes: number;
  proxyCrashes: string[];
  canaries: { ok: number; failed: number; maxMs: number; failures: string[] };
  observedDials: number;
  observedForwarded: number;
  /** Mean wall time of one input, per class (ms). */
  meanMs: Record<string, number>;
  /** CPU time of this process (fuzzer and in-process proxy), ms. */
  cpuMs: number;
  durationMs: number;
  leaks: LeakReport;
}

export interface LeakReport {
  /** What the fuzzer saw: a LiveKit message or LiveKit refusal in answer to an input that must not open. */
  observedByClient: number;
  dialsDelta: { pq: number; classical: number };
  dialsExpected: number;
  dialsUnaccounted: number;
  framesToUpstreamDelta: number;
  framesToUpstreamExpected: number;
  framesUnaccounted: number;
  liveKitJoinsForVictim: number;
  liveKitJoinsTotal: number;
  liveKitJoinsExpectedMax: number;
  watcherSawLeakedMetadata: number;
  watcherReconnects: number;
}

export interface RunOptions {
  inputs: number;
  concurrency: number;
  seed: number;
  timeLimitMs: number;
  mix?: Partial<Record<FuzzClass, number>>;
  canaryEveryMs?: number;
  onProgress?: (s: { done: number; elapsedMs: number; findings: number; oldest?: string }) => void;
  /** Called with each finding as it happens (the first 500). */
  onFinding?: (f: Finding) => void;
  progressEveryMs?: number;
}

async function metricsSnapshot(p: ProxyEndpoint): Promise<{ dialsPq: number; dialsClassical: number; c2u: number }> {
  const text = await (await fetch(`${p.adminUrl}/metrics`)).text();
  const sum = (name: string, label: string) => metricSum(text, name, label);
  return {
    dialsPq: sum('volly_upstream_dial_duration_seconds_count', 'mode="pq"'),
    dialsClassical: sum('volly_upstream_dial_duration_seconds_count', 'mode="classical"'),
    c2u: sum('volly_frames_total', 'direction="client_to_upstream"'),
  };
}

function liveKitJoins(livekit: LiveKitServer): { total: number; byIdentity: Map<string, number> } {
  const byIdentity = new Map<string, number>();
  let total = 0;
  for (const line of readFileSync(livekit.logFile, 'utf8').split('\n')) {
    if (!line.includes('starting RTC session')) continue;
    total++;
    const id = /"participant": "([^"]*)"/.exec(line)?.[1] ?? '?';
    byIdentity.set(id, (byIdentity.get(id) ?? 0) + 1);
  }
  return { total, byIdentity };
}

/** A participant connected to LiveKit directly, in the post-join room: any 'LEAK' metadata it sees came from a fuzzed frame. */
class Watcher {
  leaked = 0;
  reconnects = 0;
  #sig: SignalConnection | undefined;
  #stopped = false;
  #ping: ReturnType<typeof setInterval> | undefined;
  private readonly t: FuzzTarget;
  constructor(t: FuzzTarget) {
    this.t = t;
  }
  async start(): Promise<void> {
    const token = await mint(this.t.livekit.apiKey, this.t.livekit.apiSecret, 'fz-watcher', 'fz-post-room', '4h', { hidden: true });
    const connect = async () => {
      const sig = await connectSignal(this.t.livekit.wsUrl, token);
      this.#sig = sig;
      const scan = (m: SignalResponse) => {
        if (m.message.case === 'update' && m.message.value.participants.some((p) => p.metadata.includes('LEAK'))) this.leaked++;
      };
      sig.received.forEach(scan);
      sig.ws.on('message', () => {
        const last = sig.received[sig.received.length - 1];
        if (last) scan(last);
      });
      void sig.closed.then(() => {
        if (this.#stopped) return;
        this.reconnects++;
        setTimeout(() => void connect().catch(() => {}), 200);
      });
    };
    await connect();
    this.#ping = setInterval(() => {
      try {
        this.#sig?.send({ case: 'ping', value: BigInt(Date.now()) });
      } catch {}
    }, 5000);
  }
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#ping);
    await this.#sig?.close();
  }
}

// ---------------------------------------------------------------------------

/** Batches of fast-check samples, deterministic per (seed, batch). */
class Samples<T> {
  #buf: T[] = [];
  #batch = 0;
  private readonly arb: fc.Arbitrary<T>;
  private readonly seed: number;
  constructor(arb: fc.Arbitrary<T>, seed: number) {
    this.arb = arb;
    this.seed = seed;
  }
  next(): T {
    // small batches: a batch is generated synchronously, and the proxy shares this event loop
    if (this.#buf.length === 0) this.#buf = fc.sample(this.arb, { seed: this.seed + 7919 * this.#batch++, numRuns: 32 });
    return this.#buf.pop() as T;
  }
}

interface InputResult {
  outcome: string;
  dialed?: boolean;
  forwarded?: number;
  leak?: string;
}

class Runner {
  readonly stats: FuzzStats;
  #index = 0;
  readonly #inFlight = new Map<number, { cls: FuzzClass; at: number }>();
  #expectedFrames = 0;
  #expectedDials = 0;
  #joinsExpected = 0;
  readonly #gen: {
    token: Samples<{ token: string; mayVerify: boolean }>;
    hello: Samples<Uint8Array>;
    pb: Samples<Uint8Array>;
    huge: Samples<Uint8Array>;
    control: Samples<ControlSpec>;
  };
  readonly #mix: Array<[FuzzClass, number]>;
  readonly #mixTotal: number;

  private readonly t: FuzzTarget;
  private readonly opts: RunOptions;
  constructor(t: FuzzTarget, opts: RunOptions) {
    this.t = t;
    this.opts = opts;
    this.stats = {
      inputs: 0,
      perClass: {},
      outcomes: {},
      byCode: {},
      findings: [],
      findingCount: 0,
      crashes: 0,
      proxyCrashes: [],
      canaries: { ok: 0, failed: 0, maxMs: 0, failures: [] },
      observedDials: 0,
      observedForwarded: 0,
      meanMs: {},
      cpuMs: 0,
      durationMs: 0,
      leaks: undefined as unknown as LeakReport,
    };
    const s = opts.seed;
    this.#gen = {
      token: new Samples(tokenArb(t.keys), s + 1),
      hello: new Samples(handshakeArb({ 'ML-KEM-768': t.bound['ML-KEM-768'].keyPair.publicKey, 'X-Wing': t.bound['X-Wing'].keyPair.publicKey }), s + 2),
      pb: new Samples(protobufArb, s + 3),
      huge: new Samples(hugeProtobufArb, s + 4),
      control: new Samples(controlArb(t.keys, t.openToken), s + 5),
    };
    this.#mix = Object.entries({ ...DEFAULT_MIX, ...opts.mix }).filter(([, w]) => w > 0) as Array<[FuzzClass, number]>;
    this.#mixTotal = this.#mix.reduce((a, [, w]) => a + w, 0);
  }

  #classOf(r: Prng): FuzzClass {
    let x = r.int(this.#mixTotal);
    for (const [c, w] of this.#mix) {
      if (x < w) return c;
      x -= w;
    }
    return 'hello-mutated';
  }

  async run(): Promise<FuzzStats> {
    const { opts, t } = this;
    const before = await metricsSnapshot(t.proxy);
    const joinsBefore = liveKitJoins(t.livekit);
    const watcher = new Watcher(t);
    await watcher.start();
    const started = performance.now();
    const cpu0 = process.cpuUsage();
    const deadline = started + opts.timeLimitMs;
    const onCrash = () => this.stats.crashes++;
    process.on('uncaughtException', onCrash);
    process.on('unhandledRejection', onCrash);
    let stop = false;
    const canary = (async () => {
      let n = 0;
      while (!stop) {
        await this.#canary(n++);
        await new Promise((r) => setTimeout(r, opts.canaryEveryMs ?? 2000));
      }
    })();
    // a timer, not the lanes, reports progress: a silent report means a blocked event loop
    const progress = setInterval(() => {
      const now = performance.now();
      let oldest: string | undefined;
      let age = 0;
      for (const [i, f] of this.#inFlight)
        if (now - f.at > age) {
          age = now - f.at;
          oldest = `#${i} ${f.cls} for ${(age / 1000).toFixed(0)} s`;
        }
      opts.onProgress?.({ done: this.stats.inputs, elapsedMs: now - started, findings: this.stats.findingCount, ...(oldest ? { oldest } : {}) });
    }, opts.progressEveryMs ?? 10_000);
    const lane = async () => {
      while (!stop) {
        const i = this.#index++;
        if (i >= opts.inputs || performance.now() > deadline) break;
        await this.#one(i);
      }
    };
    await Promise.all(Array.from({ length: opts.concurrency }, lane));
    clearInterval(progress);
    stop = true;
    await canary;
    await this.#canary(-1); // one more honest join after the storm
    this.stats.durationMs = performance.now() - started;
    const cpu = process.cpuUsage(cpu0);
    this.stats.cpuMs = (cpu.user + cpu.system) / 1000;
    await new Promise((r) => setTimeout(r, 1000));
    await watcher.stop();
    process.off('uncaughtException', onCrash);
    process.off('unhandledRejection', onCrash);
    this.stats.crashes += t.proxy.crashes.length + (t.proxy.exited() ? 1 : 0);
    this.stats.proxyCrashes = [...t.proxy.crashes];
    const after = await metricsSnapshot(t.proxy);
    const joinsAfter = liveKitJoins(t.livekit);
    const victim = (m: Map<string, number>) => (m.get('fz-victim') ?? 0) + (m.get('fz-victim-bound') ?? 0);
    const dialsDelta = { pq: after.dialsPq - before.dialsPq, classical: after.dialsClassical - before.dialsClassical };
    this.stats.leaks = {
      observedByClient: this.stats.findings.filter((f) => f.kind === 'leak').length,
      dialsDelta,
      dialsExpected: this.#expectedDials,
      dialsUnaccounted: dialsDelta.pq + dialsDelta.classical - this.#expectedDials,
      framesToUpstreamDelta: after.c2u - before.c2u,
      framesToUpstreamExpected: this.#expectedFrames,
      framesUnaccounted: after.c2u - before.c2u - this.#expectedFrames,
      liveKitJoinsForVictim: victim(joinsAfter.byIdentity) - victim(joinsBefore.byIdentity),
      liveKitJoinsTotal: joinsAfter.total - joinsBefore.total,
      liveKitJoinsExpectedMax: this.#joinsExpected + 1 + watcher.reconnects,
      watcherSawLeakedMetadata: watcher.leaked,
      watcherReconnects: watcher.reconnects,
    };
    return this.stats;
  }

  async #canary(n: number): Promise<void> {
    const t0 = performance.now();
    const alg = ALGS[Math.abs(n) % 2] as KemAlgorithm;
    this.#expectedDials++;
    this.#joinsExpected++;
    try {
      const token = await mint(this.t.proxy.apiKey, this.t.proxy.apiSecret, `canary-${n}`, 'fz-canary-room', '5m');
      const raw = await openRawPq(this.t.proxy.wsUrl, token, { algorithm: alg });
      raw.send({ case: 'ping', value: BigInt(Date.now()) });
      this.#expectedFrames++;
      await raw.waitFor((m) => m.message.case === 'pong', 10_000);
      raw.ws.close(1000);
      await raw.closed;
      this.stats.canaries.ok++;
      this.stats.canaries.maxMs = Math.max(this.stats.canaries.maxMs, performance.now() - t0);
    } catch (err) {
      this.stats.canaries.failed++;
      if (this.stats.canaries.failures.length < 20) this.stats.canaries.failures.push(String((err as Error).message).slice(0, 200));
    }
  }

  async #one(i: number): Promise<void> {
    const r = new Prng((this.opts.seed * 2654435761 + i * 40503) >>> 0);
    const cls = this.#classOf(r);
    let res: InputResult;
    const t0 = performance.now();
    this.#inFlight.set(i, { cls, at: t0 });
    let detail = '';
    const note = (d: string) => {
      detail = d;
    };
    try {
      res = await withTimeout(this.#exec(cls, r, note), 30_000);
    } catch (err) {
      res = { outcome: `stuck: ${(err as Error).message.slice(0, 60)}` };
    }
    this.#inFlight.delete(i);
    const s = this.stats;
    s.inputs++;
    s.perClass[cls] = (s.perClass[cls] ?? 0) + 1;
    const n = s.perClass[cls] as number;
    s.meanMs[cls] = (s.meanMs[cls] ?? 0) + (performance.now() - t0 - (s.meanMs[cls] ?? 0)) / n;
    if (!s.outcomes[cls]) s.outcomes[cls] = {};
    const oc = s.outcomes[cls];
    oc[res.outcome] = (oc[res.outcome] ?? 0) + 1;
    const code = /^(http \d+|close \d+)/.exec(res.outcome)?.[1] ?? res.outcome;
    s.byCode[code] = (s.byCode[code] ?? 0) + 1;
    if (res.dialed) {
      s.observedDials++;
      this.#expectedDials++;
      this.#joinsExpected++;
    }
    if (res.forwarded) {
      s.observedForwarded += res.forwarded;
      this.#expectedFrames += res.forwarded;
    }
    const push = (kind: Finding['kind']) => {
      s.findingCount++;
      if (s.findings.length >= 500) return;
      const f: Finding = { index: i, cls, kind, outcome: res.outcome, detail: (res.leak ? `${res.leak}; ` : '') + detail.slice(0, 600) };
      s.findings.push(f);
      this.opts.onFinding?.(f);
    };
    if (res.leak) push('leak');
    else if (res.outcome.startsWith('stuck')) push('stuck');
    else if (/close 1011/.test(res.outcome)) push('internal-error');
    else if (!ALLOWED[cls].test(res.outcome)) push('unexpected-outcome');
  }

  async #exec(cls: FuzzClass, r: Prng, note: (d: string) => void): Promise<InputResult> {
    const t = this.t;
    const px = t.proxy;
    switch (cls) {
      case 'upgrade': {
        const path = r.pick([
          '/rtc',
          '/rtc/v1',
          '/rtc/',
          '/RTC',
          '/x/rtc',
          '/rtc%2f',
          '//rtc',
          '/rtc/v2',
          '/rtc/validate',
          '/',
          '/twirp/rtc',
          '/rtc/v1/',
          '/rtc?x=1',
        ]);
        const proto = r.pick<string | undefined>([
          undefined,
          SUBPROTOCOL,
          `x, ${SUBPROTOCOL}`,
          `${SUBPROTOCOL}, ${SUBPROTOCOL}`,
          ` ${SUBPROTOCOL} `,
          `${SUBPROTOCOL},`,
          'volly-pq.v2',
          'VOLLY-PQ.V1',
          `${SUBPROTOCOL}x`,
          'livekit',
          '',
          ',,,',
        ]);
        const pq = (proto ?? '')
          .split(',')
          .map((x) => x.trim())
          .includes(SUBPROTOCOL);
        // a classical upgrade never carries a token that could join (that would be honest traffic, not an attack)
        const token = r.chance(0.5)
          ? ''
          : r.pick(
              pq
                ? [t.victimToken, t.bound['ML-KEM-768'].token, mutateToken(t.victimToken, r)]
                : [t.bound['ML-KEM-768'].token, claimsMutation(t.victimToken, r)],
            );
        const url = `${path}${token ? `${path.includes('?') ? '&' : '?'}access_token=${token}` : ''}`;
        note(`${path} ${JSON.stringify(proto)} token=${token ? token.slice(-12) : 'none'}`);
        const o = await dial(px, url, proto);
        if (!o.ok) return { outcome: o.outcome };
        if (!pq) {
          o.conn.destroy();
          return { outcome: 'classical upgrade accepted', leak: 'classical session opened with a token that must fail' };
        }
        return this.#observePre(o.conn, r);
      }
      case 'classical-token': {
        // PQ-bound tokens (valid or mutated: a mutation that still verifies keeps the PQ claims),
        // mutations of the unbound token that change its signed part, or generated tokens
        const spec = r.chance(0.3)
          ? { token: r.pick([t.bound['ML-KEM-768'].token, t.bound['X-Wing'].token]), mayVerify: false }
          : r.chance(0.5)
            ? { token: r.chance(0.5) ? mutateToken(t.bound['X-Wing'].token, r) : claimsMutation(t.victimToken, r), mayVerify: false }
            : this.#gen.token.next();
        // a generated token that may verify would be honest classical traffic: send a PQ-bound one instead
        const sent = spec.mayVerify ? t.bound['X-Wing'].token : spec.token;
        note(`token ${sent.slice(0, 80)}… (${sent.length})`);
        // a Bearer header only for tokens that are valid header text (others would break our own request framing)
        const inHeader = r.chance(0.2) && /^[\x21-\x7e]*$/.test(sent);
        const u = new URL(signalUrl(px.wsUrl, inHeader ? undefined : sent));
        const o = await dial(px, u.pathname + u.search, undefined, inHeader ? { headers: { authorization: `Bearer ${sent}` } } : {});
        if (!o.ok) return { outcome: o.outcome };
        o.conn.destroy();
        return { outcome: 'classical upgrade accepted', leak: 'classical session opened with a token that must fail' };
      }
      case 'token-url': {
        const spec = r.chance(0.4)
          ? { token: mutateToken(r.pick([t.bound['ML-KEM-768'].token, t.bound['X-Wing'].token]), r), mayVerify: false }
          : this.#gen.token.next();
        note(`url token ${spec.token.slice(0, 120)}… (${spec.token.length})`);
        const o = await dial(px, `/rtc?access_token=${encodeURIComponent(spec.token)}`, SUBPROTOCOL);
        if (!o.ok) return { outcome: o.outcome };
        return this.#observePre(o.conn, r);
      }
      case 'hello-mutated':
      case 'hello-generated': {
        let frames: Array<Uint8Array | string>;
        if (cls === 'hello-mutated') {
          const base = r.pick(t.seeds.handshakes);
          frames = [mutate(base, r, t.seeds.all)];
          if (r.chance(0.1)) frames.push(r.chance(0.5) ? r.pick(t.seeds.connects) : mutate(r.pick(t.seeds.all), r, t.seeds.all));
        } else {
          const kind = r.int(10);
          frames = [
            kind < 6
              ? this.#gen.hello.next()
              : kind < 8
                ? this.#gen.pb.next()
                : kind < 9
                  ? this.#gen.huge.next()
                  : r.chance(0.5)
                    ? 'hello'
                    : r.bytes(r.int(64)),
          ];
        }
        note(`frames ${frames.map((f) => (typeof f === 'string' ? JSON.stringify(f) : Buffer.from(f).toString('hex').slice(0, 300))).join(' | ')}`);
        // pipelined: the frames travel in the same write as the upgrade request
        const o = await dial(px, r.pick(['/rtc', '/rtc/v1']), SUBPROTOCOL, { early: frames });
        if (!o.ok) return { outcome: o.outcome };
        return this.#observePre(o.conn, r);
      }
      case 'huge-frame': {
        const o = await dial(px, '/rtc', SUBPROTOCOL);
        if (!o.ok) return { outcome: o.outcome };
        if (r.chance(0.5)) {
          o.conn.send(new Uint8Array(px.maxFrameBytes + 1 + r.int(1000)));
          return this.#observePre(o.conn, r);
        }
        const h = await this.#handshake(o.conn, r);
        if ('outcome' in h) return h;
        h.conn.send(new Uint8Array(px.maxFrameBytes + 1 + r.int(1000)).fill(FrameKind.Control, 0, 1));
        return this.#observeSealed(h, false);
      }
      case 'connect-mutated':
      case 'connect-attack':
      case 'connect-sealed-hostile': {
        const h = await this.#keyedSession(r, cls === 'connect-sealed-hostile');
        if ('outcome' in h) return h;
        if (cls === 'connect-mutated') {
          const bad = mutate(h.genuine, r, [...t.seeds.all, h.genuine]);
          if (equal(bad, h.genuine)) throw new Error('mutation produced the genuine frame');
          note(`${h.desc}; mutated connect ${Buffer.from(bad).toString('hex').slice(0, 400)}`);
          h.conn.send(bad);
          return this.#observeSealed(h, false);
        }
        if (cls === 'connect-attack') {
          const attack = r.int(11);
          const frames = this.#attackFrames(attack, h, r);
          note(`${h.desc}; attack ${attack}`);
          for (const f of frames) h.conn.send(f);
          return this.#observeSealed(h, false);
        }
        // sealed correctly, hostile inside: the proxy may open it; LiveKit judges what reaches it
        const k = r.int(10);
        let frame: Uint8Array;
        let mayDial = false;
        if (k < 7) {
          const c = this.#gen.control.next();
          // token-bound, an empty connect token falls back to the (valid, fz-open) URL token
          mayDial = c.mayDial || (h.urlToken === true && c.emptyToken);
          frame = h.channel.sealer.seal(FrameKind.Control, c.plaintext);
          note(`${h.desc}; sealed control ${Buffer.from(c.plaintext).toString('hex').slice(0, 400)}`);
        } else {
          frame = h.channel.sealer.seal(
            r.chance(0.5) ? FrameKind.LiveKitBinary : FrameKind.LiveKitText,
            r.chance(0.5) ? this.#gen.pb.next() : new SignalRequest({ message: { case: 'ping', value: 1n } }).toBinary(),
          );
          note(`${h.desc}; sealed LiveKit frame as first frame`);
        }
        h.conn.send(frame);
        const res = await this.#observeSealed(h, true);
        // a dial for a token the generator built to fail: the proxy accepted something it should not
        if (res.dialed && !mayDial) return { ...res, outcome: `${res.outcome} with a token built to fail` };
        return res;
      }
      case 'post-join':
        return this.#postJoin(r, note);
    }
  }

  /** Pre-key observation: pq_response(s) then a close. A successful pq_response with nothing more to send: we leave. */
  async #observePre(conn: Conn, _r: Prng): Promise<InputResult> {
    const first = await conn.next(4500);
    if (first) {
      let ok = false;
      try {
        ok = decodeResponse(new Uint8Array(first)).success;
      } catch {
        ok = false;
      }
      if (ok) {
        // give a queued second frame the chance to be judged
        const code = await conn.waitClose(conn.messages.length > 1 ? 1 : 30);
        if (code !== null) return { outcome: `close ${code}` };
        return { outcome: 'keyed' };
      }
    }
    const code = await conn.waitClose(4500);
    return { outcome: code === null ? 'stuck: no close' : `close ${code}` };
  }

  /** A real handshake on `conn` (in-band), returning the client's channel and the genuine VollyConnect frame. */
  async #handshake(conn: Conn, r: Prng, alg: KemAlgorithm = r.pick(ALGS)): Promise<Keyed | InputResult> {
    const kem = getKem(alg);
    const kp = this.t.bound[alg].keyPair; // reused key (in-band allows any key); the proxy encapsulates afresh
    const sid = toBase64Url(randomBytes(18));
    conn.send(encodeHandshake({ algorithm: alg, publicKey: kp.publicKey, sessionId: sid }));
    return this.#finishHandshake(conn, kem.algorithm, kp, sid, this.t.victimToken, `in-band ${alg}`);
  }

  async #finishHandshake(conn: Conn, alg: KemAlgorithm, kp: KemKeyPair, sid: string | undefined, token: string, desc: string): Promise<Keyed | InputResult> {
    const first = await conn.next(5000);
    if (!first) {
      const code = await conn.waitClose(100);
      return { outcome: `honest handshake failed: ${code ?? 'no answer'}` };
    }
    const result = clientHandshake(getKem(alg), kp, decodeResponse(new Uint8Array(first)), sid);
    const s2c = result.keys.s2c.slice();
    const c2s = result.keys.c2s.slice();
    const channel = sealedChannel(result, 'client', aead);
    // sealed by a sealer of its own, so channel.sealer still starts at frame 0 for inputs that seal their own first frame
    const genuine = new FrameSealer(c2s, aead).seal(FrameKind.Control, encodeControl({ case: 'connect', accessToken: token, query: this.t.query }));
    return { conn, channel, s2c, c2s, genuine, desc };
  }

  /** In-band or token-bound, either algorithm, up to the genuine (unsent) VollyConnect. */
  async #keyedSession(r: Prng, open = false): Promise<Keyed | InputResult> {
    const alg = r.pick(ALGS);
    if (r.chance(0.7)) {
      const kp = this.t.bound[alg].keyPair; // reused key (in-band allows any key); the proxy encapsulates afresh
      const sid = toBase64Url(randomBytes(18));
      const hello = encodeHandshake({ algorithm: alg, publicKey: kp.publicKey, sessionId: sid });
      const o = await dial(this.t.proxy, r.pick(['/rtc', '/rtc/v1']), SUBPROTOCOL, { early: [hello] });
      if (!o.ok) return { outcome: `honest dial failed: ${o.outcome}` };
      return this.#finishHandshake(o.conn, alg, kp, sid, this.t.victimToken, `in-band ${alg}`);
    }
    const b = this.t.bound[alg];
    // The client's volly_sid (its replay guard) beside the token: the proxy must answer with it.
    const sid = toBase64Url(randomBytes(18));
    const o = await dial(this.t.proxy, `/rtc?access_token=${open ? this.t.openBound[alg] : b.token}&${SESSION_ID_PARAM}=${sid}`, SUBPROTOCOL);
    if (!o.ok) return { outcome: `honest dial failed: ${o.outcome}` };
    const k = await this.#finishHandshake(o.conn, alg, b.keyPair, sid, '', `token-bound ${alg}`);
    return 'outcome' in k ? k : { ...k, urlToken: true };
  }

  #attackFrames(attack: number, h: Keyed, r: Prng): Array<Uint8Array | string> {
    const t = this.t;
    switch (attack) {
      case 0: {
        // counter skipped: the frame sealed as number 1 (frame 0 dropped)
        const s = new FrameSealer(h.c2s, aead);
        s.seal(FrameKind.Control, new Uint8Array(1));
        return [s.seal(FrameKind.Control, encodeControl({ case: 'connect', accessToken: t.victimToken, query: t.query }))];
      }
      case 1:
        // reflection: sealed with the server-to-client key
        return [new FrameSealer(h.s2c, aead).seal(FrameKind.Control, encodeControl({ case: 'connect', accessToken: t.victimToken, query: t.query }))];
      case 2:
        // replay of a recorded session's VollyConnect
        return [r.pick(t.seeds.connects)];
      case 3:
        // replay of a recorded sealed LiveKit frame or a recorded server frame
        return [r.pick(r.chance(0.5) ? t.seeds.sealedLiveKit : t.seeds.received)];
      case 4: {
        // kind byte swapped (the AAD no longer matches)
        const f = h.genuine.slice();
        f[0] = r.pick([0x00, 0x01, 0x02, 0x04, 0xff]);
        return [f];
      }
      case 5:
        return [r.pick(['', 'connect', JSON.stringify({ accessToken: t.victimToken })])];
      case 6:
        return [r.pick([new Uint8Array(0), Uint8Array.of(0x03), h.genuine.subarray(0, 17), h.genuine.subarray(0, h.genuine.length - 1)])];
      case 7:
        // a second handshake instead of the VollyConnect
        return [r.pick(t.seeds.handshakes)];
      case 8: {
        // the genuine frame's ciphertext under another session's keys (splice)
        const other = new FrameSealer(randomBytes(32), aead);
        return [other.seal(FrameKind.Control, encodeControl({ case: 'connect', accessToken: t.victimToken, query: t.query }))];
      }
      case 9: {
        // tag moved / ciphertext and tag swapped around
        const f = h.genuine.slice();
        const tag = f.slice(f.length - 16);
        f.copyWithin(17, 1, f.length - 16);
        f.set(tag, 1);
        return [f];
      }
      default: {
        // genuine frame with a 1-byte extension or one byte fewer in the middle
        const f = h.genuine;
        const i = 1 + r.int(f.length - 1);
        return [
          r.chance(0.5)
            ? Buffer.concat([f.subarray(0, i), Uint8Array.of(r.next() & 0xff), f.subarray(i)])
            : Buffer.concat([f.subarray(0, i), f.subarray(i + 1)]),
        ];
      }
    }
  }

  /**
   * After keys exist. `mayOpen`: the frame sent was sealed correctly, so the proxy may
   * open it and dial LiveKit (counted as expected). Otherwise any sign of a dial is a leak.
   */
  async #observeSealed(h: Keyed, mayOpen: boolean): Promise<InputResult> {
    const msg = await h.conn.next(5000);
    let dialed = false;
    let outcome: string | undefined;
    if (msg) {
      try {
        const f = h.channel.opener.open(new Uint8Array(msg));
        if (f.kind === FrameKind.Control) {
          const code = new Uint8Array(f.payload);
          // VollyControl{error{code}}: a code below 1000 is LiveKit's HTTP status
          const c = decodeErrorCode(code);
          if (c !== null && c < 1000) {
            dialed = true;
            outcome = `upstream refused ${c}`;
          }
        } else {
          dialed = true;
          outcome = 'joined';
        }
      } catch {
        // a frame we cannot open: not ours to judge
      }
    }
    if (outcome === 'joined') h.conn.destroy();
    const code = outcome === 'joined' ? null : await h.conn.waitClose(4500);
    if (code === 4502) dialed = true;
    h.channel.destroy();
    outcome ??= code === null ? 'stuck: no close' : `close ${code}`;
    if (dialed && !mayOpen) return { outcome, leak: 'LiveKit was dialed for a frame that must not open' };
    return { outcome, dialed };
  }

  async #postJoin(r: Prng, note: (d: string) => void): Promise<InputResult> {
    const t = this.t;
    const id = `fz-post-${r.next().toString(36)}`;
    const token = await mint(t.proxy.apiKey, t.proxy.apiSecret, id, 'fz-post-room', '10m');
    const alg = r.pick(ALGS);
    this.#expectedDials++;
    this.#joinsExpected++;
    let raw: RawPq;
    try {
      raw = await openRawPq(t.proxy.wsUrl, token, { algorithm: alg });
    } catch (err) {
      return { outcome: `honest join failed: ${(err as Error).message.slice(0, 60)}` };
    }
    const metadata = { case: 'updateMetadata', value: { metadata: `LEAK-${id}` } as never } as SignalRequest['message'];
    const attack = r.int(9);
    note(`post-join ${alg} attack ${attack}`);
    const seal = () => raw.session.seal(new SignalRequest({ message: metadata }).toBinary());
    switch (attack) {
      case 0: // mutated sealed frame
      case 1:
        raw.sendRaw(mutate(seal(), r, t.seeds.all));
        break;
      case 2: {
        // reorder: frames 1 then 0
        const a = seal();
        const b = seal();
        raw.sendRaw(b);
        raw.sendRaw(a);
        break;
      }
      case 3:
        // drop: frame 0 never sent
        seal();
        raw.sendRaw(seal());
        break;
      case 4:
        // replay: this session's own VollyConnect again
        raw.sendRaw(raw.sent[1] ?? (raw.sent[0] as Uint8Array));
        break;
      case 5:
        // splice: a sealed LiveKit frame recorded from another session
        raw.sendRaw(r.pick(t.seeds.sealedLiveKit));
        break;
      case 6: {
        // kind swapped to VollyControl
        const f = seal();
        f[0] = FrameKind.Control;
        raw.sendRaw(f);
        break;
      }
      case 7: {
        // duplicate: the genuine frame twice (the first opens and is forwarded; it sets no LEAK: harmless metadata)
        const f = raw.session.seal(new SignalRequest({ message: { case: 'ping', value: 1n } }).toBinary());
        raw.sendRaw(f);
        raw.sendRaw(f);
        this.#expectedFrames++;
        const code = await waitClosed(raw, 5000);
        return { outcome: code === null ? 'stuck: no close' : `close ${code}`, dialed: false };
      }
      default: {
        // sealed correctly, hostile LiveKit message: forwarded, LiveKit judges
        const f = raw.session.seal(r.chance(0.5) ? this.#gen.pb.next() : this.#gen.huge.next());
        raw.sendRaw(f);
        this.#expectedFrames++;
        const code = await waitClosed(raw, 1500);
        if (code === null) raw.ws.close(1000);
        await raw.closed;
        return { outcome: code === null ? 'forwarded, still open' : `forwarded, livekit closed ${code}` };
      }
    }
    const code = await waitClosed(raw, 5000);
    return { outcome: code === null ? 'stuck: no close' : `close ${code}` };
  }
}

/**
 * A mutation of a token's signed part (header.payload), so the signature cannot verify. (A change
 * confined to the signature segment may decode to the same signature bytes: base64url's unused
 * trailing bits, whitespace. That is the same token re-encoded, not a forgery.)
 */
function claimsMutation(token: string, r: Prng): string {
  for (;;) {
    const m = mutateToken(token, r);
    const signed = (x: string) => x.split('.').slice(0, 2).join('.');
    if (signed(m) !== signed(token)) return m;
  }
}

interface Keyed {
  /** Token-bound: a connect with an empty token uses the URL's. */
  urlToken?: boolean;
  conn: Conn;
  channel: SealedChannel;
  c2s: Uint8Array;
  s2c: Uint8Array;
  genuine: Uint8Array;
  desc: string;
}

function decodeErrorCode(b: Uint8Array): number | null {
  // VollyControl: field 2 (error) { field 1 code varint }
  if (b[0] !== 0x12) return null;
  let i = 2;
  while (i < b.length && (b[i - 1] as number) & 0x80) i++;
  if (b[i] !== 0x08) return 0;
  let v = 0;
  let mul = 1;
  for (let k = i + 1; k < b.length; k++) {
    const x = b[k] as number;
    v += (x & 0x7f) * mul;
    mul *= 128;
    if (!(x & 0x80)) break;
  }
  return v;
}

async function waitClosed(raw: RawPq, ms: number): Promise<number | null> {
  let t: ReturnType<typeof setTimeout> | undefined;
  const r = await Promise.race([raw.closed.then((c) => c.code), new Promise<null>((res) => (t = setTimeout(() => res(null), ms)))]);
  clearTimeout(t);
  if (r === null && ms >= 5000) raw.ws.terminate();
  return r;
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`input took over ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}

export function runFuzz(target: FuzzTarget, opts: RunOptions): Promise<FuzzStats> {
  return new Runner(target, opts).run();
}

/** Everything must be zero for a clean run. */
export function problems(s: FuzzStats): string[] {
  const p: string[] = [];
  const l = s.leaks;
  if (s.crashes) p.push(`${s.crashes} crashes`);
  if (s.canaries.failed) p.push(`${s.canaries.failed} canary joins failed: ${s.canaries.failures.join('; ')}`);
  if (l.observedByClient) p.push(`${l.observedByClient} leaks seen by the client`);
  if (l.dialsUnaccounted !== 0) p.push(`${l.dialsUnaccounted} upstream dials unaccounted for`);
  if (l.framesUnaccounted !== 0) p.push(`${l.framesUnaccounted} client_to_upstream frames unaccounted for`);
  if (l.liveKitJoinsForVictim) p.push(`${l.liveKitJoinsForVictim} LiveKit sessions for fz-victim`);
  if (l.liveKitJoinsTotal > l.liveKitJoinsExpectedMax)
    p.push(`${l.liveKitJoinsTotal - l.liveKitJoinsExpectedMax} LiveKit sessions more than honest traffic explains`);
  if (l.watcherSawLeakedMetadata) p.push(`watcher saw LEAK metadata ${l.watcherSawLeakedMetadata} times`);
  if (s.findingCount) p.push(`${s.findingCount} findings`);
  for (const f of s.findings.slice(0, 20)) p.push(`#${f.index} ${f.cls} ${f.kind}: ${f.outcome} — ${f.detail.slice(0, 200)}`);
  return p;
}
