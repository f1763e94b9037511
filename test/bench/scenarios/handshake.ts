// Scenario 2: server-side CPU of one volly-pq.v1 handshake, per KEM backend
// (native node:crypto, pure-JS noble) and algorithm (ML-KEM-768, X-Wing).
//
// The server's work, as the proxy does it for an in-band session:
//   decodeHandshake(hello) → serverHandshake(getKem(alg, backend), sid, pk)   (phase A)
//   sealedChannel(result, 'server', aead) → opener.open(connect) → decodeControl (phase C)
// Phase B between them is the client's (decapsulate, derive, seal VollyConnect)
// and is not counted. A and C each run as a tight loop over a batch timed
// with process.cpuUsage(); per handshake = (A + C) / batch. A round repeats
// that; the figure is the median over rounds. JWT verify + re-sign (the
// authorize stage, the same for classical sessions) is measured beside it,
// and so is volly-pq.v2's server handshake (handshake-v2.ts).

import { Authorizer, loadConfig } from '@volly/proxy';
import {
  type Aead,
  clientHandshake,
  decodeControl,
  decodeHandshake,
  decodeResponse,
  encodeControl,
  encodeHandshake,
  FrameKind,
  getAead,
  getKem,
  type HandshakeResult,
  KEM_ALGORITHMS,
  type KemAlgorithm,
  type KemBackendName,
  kemBackends,
  randomBytes,
  sealedChannel,
  serverHandshake,
  toBase64Url,
} from '@volly/shared';
import { token } from '../../harness/tokens.ts';
import { CHUNK, cpuNow, warmUp } from '../lib/cpu-loop.ts';
import { countFailure, type FailureCounts } from '../lib/failures.ts';
import { type Figure, figure } from '../lib/stats.ts';
import { runV2Handshake, type V2HandshakeRow } from './handshake-v2.ts';

export interface HandshakeOptions {
  readonly rounds: number;
  /** CPU time each round aims for, per combination (the batch size follows from a warm-up). */
  readonly roundMs: number;
}

export interface HandshakeRow {
  readonly algorithm: KemAlgorithm;
  readonly backend: KemBackendName;
  /** Server CPU microseconds per handshake (A + C). */
  readonly us: Figure;
  /** Of which the KEM encapsulation + key schedule (phase A). */
  readonly encapsulateUs: Figure;
  readonly perSecondPerCore: number;
  readonly batch: number;
  /** Handshakes whose VollyConnect did not open, by failure key (error code): counted, not fatal. */
  readonly failedSessions: FailureCounts;
}

export interface HandshakeResults {
  readonly rows: HandshakeRow[];
  readonly aeadBackend: string;
  /** JWT verify + re-sign per session (authorize stage; classical sessions pay it too). */
  readonly authorizeUs: Figure;
  /** volly-pq.v2: the proxy's CPU per handshake (handshake-v2.ts). */
  readonly v2?: V2HandshakeRow[];
}

interface Prepared {
  hello: Uint8Array;
  keyPair: ReturnType<ReturnType<typeof getKem>['keygen']>;
  sessionId: string;
}

function prepare(algorithm: KemAlgorithm, n: number): Prepared[] {
  // Distinct client keys, as in real traffic; keys come from the fast backend (not timed).
  const kem = getKem(algorithm);
  return Array.from({ length: n }, () => {
    const keyPair = kem.keygen();
    const sessionId = toBase64Url(randomBytes(24));
    return { keyPair, sessionId, hello: encodeHandshake({ algorithm, publicKey: keyPair.publicKey, sessionId }) };
  });
}

/** One round: `batch` handshakes, timed in chunks; returns CPU microseconds per handshake (total and phase A). */
function round(
  algorithm: KemAlgorithm,
  backend: KemBackendName,
  aead: Aead,
  keys: Prepared[],
  batch: number,
  failed: FailureCounts,
): { total: number; a: number } {
  let a = 0;
  let c = 0;
  for (let done = 0; done < batch; done += CHUNK) {
    const t = chunk(algorithm, backend, aead, keys, Math.min(CHUNK, batch - done), failed);
    a += t.a;
    c += t.c;
  }
  return { total: (a + c) / batch, a: a / batch };
}

