// A LiveKit signaling connection over volly-pq.v2 in Node: shared's ClientV2
// state machine driven over a raw `ws` socket, so tests can keep and resend a
// first flight (replay), skew the clock, or pick the server key — things a
// well-behaved client never does. Plus the key document fetch and a TCP tee
// that records the bytes of every upgrade request a client sends.

import { createServer, connect as netConnect, type Server } from 'node:net';
import { SignalRequest, SignalResponse } from '@livekit/protocol';
import { FrameKind, getAead, getKem, type Kem, type KemAlgorithm, type KemKeyPair, randomBytes, v2 } from '@volly/shared';
import WebSocket from 'ws';
import type { PqSignal } from './pq-signal.ts';
import { type ConnectSignalOptions, signalUrl, waitForKind } from './signal.ts';

export interface V2Options {
  /** The server key to encapsulate to (default: the current key of the proxy's well-known document). */
  serverKey?: v2.ServerStaticKey;
  path?: '/rtc' | '/rtc/v1';
  joinRequest?: ConnectSignalOptions['joinRequest'];
  /** The key pair a bound token names (its PQ claims). */
  bound?: { readonly algorithm: KemAlgorithm; readonly keyPair: KemKeyPair };
  /** LiveKit parameters added to the sealed query (what livekit-client adds; padding to test sizes). */
  extraQuery?: Record<string, string>;
  /** The client's limit on the request and protocol header lines (default 8192, nginx's buffer). */
  maxHeaderLine?: number;
  /** The client's clock (default Date.now). */
  now?: () => number;
  clockOffsetMs?: number;
  timeoutMs?: number;
  /** The session KEM (default: getKem of the server key's algorithm); a test's stand-in makes a bad ephemeral key. */
  kem?: Kem;
}

/** As v1's PqSignal, on a raw `ws` socket, with the first flight it sent (to replay it). */
export interface V2Signal extends Omit<PqSignal, 'ws'> {
  readonly ws: WebSocket;
  readonly flight: v2.ClientFirstFlight;
}

export class V2ConnectError extends Error {
  // Plain fields, not parameter properties: the harness also runs under Node's type stripping.
  readonly code: number;
  readonly reason: string;
  readonly failure: v2.ClientV2Failure | undefined;
  readonly flight: v2.ClientFirstFlight;
  constructor(code: number, reason: string, failure: v2.ClientV2Failure | undefined, flight: v2.ClientFirstFlight) {
    super(`v2 signaling failed: close ${code} ${reason}${failure ? ` (${failure.code ?? ''} ${failure.message})` : ''}`);
    this.code = code;
    this.reason = reason;
    this.failure = failure;
    this.flight = flight;
  }
}

/** The proxy's GET /.well-known/volly-pq, parsed and checked as a client must. */
export async function fetchServerKeys(baseUrl: string): Promise<v2.ServerStaticKey[]> {
  const res = await fetch(new URL(v2.WELL_KNOWN_PATH, baseUrl.replace(/^ws/, 'http')));
  if (res.status !== 200) throw new Error(`well-known document: HTTP ${res.status}`);
  return v2.parseWellKnownDocument(await res.text());
}

/** The socket URL of a first flight: the signaling path, and `volly_early` as its only parameter. */
export function flightUrl(baseUrl: string, path: string, flight: Pick<v2.ClientFirstFlight, 'query'>): string {
  const u = new URL(baseUrl.replace(/^http/, 'ws'));
  return `${u.origin}${path}?${flight.query}`;
}

/** A client and its first flight for `token`, not sent yet (its path is the LiveKit path sealed in it). */
export async function newFlight(
  baseUrl: string,
  token: string,
  opts: V2Options = {},
): Promise<{ client: v2.ClientV2; flight: v2.ClientFirstFlight; path: string }> {
  const serverKey = opts.serverKey ?? v2.currentKey(await fetchServerKeys(baseUrl), Date.now() / 1000);
  if (!serverKey) throw new Error('the proxy publishes no usable v2 key');
  const lk = new URL(
    signalUrl(baseUrl, undefined, opts.extraQuery, { path: opts.path ?? '/rtc/v1', ...(opts.joinRequest ? { joinRequest: opts.joinRequest } : {}) }),
  );
  const client = new v2.ClientV2({
    kem: opts.kem ?? getKem(serverKey.algorithm),
    aead: getAead(),
    serverKey,
    connect: { path: lk.pathname, query: lk.search.slice(1), accessToken: token },
    now: opts.now ?? Date.now,
    ...(opts.clockOffsetMs !== undefined ? { clockOffsetMs: opts.clockOffsetMs } : {}),
    randomBytes,
    ...(opts.maxHeaderLine ? { maxHeaderLine: opts.maxHeaderLine } : {}),
    ...(opts.bound ? { bound: { kem: getKem(opts.bound.algorithm), keyPair: opts.bound.keyPair } } : {}),
  });
  return { client, flight: client.start(), path: lk.pathname };
}

