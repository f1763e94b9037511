// Scenario 6: join time over an emulated network round trip. A loopback
// delay relay (lib/delay-relay.ts) sits between the client and the first hop
// — LiveKit for "direct", the proxy otherwise (the proxy is a sidecar beside
// LiveKit, so its dial stays local) — and adds `rttMs` / 2 each way. Measured:
// the time from `new WebSocket` to the decoded JoinResponse (the client's
// in-band key generation, before the socket, is not in it), the median of
// `joins` sequential joins per configuration, for direct, the proxy's
// classical path, volly-pq.v1 in-band and token-bound, and volly-pq.v2
// unbound and bound, each with ML-KEM-768 and X-Wing (v2: the static key's
// algorithm; a bound token names a client key of the same algorithm). Each configuration's extra round trips show up here as multiples
// of the RTT, which loopback figures hide. Each round first measures the RTT
// the relay really adds (selfCheck) and reports it beside the figures.

import { getKem, type KemAlgorithm, type v2 } from '@volly/shared';
import { fetchServerKeys } from '../../harness/v2-signal.ts';
import { openSession } from '../lib/client.ts';
import { openV2Session } from '../lib/client-v2.ts';
import { type DelayRelay, type SelfCheck, selfCheck, startDelayRelay } from '../lib/delay-relay.ts';
import { countFailure, type FailureCounts } from '../lib/failures.ts';
import { median } from '../lib/stats.ts';
import { mintToken } from '../lib/tokens.ts';
import { type Servers, target, within } from './common.ts';

export interface RttOptions {
  /** Emulated round trips, ms (e.g. 40 and 100). */
  readonly rttsMs: number[];
  /** Measured sequential joins per configuration and RTT. */
  readonly joins: number;
  /** Unmeasured joins per configuration and RTT before them (the first also creates the room). */
  readonly warmup: number;
}

export interface RttRow {
  readonly rttMs: number;
  /** Summary key stem: rtt40_<key>_ms. */
  readonly key: string;
  readonly config: string;
  /** Median time from `new WebSocket` to the JoinResponse, ms. */
  readonly medianMs: number;
  readonly minMs: number;
  readonly maxMs: number;
  /** The median in round trips (medianMs / rttMs). */
  readonly rtts: number;
  readonly joins: number;
  readonly failedSessions: FailureCounts;
}

export interface RttResults {
  readonly rows: RttRow[];
  /** The round trip the delay relay measurably added, per emulated RTT. */
  readonly selfChecks: SelfCheck[];
}

interface Config {
  readonly key: string;
  readonly name: string;
  /** Through the proxy (else direct to LiveKit). */
  readonly proxy: boolean;
  readonly sealed?: { algorithm: KemAlgorithm; flow: 'in-band' | 'token-bound' };
  /** volly-pq.v2 to the proxy's static key of `algorithm`; `bound`: the token names a client key. */
  readonly v2?: { algorithm: KemAlgorithm; bound: boolean };
}

const CONFIGS: Config[] = [
  { key: 'direct', name: 'direct', proxy: false },
  { key: 'classical', name: 'proxy classical', proxy: true },
  { key: 'v1_inband', name: 'v1 in-band ML-KEM-768', proxy: true, sealed: { algorithm: 'ML-KEM-768', flow: 'in-band' } },
  { key: 'v1_inband_xwing', name: 'v1 in-band X-Wing', proxy: true, sealed: { algorithm: 'X-Wing', flow: 'in-band' } },
  { key: 'v1_bound', name: 'v1 token-bound ML-KEM-768', proxy: true, sealed: { algorithm: 'ML-KEM-768', flow: 'token-bound' } },
  { key: 'v1_bound_xwing', name: 'v1 token-bound X-Wing', proxy: true, sealed: { algorithm: 'X-Wing', flow: 'token-bound' } },
  { key: 'v2', name: 'v2 unbound ML-KEM-768', proxy: true, v2: { algorithm: 'ML-KEM-768', bound: false } },
  { key: 'v2_xwing', name: 'v2 unbound X-Wing', proxy: true, v2: { algorithm: 'X-Wing', bound: false } },
  { key: 'v2_bound', name: 'v2 bound ML-KEM-768', proxy: true, v2: { algorithm: 'ML-KEM-768', bound: true } },
  { key: 'v2_bound_xwing', name: 'v2 bound X-Wing', proxy: true, v2: { algorithm: 'X-Wing', bound: true } },
];

