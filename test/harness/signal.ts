// A raw LiveKit signaling WebSocket, as livekit-client opens it, for tests
// that talk to LiveKit (or to the proxy in classical mode) without a browser:
// open, await the JoinResponse, then read and send SignalResponse/SignalRequest.

import {
  ClientInfo,
  ClientInfo_SDK,
  ConnectionSettings,
  JoinRequest,
  type JoinResponse,
  SignalRequest,
  SignalResponse,
  WrappedJoinRequest,
  WrappedJoinRequest_Compression,
} from '@livekit/protocol';
import WebSocket, { type ClientOptions, type RawData } from 'ws';

/** The protocol version current livekit-client sends (`protocol=` query); LiveKit v1.13.5 knows up to 17. */
export const LIVEKIT_CLIENT_PROTOCOL = 16;
/** The client SDK version this helper claims to be (`version=` query). */
export const SIGNAL_CLIENT_VERSION = '2.15.0';

/** The HTTP answer to a refused WebSocket upgrade (e.g. 401 for a bad token). */
export class SignalHttpError extends Error {
  readonly status: number;
  readonly body: string;
  readonly headers: Record<string, string | string[] | undefined>;
  constructor(status: number, body: string, headers: Record<string, string | string[] | undefined>) {
    super(`WebSocket upgrade refused: HTTP ${status}: ${body}`);
    this.name = 'SignalHttpError';
    this.status = status;
    this.body = body;
    this.headers = headers;
  }
}

export interface ConnectSignalOptions {
  /**
   * Signaling path when `url` has none: '/rtc' (default; query parameters
   * like livekit-client < 2.16 sends) or '/rtc/v1' (a `join_request`
   * WrappedJoinRequest, as newer livekit-client sends).
   */
  path?: '/rtc' | '/rtc/v1';
  /** For '/rtc/v1': fields of the JoinRequest to send (clientInfo and connectionSettings get defaults). */
  joinRequest?: Partial<JoinRequest>;
  /** WebSocket subprotocols to offer. */
  protocols?: string | string[];
  /** Extra ws client options (headers, ...). */
  wsOptions?: ClientOptions;
  /** How long to wait for the upgrade and the first frame (default 15 s). */
  timeoutMs?: number;
  /** Put the token in `Authorization: Bearer` instead of `access_token=`. */
  tokenInHeader?: boolean;
}

export interface SignalConnection {
  readonly ws: WebSocket;
  /** The first frame's JoinResponse. */
  readonly join: JoinResponse;
  /** The URL that was dialed (token included). */
  readonly url: string;
  /** Every frame received so far, in order, the join frame first. */
  readonly received: SignalResponse[];
  /** The next frame not yet taken by next()/waitFor() (the join frame is already taken). */
  next(timeoutMs?: number): Promise<SignalResponse>;
  /** Skip frames until one whose `message.case` is `kind`. */
  waitFor<K extends NonNullable<SignalResponse['message']['case']>>(
    kind: K,
    timeoutMs?: number,
  ): Promise<Extract<SignalResponse['message'], { case: K }>['value']>;
  send(req: SignalRequest | SignalRequest['message']): void;
  /** Resolves with the close code and reason once the socket is closed. */
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Send a LeaveRequest-less close and wait for the socket to close. */
  close(code?: number, reason?: string): Promise<void>;
}

function toBytes(data: RawData): Uint8Array {
  if (Array.isArray(data)) return new Uint8Array(Buffer.concat(data));
  if (data instanceof ArrayBuffer) return new Uint8Array(data);
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}

/** Decode one signaling frame (binary protobuf, or JSON text from old clients' mode). */
export function decodeSignalResponse(data: RawData, isBinary: boolean): SignalResponse {
  if (isBinary) return SignalResponse.fromBinary(toBytes(data));
  return SignalResponse.fromJsonString(Buffer.from(toBytes(data)).toString('utf8'));
}

/** Padded base64url of a WrappedJoinRequest around `jr` (uncompressed), for `/rtc/v1?join_request=`. */
export function encodeJoinRequest(jr: Partial<JoinRequest> = {}): string {
  const join = new JoinRequest({
    clientInfo: new ClientInfo({ sdk: ClientInfo_SDK.JS, version: SIGNAL_CLIENT_VERSION, protocol: LIVEKIT_CLIENT_PROTOCOL }),
    connectionSettings: new ConnectionSettings({ autoSubscribe: true }),
    ...jr,
  });
  const wrapped = new WrappedJoinRequest({
    compression: WrappedJoinRequest_Compression.NONE,
    joinRequest: join.toBinary(),
  });
  // LiveKit decodes it with Go's base64.URLEncoding, which wants the '=' padding.
  return Buffer.from(wrapped.toBinary()).toString('base64').replaceAll('+', '-').replaceAll('/', '_');
}

/** Reads messages with `next` until one of `kind` arrives (skipping others); `next` rejects at the deadline. */
export async function waitForKind<K extends SignalResponse['message']['case']>(
  next: (timeoutMs?: number) => Promise<SignalResponse>,
  kind: K,
  timeoutMs: number,
): Promise<never> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const m = await next(Math.max(1, deadline - Date.now()));
    if (m.message.case === kind) return m.message.value as never;
  }
}

/**
 * The URL livekit-client would dial. `url` is LiveKit's (or the proxy's) base
 * URL, http(s) or ws(s); a path other than '/' is kept as given.
 */