/** Builds a first flight for `token` and joins with it; rejects with V2ConnectError when the server refuses. */
export async function connectV2(baseUrl: string, token: string, opts: V2Options = {}): Promise<V2Signal> {
  const { client, flight, path } = await newFlight(baseUrl, token, opts);
  const ws = new WebSocket(flightUrl(baseUrl, path, flight), [...flight.protocols]);
  let failure: v2.ClientV2Failure | undefined;
  const queue: SignalResponse[] = [];
  const waiters: Array<(m: SignalResponse) => void> = [];
  const handle = (outputs: v2.ClientV2Output[]) => {
    for (const o of outputs) {
      if (o.type === 'send') ws.send(o.frame);
      else if (o.type === 'failed') failure ??= o.failure;
      else if (o.type === 'message') {
        const m = o.kind === FrameKind.LiveKitText ? SignalResponse.fromJsonString(new TextDecoder().decode(o.payload)) : SignalResponse.fromBinary(o.payload);
        const w = waiters.shift();
        if (w) w(m);
        else queue.push(m);
      }
    }
  };
  ws.on('open', () => handle(client.accepted(ws.protocol)));
  ws.on('message', (data: Buffer) => handle(client.receive(new Uint8Array(data))));
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((resolve) =>
    ws.on('close', (code, reason) => {
      handle(client.closed(code, reason.toString()));
      resolve({ code, reason: reason.toString() });
    }),
  );
  const next = (timeoutMs = 15_000) =>
    new Promise<SignalResponse>((resolve, reject) => {
      const m = queue.shift();
      if (m) return resolve(m);
      const t = setTimeout(() => reject(new Error(`no signal message within ${timeoutMs} ms`)), timeoutMs);
      waiters.push((msg) => {
        clearTimeout(t);
        resolve(msg);
      });
    });
  const first = await Promise.race([
    next(opts.timeoutMs ?? 15_000),
    closed.then(({ code, reason }) => Promise.reject(new V2ConnectError(code, reason, failure, flight))),
  ]);
  if (first.message.case !== 'join') throw new Error(`first message is ${first.message.case}, not join`);
  return {
    ws,
    flight,
    join: first.message.value,
    next,
    waitFor: (kind, timeoutMs = 15_000) => waitForKind(next, kind, timeoutMs),
    send: (message) => ws.send(client.seal(new SignalRequest({ message }).toBinary())),
    closed,
    async close() {
      ws.close(1000);
      await closed;
    },
  };
}

/**
 * Joins as a v2 client recovers on its own: a 4421 refetches the keys and a
 * sealed 4425 retries with the server's time, each once.
 */
export async function joinV2(baseUrl: string, token: string, opts: V2Options = {}): Promise<{ signal: V2Signal; retries: V2ConnectError[] }> {
  const retries: V2ConnectError[] = [];
  let attempt = opts;
  for (;;) {
    try {
      return { signal: await connectV2(baseUrl, token, attempt), retries };
    } catch (err) {
      const hint = err instanceof V2ConnectError ? err.failure?.retry : undefined;
      if (!hint || retries.length > 0) throw err;
      retries.push(err as V2ConnectError);
      const { serverKey: _stale, ...rest } = opts;
      attempt = hint.kind === 'clock' ? { ...opts, clockOffsetMs: hint.clockOffsetMs } : rest;
    }
  }
}

/** Sends a recorded (or altered) first flight, as a replayer would (it has no keys), and reports how the server ended it. */
export function replayFlight(
  baseUrl: string,
  path: string,
  flight: Pick<v2.ClientFirstFlight, 'query' | 'protocols'>,
): Promise<{ code: number; reason: string; received: number }> {
  const ws = new WebSocket(flightUrl(baseUrl, path, flight), [...flight.protocols]);
  let received = 0;
  ws.on('message', () => received++);
  ws.on('error', () => {});
  return new Promise((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString(), received })));
}

/** A TCP tee in front of `targetPort` that records the head of every request a client sends (request line and headers). */
export async function recordingTee(targetPort: number): Promise<{ url: string; heads: string[]; close(): Promise<void> }> {
  const heads: string[] = [];
  const server: Server = createServer((client) => {
    const upstream = netConnect(targetPort, '127.0.0.1');
    let head = '';
    let done = false;
    client.on('data', (d) => {
      if (!done) {
        head += d.toString('latin1');
        const end = head.indexOf('\r\n\r\n');
        if (end >= 0) {
          heads.push(head.slice(0, end));
          done = true;
        }
      }
      upstream.write(d);
    });
    upstream.pipe(client);
    const end = () => {
      client.destroy();
      upstream.destroy();
    };
    client.on('close', end).on('error', end);
    upstream.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const port = (server.address() as { port: number }).port;
  return { url: `ws://127.0.0.1:${port}`, heads, close: () => new Promise((r) => server.close(() => r())) };
}
