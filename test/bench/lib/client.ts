// Signaling-only LiveKit load clients (LiveKit's protocol, no media): one
// WebSocket per session, plain (direct, through nginx, through the proxy's
// classical path) or sealed (volly-pq.v1 through the shared ClientSession on
// a raw `ws` socket). A session resolves when its JoinResponse has arrived;
// joinMs is measured from before the client's own crypto (in-band keygen)
// and the TCP connect, to the decoded JoinResponse.

import { DisconnectReason, LeaveRequest, SignalRequest, SignalResponse } from '@livekit/protocol';
import {
  type ClientOutput,
  ClientSession,
  getAead,
  getKem,
  type KemAlgorithm,
  type KemKeyPair,
  newSessionId,
  randomBytes,
  SUBPROTOCOL,
  splitSignalUrl,
} from '@volly/shared';
import WebSocket, { type RawData } from 'ws';
import { signalUrl } from '../../harness/signal.ts';
import { countFailure, type FailureCounts, failureKey, HttpRefused, JoinTimeout, SessionClosed, UnexpectedMessage } from './failures.ts';

export { HttpRefused } from './failures.ts';

export type Flow = 'in-band' | 'token-bound';

export interface SealedOptions {
  readonly algorithm: KemAlgorithm;
  readonly flow: Flow;
  /** Token-bound: the key pair the token carries. */
  readonly keyPair?: KemKeyPair;
}

/** Frames seen by clients, summed over sessions (the relay scenario's frame count). */
export interface FrameCounters {
  sent: number;
  received: number;
}

export interface OpenOptions {
  /** ws://host:port of LiveKit, nginx or the proxy. */
  readonly baseUrl: string;
  readonly token: string;
  readonly sealed?: SealedOptions;
  readonly timeoutMs?: number;
  readonly counters?: FrameCounters;
  /** Every LiveKit message after the JoinResponse. */
  readonly onMessage?: (m: SignalResponse) => void;
  /** The client's own loopback address (storms and scale emulate many users, not one address: see clientAddress). */
  readonly localAddress?: string;
}

/**
 * A loopback address per emulated user: 127.1.x.y. Real storms come from
 * many addresses, and the proxy shares handshake slots per address, so
 * 2,000 clients on 127.0.0.1 would measure one address's share instead.
 */
export const clientAddress = (i: number): string => `127.1.${(i >> 8) & 255}.${((i & 255) % 254) + 1}`;

export interface BenchSession {
  readonly joinMs: number;
  /** From `new WebSocket` (after the client's in-band key generation) to the JoinResponse. */
  readonly socketMs: number;
  readonly ws: WebSocket;
  /**
   * Sends one LiveKit message; false (and nothing sent) once the socket is not
   * open or the sealed session has failed. Never throws: a keepalive timer
   * must not take the benchmark down with one failed session.
   */
  send(message: SignalRequest['message']): boolean;
  /** Why the session ended without the benchmark ending it ("close 4400"); undefined while it is fine. */
  readonly failure: string | undefined;
  /** Leave (as livekit-client does on disconnect), then close. */
  close(): void;
  /** Drop the TCP connection without a goodbye (a network failure). */
  terminate(): void;
  readonly closed: Promise<number>;
}

const bytesOf = (data: RawData): Uint8Array => {
  const b = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
  return new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
};

const LEAVE = new SignalRequest({ message: { case: 'leave', value: new LeaveRequest({ reason: DisconnectReason.CLIENT_INITIATED }) } });

