// A volly-pq.v1 client on a raw `ws` socket, driven through the shared
// ClientSession state machine, for tests that must tamper with frames on the
// wire (flip bits, replay, reorder) — things the PqWebSocket never does.

import type { Socket } from 'node:net';
import { SignalRequest, SignalResponse } from '@livekit/protocol';
import {
  type ClientOutput,
  ClientSession,
  getAead,
  getKem,
  type KemAlgorithm,
  type KemKeyPair,
  newSessionId,
  randomBytes,
  type SessionFailure,
  SUBPROTOCOL,
  splitSignalUrl,
} from '@volly/shared';
import WebSocket from 'ws';
import { type ConnectSignalOptions, signalUrl } from './signal.ts';

export interface RawPq {
  readonly ws: WebSocket;
  readonly session: ClientSession;
  /** The session id the client chose (token-bound: sent in the URL, the server must use it). */
  readonly sessionId: string;
  /** Every LiveKit message opened so far. */
  readonly messages: SignalResponse[];
  /** Every raw frame sent, in order (for replay tests). */
  readonly sent: Uint8Array[];
  /** Every raw frame received, in order. */
  readonly received: Uint8Array[];
  /** The failure the session reported (a refused handshake or the proxy's sealed VollyError), if any. */
  readonly failure: () => SessionFailure | undefined;
  readonly closed: Promise<{ code: number; reason: string }>;
  /** Seal a SignalRequest and send it (optionally tampering with the sealed bytes first). */
  send(message: SignalRequest['message'], tamper?: (frame: Uint8Array) => Uint8Array): void;
  sendRaw(frame: Uint8Array): void;
  waitFor(pred: (m: SignalResponse) => boolean, timeoutMs?: number): Promise<SignalResponse>;
}

export interface RawPqOptions {
  algorithm?: KemAlgorithm;
  keyPair?: KemKeyPair;
  path?: '/rtc' | '/rtc/v1';
  /** The /rtc/v1 join_request the client seals. */
  joinRequest?: ConnectSignalOptions['joinRequest'];
  /** Parameters added to the socket URL after the client split it: what an on-path attacker appends. */
  urlQuery?: Record<string, string>;
  /** Token-bound without volly_sid (a v1 client from before the replay guard). */
  omitSessionId?: boolean;
  /** LiveKit messages sealed right after VollyConnect and written with it in one TCP write (pipelined early frames); a string goes as an unsealed text frame. */
  early?: Array<SignalRequest['message'] | string>;
}

/** Opens the socket and starts the handshake; resolves at once (see `openRawPq` to wait for the JoinResponse). */
export function startRawPq(baseUrl: string, token: string, opts: RawPqOptions = {}): RawPq {
  const mode = opts.keyPair ? 'token-bound' : 'in-band';
  const sessionId = newSessionId(randomBytes);
  const split = splitSignalUrl(
    signalUrl(baseUrl, token, undefined, { path: opts.path ?? '/rtc', ...(opts.joinRequest ? { joinRequest: opts.joinRequest } : {}) }),
    mode,
    opts.omitSessionId ? undefined : sessionId,
  );
  const socketUrl = new URL(split.socketUrl);
  for (const [k, v] of Object.entries(opts.urlQuery ?? {})) socketUrl.searchParams.append(k, v);
  const session = new ClientSession({
    kem: getKem(opts.algorithm ?? 'ML-KEM-768'),
    aead: getAead(),
    mode,
    ...(opts.keyPair ? { keyPair: opts.keyPair } : {}),
    accessToken: split.accessToken,
    query: split.query,
    ...(opts.omitSessionId ? {} : { sessionId }),
    randomBytes,
  });
  const ws = new WebSocket(socketUrl, SUBPROTOCOL);
  const messages: SignalResponse[] = [];
  const sent: Uint8Array[] = [];
  const received: Uint8Array[] = [];
  const listeners = new Set<() => void>();
  let failure: SessionFailure | undefined;
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: reason.toString() })));
  ws.on('error', () => {});
  const sendRaw = (f: Uint8Array) => {
    sent.push(f);
    ws.send(f);
  };
  const apply = (outs: ClientOutput[]) => {
    for (const o of outs) {
      if (o.type === 'keyed' && opts.early) {
        // The connect (next output) and the early frames leave in one write.
        const socket = (ws as unknown as { _socket: Socket })._socket;
        socket.cork();
        process.nextTick(() => socket.uncork());
      }
      if (o.type === 'send') {
        sendRaw(o.frame);
        if (session.state === 'keyed')
          for (const m of opts.early ?? []) {
            if (typeof m === 'string') ws.send(m);
            else sendRaw(session.seal(new SignalRequest({ message: m }).toBinary()));
          }
      }
      if (o.type === 'message') messages.push(SignalResponse.fromBinary(o.payload));
      if (o.type === 'failed') failure = o.failure;
    }
    for (const l of listeners) l();
  };
  ws.on('open', () => apply(session.start()));
  ws.on('message', (data: Buffer) => {
    received.push(new Uint8Array(data));
    apply(session.receive(new Uint8Array(data)));
  });
  const waitFor = (pred: (m: SignalResponse) => boolean, timeoutMs = 10_000) =>
    new Promise<SignalResponse>((resolve, reject) => {
      const check = () => {
        const m = messages.find(pred);
        if (!m) return false;
        listeners.delete(check);
        clearTimeout(t);
        resolve(m);
        return true;
      };
      const t = setTimeout(() => {
        listeners.delete(check);
        reject(new Error(`no matching message within ${timeoutMs} ms (state ${session.state})`));
      }, timeoutMs);
      if (!check()) listeners.add(check);
      void closed.then(({ code, reason }) => {
        if (listeners.delete(check)) {
          clearTimeout(t);
          reject(new Error(`closed ${code} ${reason} before a matching message`));
        }
      });
    });
  const raw: RawPq = {
    ws,
    session,
    sessionId,
    messages,
    sent,
    received,
    failure: () => failure,
    closed,
    send(message, tamper) {
      const frame = session.seal(new SignalRequest({ message }).toBinary());
      sendRaw(tamper ? tamper(frame) : frame);
    },
    sendRaw,
    waitFor,
  };
  return raw;
}

/** A raw client whose join completed: resolves with the JoinResponse received. */
export function openRawPq(baseUrl: string, token: string, opts: RawPqOptions = {}): Promise<RawPq> {
  const raw = startRawPq(baseUrl, token, opts);
  return raw.waitFor((m) => m.message.case === 'join').then(() => raw);
}