/** `batch` (at most CHUNK) handshakes: CPU microseconds of phase A and of phase C, in all. */
function chunk(algorithm: KemAlgorithm, backend: KemBackendName, aead: Aead, keys: Prepared[], batch: number, failed: FailureCounts): { a: number; c: number } {
  const kem = getKem(algorithm, backend);
  const clientKem = getKem(algorithm);
  const results: Array<{ response: Uint8Array; result: HandshakeResult }> = new Array(batch);
  // Phase A: decode the hello, encapsulate, derive keys.
  const a0 = cpuNow();
  for (let i = 0; i < batch; i++) {
    const h = decodeHandshake((keys[i % keys.length] as Prepared).hello);
    results[i] = serverHandshake(kem, h.sessionId, h.publicKey);
  }
  const a = cpuNow() - a0;
  // Phase B (client, not counted): decapsulate and seal VollyConnect.
  const frames: Uint8Array[] = new Array(batch);
  const connect = encodeControl({ case: 'connect', accessToken: 'x'.repeat(400), query: 'auto_subscribe=1&sdk=js&version=2.15.0&protocol=16' });
  for (let i = 0; i < batch; i++) {
    const p = keys[i % keys.length] as Prepared;
    const r = (results[i] as { response: Uint8Array }).response;
    const client = clientHandshake(clientKem, p.keyPair, decodeResponse(r), p.sessionId);
    frames[i] = sealedChannel(client, 'client', aead).sealer.seal(FrameKind.Control, connect);
  }
  // Phase C: the server's channel, open VollyConnect, decode it.
  const c0 = cpuNow();
  for (let i = 0; i < batch; i++) {
    try {
      const ch = sealedChannel((results[i] as { result: HandshakeResult }).result, 'server', aead, 1024 * 1024);
      const { kind, payload } = ch.opener.open(frames[i] as Uint8Array);
      if (kind !== FrameKind.Control || decodeControl(payload).case !== 'connect') countFailure(failed, 'not a VollyConnect');
    } catch (err) {
      countFailure(failed, err);
    }
  }
  return { a, c: cpuNow() - c0 };
}

async function authorizeCost(rounds: number, roundMs: number): Promise<Figure> {
  const key = 'APIbench';
  const secret = toBase64Url(randomBytes(32));
  const auth = new Authorizer(
    loadConfig({ LIVEKIT_KEYS: `${key}: ${secret}`, VOLLY_UPSTREAM_KEY: 'APIupstream', VOLLY_UPSTREAM_SECRET: toBase64Url(randomBytes(32)) }),
  );
  const jwt = await token({ apiKey: key, apiSecret: secret }, 'bench', 'alice', { ttl: '1h' });
  const once = async () => auth.downgrade(await auth.verify(jwt));
  for (let i = 0; i < 50; i++) await once();
  const t0 = cpuNow();
  let n = 0;
  while (cpuNow() - t0 < 50_000) {
    await once();
    n++;
  }
  const batch = Math.max(20, Math.round((roundMs * 1000) / ((cpuNow() - t0) / n)));
  const per: number[] = [];
  for (let r = 0; r < rounds; r++) {
    const s = cpuNow();
    for (let i = 0; i < batch; i++) await once();
    per.push((cpuNow() - s) / batch);
  }
  return figure(per);
}

export async function runHandshake(opts: HandshakeOptions, log: (s: string) => void): Promise<HandshakeResults> {
  const aead = getAead();
  const rows: HandshakeRow[] = [];
  for (const algorithm of KEM_ALGORITHMS) {
    const keys = prepare(algorithm, 64);
    for (const backend of kemBackends()) {
      // Warm-up (JIT, caches) and a first estimate of the cost.
      const failed: FailureCounts = {};
      const warm = await warmUp(() => round(algorithm, backend, aead, keys, 16, failed));
      const batch = Math.max(16, Math.min(20_000, Math.round((opts.roundMs * 1000) / Math.max(1, warm.total))));
      const totals: number[] = [];
      const as: number[] = [];
      for (let r = 0; r < opts.rounds; r++) {
        const { total, a } = round(algorithm, backend, aead, keys, batch, failed);
        totals.push(total);
        as.push(a);
      }
      const us = figure(totals);
      rows.push({ algorithm, backend, us, encapsulateUs: figure(as), perSecondPerCore: 1e6 / us.median, batch, failedSessions: failed });
      log(`handshake ${algorithm} ${backend}: ${us.median.toFixed(1)} us (${us.min.toFixed(1)}-${us.max.toFixed(1)}), batch ${batch}`);
    }
  }
  const v2 = await runV2Handshake(opts, log);
  const authorizeUs = await authorizeCost(opts.rounds, opts.roundMs);
  log(`authorize (JWT verify + re-sign): ${authorizeUs.median.toFixed(1)} us`);
  return { rows, aeadBackend: aead.backend, authorizeUs, v2 };
}
