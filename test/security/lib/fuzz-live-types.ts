// The live fuzzer's vocabulary: input classes, their weights and allowed
// outcomes, the target under fuzz, and what a run reports.

import type { KemAlgorithm, KemKeyPair, SealedChannel } from '@volly/shared';
import type { LiveKitServer } from '../../harness/livekit.ts';
import type { RawConn } from '../../harness/raw-socket.ts';
import type { TokenKeys } from './token-arbs.ts';

export const ALGS: KemAlgorithm[] = ['ML-KEM-768', 'X-Wing'];

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

/** What one input came to. */
export interface InputResult {
  outcome: string;
  dialed?: boolean;
  forwarded?: number;
  leak?: string;
}

/** A session with keys, up to its genuine (unsent) VollyConnect. */
export interface Keyed {
  /** Token-bound: a connect with an empty token uses the URL's. */
  urlToken?: boolean;
  conn: RawConn;
  channel: SealedChannel;
  c2s: Uint8Array;
  s2c: Uint8Array;
  genuine: Uint8Array;
  desc: string;
}
