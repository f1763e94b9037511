// Signaling-only LiveKit load clients (LiveKit's protocol, no media): one
// WebSocket per session, plain (direct, through nginx, through the proxy's
// classical path) or sealed (volly-pq.v1 through the shared ClientSession on
// a raw `ws` socket). A session resolves when its JoinResponse has arrived;
// joinMs is measured from before the client's own crypto (in-band keygen)
// and the TCP connect, to the decoded JoinResponse.

import { DisconnectReason, LeaveRequest, SignalRequest, SignalResponse } from '@livekit/protocol';
import { type ClientOutput, ClientSession, getAead, getKem, type KemAlgorithm, type KemKeyPair, randomBytes, SUBPROTOCOL, splitSignalUrl } from '@volly/shared';
import WebSocket, { type RawData } from 'ws';
import { signalUrl } from '../../harness/signal.ts';

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
}

/** The upgrade was refused with an HTTP status (429 busy, 503 draining, 401 ...). */
export class HttpRefused extends Error {
  readonly status: number;
  constructor(status: number) {
    super(`upgrade refused with HTTP ${status}`);
    this.status = status;
  }
}

export interface BenchSession {
  readonly joinMs: number;
  readonly ws: WebSocket;
  send(message: SignalRequest['message']): void;
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
  if (sealed) {
    const split = splitSignalUrl(url, sealed.flow);
    session = new ClientSession({
      kem: getKem(sealed.algorithm),
      aead: getAead(),
      mode: sealed.flow,
      ...(sealed.keyPair ? { keyPair: sealed.keyPair } : {}),
      accessToken: split.accessToken,
      query: split.query,
      randomBytes,
    });
    ws = new WebSocket(split.socketUrl, SUBPROTOCOL, { perMessageDeflate: false });
  } else {
    ws = new WebSocket(url, { perMessageDeflate: false });
  }
  const counters = opts.counters;
  const sendFrame = (f: Uint8Array) => {
    if (counters) counters.sent++;
    ws.send(f);
  };
  const closed = new Promise<number>((resolve) => ws.once('close', (code) => resolve(code)));
  ws.on('error', () => {});

  return new Promise<BenchSession>((resolve, reject) => {
    let joined = false;
    const fail = (err: Error) => {
      clearTimeout(timer);
      if (joined) return;
      joined = true; // settled
      ws.terminate();
      reject(err);
    };
    const timer = setTimeout(() => fail(new Error(`no JoinResponse within ${opts.timeoutMs ?? 30_000} ms`)), opts.timeoutMs ?? 30_000);
    const deliver = (payload: Uint8Array) => {
      if (counters) counters.received++;
      const m = SignalResponse.fromBinary(payload);
      if (joined) {
        opts.onMessage?.(m);
        return;
      }
      if (m.message.case !== 'join') return fail(new Error(`first LiveKit message is ${m.message.case}, not join`));
      joined = true;
      clearTimeout(timer);
      const joinMs = performance.now() - t0;
      resolve({
        joinMs,
        ws,
        send(message) {
          if (ws.readyState !== WebSocket.OPEN) return;
          const bin = new SignalRequest({ message }).toBinary();
          sendFrame(session ? session.seal(bin) : bin);
        },
        close() {
          if (ws.readyState !== WebSocket.OPEN) return ws.terminate();
          const bin = LEAVE.toBinary();
          ws.send(session ? session.seal(bin) : bin);
          ws.close(1000);
          setTimeout(() => ws.terminate(), 2000).unref();
        },
        terminate: () => ws.terminate(),
        closed,
      });
    };
    const apply = (outs: ClientOutput[]) => {
      for (const o of outs) {
        if (o.type === 'send') ws.send(o.frame);
        else if (o.type === 'message') deliver(o.payload);
        else if (o.type === 'failed') fail(new Error(`sealed session failed: ${o.failure.closeCode} ${o.failure.message}`));
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
    void closed.then((code) => fail(new Error(`closed ${code} before the JoinResponse`)));
  });
}

export interface RetryLog {
  count: number;
  /** Failed attempts by reason ("HTTP 429", "4502 LiveKit unreachable: ...", "timeout"). */
  reasons: Record<string, number>;
}

function reasonOf(err: unknown): string {
  if (err instanceof HttpRefused) return `HTTP ${err.status}`;
  const m = err instanceof Error ? err.message : String(err);
  return m
    .replace(/\d+ ms/, 'N ms')
    .replace(/^sealed session failed: /, '')
    .slice(0, 80);
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
      const reason = reasonOf(err);
      log.reasons[reason] = (log.reasons[reason] ?? 0) + 1;
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
