// Part of scenario 2: the proxy's CPU for one volly-pq.v2 handshake, per
// static-key algorithm (ML-KEM-768, X-Wing), unbound and bound, with the KEM
// backend the proxy runs (getKem's default: native node:crypto where Node
// has it).
//
// The server's work, as proxy/src/pq/v2.ts does it (the token check aside:
// the authorize stage is measured on its own, classical sessions pay it too):
//   acceptFirstFlight (parse, decapsulate to the static key, open the early
//   frame, clock, single-use register) → flight.accept(bound?) (encapsulate to
//   the ephemeral key, and to the bound key, key schedule, ServerHello)  (phase A)
//   session.open(key confirmation)                                      (phase C)
// Phase B between them is the client's (ServerHello → key confirmation) and
// is not counted, nor is building the first flights: every handshake needs
// a fresh one (the register refuses a session id twice), so each round's are
// made before its timed loops. CPU is process.cpuUsage(), as in
// handshake.ts and shared/bench/handshake-stages.mjs, so other load on the
// machine does not count; per handshake = (A + C) / batch, the figure the
// median over rounds.

import { getAead, getKem, KEM_ALGORITHMS, type KemAlgorithm, type KemKeyPair, randomBytes, v2 } from '@volly/shared';
import { CHUNK, cpuNow, warmUp } from '../lib/cpu-loop.ts';
import { countFailure, type FailureCounts } from '../lib/failures.ts';
import { type Figure, figure } from '../lib/stats.ts';

export interface V2HandshakeRow {
  readonly algorithm: KemAlgorithm;
  readonly flow: 'unbound' | 'bound';
  readonly backend: string;
  /** Proxy CPU microseconds per handshake (A + C). */
  readonly us: Figure;
  /** Of which the first flight and the ServerHello (phase A). */
  readonly firstFlightUs: Figure;
  readonly perSecondPerCore: number;
  readonly batch: number;
  /** Handshakes that did not complete, by failure key: counted, not fatal. */
  readonly failedSessions: FailureCounts;
}

/** The query LiveKit's JS client sends on /rtc (sealed in the early frame), and a token-sized token. */
const CONNECT = { path: '/rtc', query: 'auto_subscribe=1&sdk=js&version=2.15.0&protocol=16', accessToken: 'x'.repeat(400) };

interface Setup {
  readonly options: v2.ServerV2Options;
  readonly serverKey: v2.ServerStaticKey;
  readonly bound: { kem: ReturnType<typeof getKem>; keyPair: KemKeyPair } | undefined;
}

function setup(algorithm: KemAlgorithm, flow: 'unbound' | 'bound'): Setup {
  const kem = getKem(algorithm);
  const pair = kem.keygen();
  const serverKey = v2.staticKey(algorithm, pair.publicKey, Math.floor(Date.now() / 1000) + 3600);
  const options = { keys: [{ key: serverKey, secretKey: pair.secretKey }], getKem: (a: KemAlgorithm) => getKem(a), aead: getAead(), now: Date.now };
  return { options, serverKey, bound: flow === 'bound' ? { kem, keyPair: kem.keygen() } : undefined };
}

/** One round: `batch` fresh first flights, timed in chunks; returns proxy CPU microseconds per handshake (total and phase A). */
async function round(s: Setup, batch: number, failed: FailureCounts): Promise<{ total: number; a: number }> {
  let a = 0;
  let c = 0;
  for (let done = 0; done < batch; done += CHUNK) {
    const t = await chunk(s, Math.min(CHUNK, batch - done), failed);
    a += t.a;
    c += t.c;
  }
  return { total: (a + c) / batch, a: a / batch };
}