export function signalUrl(
  url: string,
  token: string | undefined,
  extraQuery?: Record<string, string> | URLSearchParams | string,
  opts: Pick<ConnectSignalOptions, 'path' | 'joinRequest'> = {},
): string {
  const u = new URL(url);
  if (u.protocol === 'http:') u.protocol = 'ws:';
  if (u.protocol === 'https:') u.protocol = 'wss:';
  if (u.pathname === '' || u.pathname === '/') u.pathname = opts.path ?? '/rtc';
  const q = u.searchParams;
  if (token !== undefined) q.set('access_token', token);
  if (u.pathname.endsWith('/rtc/v1')) {
    q.set('join_request', encodeJoinRequest(opts.joinRequest));
  } else {
    q.set('auto_subscribe', '1');
    q.set('sdk', 'js');
    q.set('version', SIGNAL_CLIENT_VERSION);
    q.set('protocol', String(LIVEKIT_CLIENT_PROTOCOL));
  }
  const extra = typeof extraQuery === 'string' ? new URLSearchParams(extraQuery) : extraQuery;
  if (extra) {
    for (const [k, v] of extra instanceof URLSearchParams ? extra.entries() : Object.entries(extra)) q.set(k, v);
  }
  return u.toString();
}

/**
 * Open a LiveKit signaling WebSocket and wait for the first frame, which must
 * be a JoinResponse. Rejects with SignalHttpError when the upgrade is refused
 * (LiveKit answers a bad token with HTTP 401 and a text body), or with an
 * Error naming the first frame when it is not a join.
 */
export function connectSignal(
  url: string,
  token: string | undefined,
  extraQuery?: Record<string, string> | URLSearchParams | string,
  opts: ConnectSignalOptions = {},
): Promise<SignalConnection> {
  const timeoutMs = opts.timeoutMs ?? 15_000;
  const dialUrl = signalUrl(url, opts.tokenInHeader ? undefined : token, extraQuery, opts);
  const wsOptions: ClientOptions = { ...opts.wsOptions };
  if (opts.tokenInHeader && token !== undefined) {
    wsOptions.headers = { ...wsOptions.headers, Authorization: `Bearer ${token}` };
  }
  const ws = new WebSocket(dialUrl, opts.protocols ?? [], wsOptions);
  ws.binaryType = 'nodebuffer';

  const received: SignalResponse[] = [];
  const queue: SignalResponse[] = [];
  const waiters: Array<{ resolve: (m: SignalResponse) => void; reject: (e: Error) => void }> = [];
  let failure: Error | undefined;

  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.once('close', (code, reason) => {
      const info = { code, reason: reason.toString('utf8') };
      failure ??= new Error(`signaling socket closed (${info.code} ${info.reason})`);
      for (const w of waiters.splice(0)) w.reject(failure);
      resolve(info);
    });
  });

  ws.on('message', (data, isBinary) => {
    let msg: SignalResponse;
    try {
      msg = decodeSignalResponse(data, isBinary);
    } catch (err) {
      failure = new Error(`undecodable signaling frame: ${String(err)}`);
      ws.terminate();
      return;
    }
    received.push(msg);
    const w = waiters.shift();
    if (w) w.resolve(msg);
    else queue.push(msg);
  });

  const next = (ms = timeoutMs): Promise<SignalResponse> => {
    const queued = queue.shift();
    if (queued) return Promise.resolve(queued);
    if (failure) return Promise.reject(failure);
    return new Promise<SignalResponse>((resolve, reject) => {
      const waiter = {
        resolve: (m: SignalResponse) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e: Error) => {
          clearTimeout(timer);
          reject(e);
        },
      };
      const timer = setTimeout(() => {
        const i = waiters.indexOf(waiter);
        if (i >= 0) waiters.splice(i, 1);
        reject(new Error(`no signaling frame within ${ms} ms`));
      }, ms);
      waiters.push(waiter);
    });
  };

  return new Promise<SignalConnection>((resolve, reject) => {
    const timer = setTimeout(() => fail(new Error(`no JoinResponse from ${url} within ${timeoutMs} ms`)), timeoutMs);
    let settled = false;
    const fail = (err: Error): void => {
      clearTimeout(timer);
      if (settled) return;
      settled = true;
      ws.terminate();
      reject(err);
    };

    ws.once('unexpected-response', (_req, res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => fail(new SignalHttpError(res.statusCode ?? 0, Buffer.concat(chunks).toString('utf8'), res.headers)));
      res.on('error', (e) => fail(e));
    });
    // Kept for the socket's whole life: an 'error' without a listener would throw.
    ws.on('error', (err) => {
      failure ??= err;
      fail(err);
    });
    ws.once('open', () => {
      next(timeoutMs).then(
        (first) => {
          clearTimeout(timer);
          if (settled) return;
          if (first.message.case !== 'join') {
            fail(new Error(`first signaling frame is ${first.message.case ?? 'empty'}, not join: ${first.toJsonString()}`));
            return;
          }
          const conn: SignalConnection = {
            ws,
            join: first.message.value,
            url: dialUrl,
            received,
            next,
            waitFor: (kind, ms = timeoutMs) => waitForKind(next, kind, ms),
            send(req) {
              const msg = req instanceof SignalRequest ? req : new SignalRequest({ message: req });
              ws.send(msg.toBinary());
            },
            closed,
            async close(code = 1000, reason = '') {
              if (ws.readyState === WebSocket.CLOSED) return;
              ws.close(code, reason);
              const t = setTimeout(() => ws.terminate(), 3_000);
              await closed;
              clearTimeout(t);
            },
          };
          settled = true;
          resolve(conn);
        },
        (err: Error) => fail(err),
      );
    });
  });
}