/** Opens one signaling session and resolves at its JoinResponse. */
export function openSession(opts: OpenOptions): Promise<BenchSession> {
  const t0 = performance.now();
  const url = signalUrl(opts.baseUrl, opts.token, undefined, { path: '/rtc' });
  const sealed = opts.sealed;
  let session: ClientSession | undefined;
  let ws: WebSocket;
  let tSocket: number;
  if (sealed) {
    // The client's own session id (token-bound: volly_sid beside the token, its replay guard).
    const sessionId = newSessionId(randomBytes);
    const split = splitSignalUrl(url, sealed.flow, sessionId);
    session = new ClientSession({
      kem: getKem(sealed.algorithm),
      aead: getAead(),
      mode: sealed.flow,
      ...(sealed.keyPair ? { keyPair: sealed.keyPair } : {}),
      accessToken: split.accessToken,
      query: split.query,
      sessionId,
      randomBytes,
    });
    tSocket = performance.now();
    ws = new WebSocket(split.socketUrl, SUBPROTOCOL, { perMessageDeflate: false, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  } else {
    tSocket = performance.now();
    ws = new WebSocket(url, { perMessageDeflate: false, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
  }
  const counters = opts.counters;
  const sendFrame = (f: Uint8Array) => {
    if (counters) counters.sent++;
    ws.send(f);
  };
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('error', () => {});
  // After the JoinResponse: set when the session ends without our close().
  let failure: string | undefined;
  let closing = false;

  return new Promise<BenchSession>((resolve, reject) => {
    let joined = false;
    const fail = (err: Error) => {
      clearTimeout(timer);
      if (joined) return;
      joined = true; // settled
      ws.terminate();
      reject(err);
    };
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const timer = setTimeout(() => fail(new JoinTimeout(timeoutMs)), timeoutMs);
    const deliver = (payload: Uint8Array) => {
      if (counters) counters.received++;
      const m = SignalResponse.fromBinary(payload);
      if (joined) {
        opts.onMessage?.(m);
        return;
      }
      if (m.message.case !== 'join') return fail(new UnexpectedMessage(m.message.case));
      joined = true;
      clearTimeout(timer);
      const now = performance.now();
      void closed.then((code) => {
        if (!closing) failure ??= `close ${code}`;
      });
      resolve({
        joinMs: now - t0,
        socketMs: now - tSocket,
        ws,
        get failure() {
          return failure;
        },
        send(message) {
          if (ws.readyState !== WebSocket.OPEN || failure || (session && session.state !== 'open')) return false;
          const bin = new SignalRequest({ message }).toBinary();
          try {
            sendFrame(session ? session.seal(bin) : bin);
          } catch (err) {
            failure ??= failureKey(err);
            ws.terminate();
            return false;
          }
          return true;
        },
        close() {
          closing = true;
          if (ws.readyState !== WebSocket.OPEN || (session && session.state !== 'open')) return ws.terminate();
          const bin = LEAVE.toBinary();
          ws.send(session ? session.seal(bin) : bin);
          ws.close(1000);
          setTimeout(() => ws.terminate(), 2000).unref();
        },
        terminate() {
          closing = true;
          ws.terminate();
        },
        closed,
      });
    };
    const apply = (outs: ClientOutput[]) => {
      for (const o of outs) {
        if (o.type === 'send') ws.send(o.frame);
        else if (o.type === 'message') deliver(o.payload);
        else if (o.type === 'failed') {
          if (!joined) fail(new SessionClosed(o.failure.closeCode, o.failure.code ?? ''));
          else {
            // A sealed session that fails after the join ends its socket with the failure's code, as the shim does.
            failure ??= `close ${o.failure.closeCode}`;
            const code = o.failure.closeCode;
            if (code >= 4000 && code <= 4999) ws.close(code);
            else ws.terminate();
          }
        }
      }
    };
    ws.once('unexpected-response', (_req, res) => {
      res.resume();
      fail(new HttpRefused(res.statusCode ?? 0));
    });
    ws.once('open', () => {
      if (session) apply(session.start());
    });
    ws.on('message', (data, isBinary) => {
      if (session) apply(session.receive(bytesOf(data)));
      else if (isBinary) deliver(bytesOf(data));
    });
    void closed.then((code) => fail(new SessionClosed(code, '')));
  });
}

export interface RetryLog {
  count: number;
  /** Failed attempts by failure key ("HTTP 429", "close 4502", "timeout"); each was retried. */
  reasons: FailureCounts;
}

/**
 * Opens a session, trying again after a jittered 50-250 ms (livekit-client
 * retries with its backoff) until `deadline`: on HTTP 429/503 only, or on
 * any failure when `retryOn` is 'any'.
 */
export async function openWithRetry(opts: OpenOptions, deadline: number, log: RetryLog, retryOn: 'busy' | 'any' = 'busy'): Promise<BenchSession> {
  for (;;) {
    try {
      return await openSession(opts);
    } catch (err) {
      const busy = err instanceof HttpRefused && (err.status === 429 || err.status === 503);
      if ((!busy && retryOn !== 'any') || performance.now() > deadline) throw err;
      log.count++;
      countFailure(log.reasons, failureKey(err));
      await new Promise((r) => setTimeout(r, 50 + Math.random() * 200));
    }
  }
}

/** Runs `fn(i)` for i in [0, n) with at most `concurrency` at once; collects results in order. */
export async function pool<T>(n: number, concurrency: number, fn: (i: number) => Promise<T>): Promise<T[]> {
  const out = new Array<T>(n);
  let next = 0;
  const worker = async () => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      out[i] = await fn(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(n, concurrency) }, worker));
  return out;
}

/**
 * A pingReq every `intervalMs` (first one after a random part of it, so
 * sessions do not ping in step). It stops itself once the session cannot send
 * (failed or closed); the returned function stops it too.
 */
export function keepalive(sess: BenchSession, intervalMs: number): () => void {
  let n = 0;
  let interval: ReturnType<typeof setInterval> | undefined;
  const stop = () => {
    clearTimeout(first);
    clearInterval(interval);
  };
  const ping = () => {
    if (!sess.send({ case: 'pingReq', value: { timestamp: BigInt(++n), rtt: 0n } as never })) stop();
  };
  const first = setTimeout(() => {
    ping();
    interval = setInterval(ping, intervalMs);
  }, Math.random() * intervalMs);
  return stop;
}

/** Adds to `counts` every session of `sessions` that has failed (by its failure key); returns how many. */
export function tallySessionFailures(sessions: Iterable<BenchSession | undefined>, counts: FailureCounts): number {
  let n = 0;
  for (const s of sessions) {
    if (!s?.failure) continue;
    countFailure(counts, s.failure);
    n++;
  }
  return n;
}