/** One join and leave through `relay`; the time from `new WebSocket` to the JoinResponse. */
async function joinOnce(s: Servers, c: Config, relay: DelayRelay, room: string, identity: string, keys: v2.ServerStaticKey[]): Promise<number> {
  const creds = c.proxy ? target(s, 'classical').creds : target(s, 'direct').creds;
  const bindAlgorithm = c.sealed?.flow === 'token-bound' ? c.sealed.algorithm : c.v2?.bound ? c.v2.algorithm : undefined;
  const keyPair = bindAlgorithm ? getKem(bindAlgorithm).keygen() : undefined;
  const token = await mintToken(creds, room, identity, keyPair && bindAlgorithm ? { algorithm: bindAlgorithm, publicKey: keyPair.publicKey } : undefined);
  if (c.v2) {
    const { algorithm } = c.v2;
    const serverKey = keys.find((k) => k.algorithm === algorithm);
    if (!serverKey) throw new Error(`the proxy publishes no ${algorithm} v2 key`);
    const sess = await openV2Session({ baseUrl: relay.wsUrl, token, serverKey, ...(keyPair ? { bound: { algorithm, keyPair } } : {}), timeoutMs: 15_000 });
    await sess.close();
    return sess.socketMs;
  }
  const sess = await openSession({
    baseUrl: relay.wsUrl,
    token,
    ...(c.sealed ? { sealed: { ...c.sealed, ...(keyPair ? { keyPair } : {}) } } : {}),
    timeoutMs: 15_000,
  });
  sess.close();
  await within(sess.closed, 3_000);
  return sess.socketMs;
}

export async function runRtt(s: Servers, o: RttOptions, log: (line: string) => void): Promise<RttResults> {
  const rows: RttRow[] = [];
  const selfChecks: SelfCheck[] = [];
  // The well-known document once, as a client caches it: not part of any join.
  const keys = await fetchServerKeys(s.proxy.wsUrl);
  for (const rttMs of o.rttsMs) {
    const check = await selfCheck(rttMs / 2);
    selfChecks.push(check);
    log(`rtt ${rttMs} ms: the delay relay adds ${check.measuredAddedMs.toFixed(1)} ms to a round trip`);
    const toLiveKit = await startDelayRelay({ targetPort: s.livekit.port, oneWayMs: rttMs / 2 });
    const toProxy = await startDelayRelay({ targetPort: Number(new URL(s.proxy.wsUrl).port), oneWayMs: rttMs / 2 });
    try {
      for (const c of CONFIGS) {
        const relay = c.proxy ? toProxy : toLiveKit;
        const room = `rtt${rttMs}-${c.key}`.replace(/_/g, '-');
        const failed: FailureCounts = {};
        const times: number[] = [];
        for (let i = 0; i < o.warmup + o.joins; i++) {
          try {
            const ms = await joinOnce(s, c, relay, room, `${room}-${i}`, keys);
            if (i >= o.warmup) times.push(ms);
          } catch (err) {
            countFailure(failed, err);
          }
        }
        const m = median(times);
        rows.push({
          rttMs,
          key: c.key,
          config: c.name,
          medianMs: m,
          minMs: times.length ? Math.min(...times) : Number.NaN,
          maxMs: times.length ? Math.max(...times) : Number.NaN,
          rtts: m / rttMs,
          joins: times.length,
          failedSessions: failed,
        });
        log(`rtt ${rttMs} ms ${c.name}: median ${m.toFixed(1)} ms (${(m / rttMs).toFixed(2)} RTT) over ${times.length} joins`);
      }
    } finally {
      await toLiveKit.close();
      await toProxy.close();
    }
  }
  return { rows, selfChecks };
}

/** The flat summary.json keys: rtt40_direct_ms, rtt40_v1_inband_ms, ... */
export function rttSummary(r: RttResults | undefined): Record<string, number> {
  return Object.fromEntries((r?.rows ?? []).map((x) => [`rtt${x.rttMs}_${x.key}_ms`, Math.round(x.medianMs * 10) / 10]));
}
