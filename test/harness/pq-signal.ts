// A LiveKit signaling connection over volly-pq.v1 in Node, through the shared
// client's PqWebSocket (the same class the browser uses) on Node's own
// WebSocket. The Node counterpart of livekit-client's signal connection.

import { type JoinResponse, SignalRequest, SignalResponse } from '@livekit/protocol';
import {
  getAead,
  getKem,
  getSigner,
  type KemAlgorithm,
  type KemKeyPair,
  PqWebSocket,
  randomBytes,
  type ServerKeyPin,
  type SessionFailure,
} from '@volly/shared';
import { signalUrl, waitForKind } from './signal.ts';

export interface PqSignal {
  readonly ws: PqWebSocket;
  readonly join: JoinResponse;
  next(timeoutMs?: number): Promise<SignalResponse>;
  waitFor<K extends NonNullable<SignalResponse['message']['case']>>(
    kind: K,
    timeoutMs?: number,
  ): Promise<Extract<SignalResponse['message'], { case: K }>['value']>;
  send(message: SignalRequest['message']): void;
  readonly closed: Promise<{ code: number; reason: string }>;
  close(): Promise<void>;
}

export class PqConnectError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    readonly failure: SessionFailure | undefined,
  ) {
    super(`PQ signaling failed: close ${code} ${reason}${failure?.status ? ` (HTTP ${failure.status})` : ''}`);
  }
}

export interface PqConnectOptions {
  algorithm?: KemAlgorithm;
  keyPairs?: KemKeyPair[];
  path?: '/rtc' | '/rtc/v1';
  extraQuery?: Record<string, string>;
  timeoutMs?: number;
  /** Pinned server keys (server authentication); without them, the token's video.pqServerKeys if any. */
  serverKeys?: ServerKeyPin[];
  /** The WebSocket underneath (default Node's global one), e.g. `ws` with TLS options. */
  WebSocket?: typeof globalThis.WebSocket;
}

export function connectPq(baseUrl: string, token: string, opts: PqConnectOptions = {}): Promise<PqSignal> {
  const url = signalUrl(baseUrl, token, opts.extraQuery, { path: opts.path ?? '/rtc' });
  let failure: SessionFailure | undefined;
  const ws = new PqWebSocket(url, undefined, {
    getKem: (a) => getKem(a),
    aead: getAead(),
    randomBytes,
    WebSocket: opts.WebSocket ?? globalThis.WebSocket,
    ...(opts.algorithm ? { algorithm: opts.algorithm } : {}),
    ...(opts.keyPairs ? { keyPairs: opts.keyPairs } : {}),
    getSigner: (a) => getSigner(a),
    ...(opts.serverKeys ? { serverKeys: opts.serverKeys } : {}),
    onFailure: (_t, f) => {
      failure = f;
    },
  });
  ws.binaryType = 'arraybuffer';
  const queue: SignalResponse[] = [];
  const waiters: Array<(m: SignalResponse) => void> = [];
  let closeInfo: { code: number; reason: string } | undefined;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => {
    ws.addEventListener('close', (ev) => {
      const { code, reason } = ev as CloseEvent;
      closeInfo = { code, reason };
      resolve(closeInfo);
    });
  });
  ws.addEventListener('message', (ev) => {
    const data = (ev as MessageEvent).data;
    const msg =
      typeof data === 'string'
        ? SignalResponse.fromJsonString(data, { ignoreUnknownFields: true })
        : SignalResponse.fromBinary(new Uint8Array(data as ArrayBuffer));
    const w = waiters.shift();
    if (w) w(msg);
    else queue.push(msg);
  });
  const next = (timeoutMs = 15_000) =>
    new Promise<SignalResponse>((resolve, reject) => {
      const m = queue.shift();
      if (m) return resolve(m);
      const t = setTimeout(
        () => reject(new Error(`no signal message within ${timeoutMs} ms${closeInfo ? ` (closed ${closeInfo.code} ${closeInfo.reason})` : ''}`)),
        timeoutMs,
      );
      waiters.push((msg) => {
        clearTimeout(t);
        resolve(msg);
      });
    });
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('PQ connect timed out')), opts.timeoutMs ?? 15_000);
    void closed.then(({ code, reason }) => {
      clearTimeout(timer);
      reject(new PqConnectError(code, reason, failure));
    });
    ws.addEventListener('open', async () => {
      try {
        const first = await next();
        clearTimeout(timer);
        if (first.message.case !== 'join') throw new Error(`first message is ${first.message.case}, not join`);
        resolve({
          ws,
          join: first.message.value,
          next,
          waitFor: (kind, timeoutMs = 15_000) => waitForKind(next, kind, timeoutMs),
          send(message) {
            ws.send(new SignalRequest({ message }).toBinary());
          },
          closed,
          async close() {
            ws.close(1000);
            await closed;
          },
        });
      } catch (err) {
        reject(err);
      }
    });
  });
}