/** `batch` (at most CHUNK) fresh first flights: proxy CPU microseconds of phase A and of phase C, in all. */
async function chunk(s: Setup, batch: number, failed: FailureCounts): Promise<{ a: number; c: number }> {
  const { options, bound } = s;
  const kem = getKem(s.serverKey.algorithm);
  // Clients and their first flights, not timed.
  const clients = Array.from({ length: batch }, () => {
    const client = new v2.ClientV2({
      kem,
      aead: options.aead,
      serverKey: s.serverKey,
      connect: CONNECT,
      now: Date.now,
      randomBytes,
      ...(bound ? { bound } : {}),
    });
    const flight = client.start();
    return { client, input: { protocols: flight.protocols, urlPath: CONNECT.path, query: flight.query } };
  });
  const register = new v2.MemorySessionRegister();
  const boundKey = bound ? { algorithm: bound.kem.algorithm, publicKey: bound.keyPair.publicKey } : undefined;
  const accepted: Array<{ serverHello: Uint8Array; session: v2.ServerSessionV2 } | undefined> = new Array(batch);
  // Phase A: the first flight and the ServerHello.
  const a0 = cpuNow();
  for (let i = 0; i < batch; i++) {
    const d = await v2.acceptFirstFlight(options, register, (clients[i] as (typeof clients)[number]).input);
    if (d.type === 'fresh') accepted[i] = d.flight.accept(boundKey);
    else countFailure(failed, d.type === 'refuse' ? d.error.code : 'stale');
  }
  const a = cpuNow() - a0;
  // Phase B (client, not counted): the ServerHello → the key confirmation.
  const confirmations = accepted.map((x, i) => {
    const outs = x ? (clients[i] as (typeof clients)[number]).client.receive(x.serverHello) : [];
    return outs.find((o) => o.type === 'send')?.frame;
  });
  // Phase C: open the key confirmation (for a bound token, the proof of the bound key).
  const c0 = cpuNow();
  for (let i = 0; i < batch; i++) {
    const x = accepted[i];
    const frame = confirmations[i];
    if (!x || !frame) continue;
    try {
      if (x.session.open(frame).type !== 'confirmed' || !x.session.mayDial) countFailure(failed, 'not confirmed');
    } catch (err) {
      countFailure(failed, err);
    }
  }
  const c = cpuNow() - c0;
  for (const x of accepted) x?.session.destroy();
  return { a, c };
}

export async function runV2Handshake(opts: { rounds: number; roundMs: number }, log: (s: string) => void): Promise<V2HandshakeRow[]> {
  const rows: V2HandshakeRow[] = [];
  for (const algorithm of KEM_ALGORITHMS) {
    for (const flow of ['unbound', 'bound'] as const) {
      const s = setup(algorithm, flow);
      const failed: FailureCounts = {};
      // Warm-up (JIT, caches) and a first estimate of the cost.
      const warm = await warmUp(() => round(s, 16, failed));
      const batch = Math.max(16, Math.min(5_000, Math.round((opts.roundMs * 1000) / Math.max(1, warm.total))));
      const totals: number[] = [];
      const as: number[] = [];
      for (let r = 0; r < opts.rounds; r++) {
        const { total, a } = await round(s, batch, failed);
        totals.push(total);
        as.push(a);
      }
      const us = figure(totals);
      const backend = getKem(algorithm).backend;
      rows.push({ algorithm, flow, backend, us, firstFlightUs: figure(as), perSecondPerCore: 1e6 / us.median, batch, failedSessions: failed });
      log(`v2 handshake ${algorithm} ${flow} (${backend}): ${us.median.toFixed(1)} us (${us.min.toFixed(1)}-${us.max.toFixed(1)}), batch ${batch}`);
    }
  }
  return rows;
}

/** summary.json's v2_handshake_us (X-Wing, v2's default static key) and v2_handshake_us_mlkem768: unbound, proxy CPU µs. */
export function v2HandshakeSummary(rows: readonly V2HandshakeRow[] | undefined): Record<string, number | null> {
  const us = (algorithm: KemAlgorithm) => {
    const m = rows?.find((x) => x.algorithm === algorithm && x.flow === 'unbound')?.us.median;
    return m === undefined || !Number.isFinite(m) ? null : Math.round(m * 10) / 10;
  };
  return { v2_handshake_us: us('X-Wing'), v2_handshake_us_mlkem768: us('ML-KEM-768') };
}
