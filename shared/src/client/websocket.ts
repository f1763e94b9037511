/**
 * A WebSocket with the browser interface that speaks volly-pq.v1 underneath,
 * so livekit-client (which does `new WebSocket(url)`) needs no change.
 *
 * Behaviour seen by the application:
 * - `open` fires only when the first sealed LiveKit frame has been opened
 *   (LiveKit always speaks first), so a refusal never looks like a success;
 * - a sealed error or failed handshake before that fires `error` then `close`
 *   (with the proxy's close code) and never `open`; the failure is recorded
 *   for the validate shim (install.ts) to answer livekit-client's follow-up
 *   `/rtc/validate` fetch with LiveKit's real status and reason;
 * - `protocol` is '' (the application asked for no subprotocol); `pq` tells
 *   the session's algorithm, id, fingerprint and frame counts;
 * - with pinned server keys (`serverKeys`, else `video.pqServerKeys` of the
 *   URL's token) a pq_response not signed by one of them fails the socket
 *   with 4526 before the token or query is sealed; malformed pins in the
 *   token fail it the same way before anything is sent.
 */
import type { Aead } from '../aead/types.js';
import { equalBytes, fromUtf8, toHex } from '../bytes.js';
import { CloseCode, isSendableCloseCode } from '../close-codes.js';
import { closeReason } from '../close-reason.js';
import { FrameKind } from '../frame.js';
import { fingerprint } from '../handshake.js';
import type { Kem, KemAlgorithm, KemKeyPair } from '../kem/types.js';
import { newSessionId, SUBPROTOCOL } from '../protocol.js';
import { type ServerKey, type ServerKeyPin, serverKeys } from '../sig/server-auth.js';
import type { SigAlgorithm, Signer } from '../sig/types.js';
import { peekTokenPayload, readPqClaims, readServerKeyClaims } from '../token.js';
import { type ClientOutput, ClientSession, type SessionFailure } from './session.js';
import { splitSignalUrl } from './url.js';

export interface PqWebSocketOptions {
  readonly algorithm?: KemAlgorithm;
  /** Key pairs the app's tokens may be bound to (token-bound mode). */
  readonly keyPairs?: readonly KemKeyPair[];
  readonly getKem: (algorithm: KemAlgorithm) => Kem;
  readonly aead: Aead;
  readonly randomBytes: (n: number) => Uint8Array;
  /** The WebSocket implementation underneath (the browser's, Node's global, or `ws`). */
  readonly WebSocket: typeof globalThis.WebSocket;
  /** Called with every failure before `error`/`close` fire (the validate shim records it here). */
  readonly onFailure?: (accessToken: string, failure: SessionFailure) => void;
  /**
   * Pinned server keys: the proxy must sign each handshake with one of them.
   * Absent or empty: the pins in the token's `video.pqServerKeys`, if any.
   */
  readonly serverKeys?: readonly ServerKeyPin[];
  /** Signature backend for server authentication (needed when keys are pinned). */
  readonly getSigner?: (algorithm: SigAlgorithm) => Signer;
}

export interface PqSessionInfo {
  readonly mode: 'in-band' | 'token-bound';
  readonly algorithm: KemAlgorithm;
  readonly sessionId: string | undefined;
  readonly fingerprint: string | undefined;
  readonly framesSealed: number;
  readonly framesOpened: number;
  /** Where the pins came from: explicit options, the URL's token, or none (server not authenticated). */
  readonly serverKeysFrom: 'options' | 'token' | 'none';
  /** Hex key id of the pinned server key that signed this session's handshake. */
  readonly serverKeyId: string | undefined;
}

/** The token's PQ binding, read without verifying (the client only looks for its own key); null when absent or malformed. */
function boundClaims(token: string) {
  const payload = token ? peekTokenPayload(token) : null;
  try {
    return payload ? readPqClaims(payload, 0) : null;
  } catch {
    return null;
  }
}

type Pins = { from: 'options' | 'token' | 'none'; keys: ServerKey[]; error?: SessionFailure };

/**
 * The server keys this socket pins: the app's own when it gave any (malformed
 * ones throw: an app bug), else its token's (the token came from the app's
 * token server before this socket existed, not through the proxy). Token pins
 * that are malformed, or pins without a signature backend, fail closed.
 */
function resolvePins(opts: PqWebSocketOptions, token: string): Pins {
  if (opts.serverKeys?.length) {
    const keys = serverKeys(opts.serverKeys);
    if (!opts.getSigner) throw new TypeError('PqWebSocket: serverKeys need getSigner');
    return { from: 'options', keys };
  }
  const payload = token ? peekTokenPayload(token) : null;
  let keys: ServerKey[] | null;
  try {
    keys = payload ? readServerKeyClaims(payload) : null;
  } catch (err) {
    return { from: 'token', keys: [], error: { closeCode: CloseCode.ServerAuth, message: (err as Error).message, code: 'ERR_TOKEN_CLAIMS' } };
  }
  if (!keys) return { from: 'none', keys: [] };
  if (!opts.getSigner)
    return {
      from: 'token',
      keys: [],
      error: { closeCode: CloseCode.ServerAuth, message: 'the token pins server keys but no signature backend is configured' },
    };
  return { from: 'token', keys };
}

type Handler = ((this: PqWebSocket, ev: Event) => unknown) | null;

function closeEvent(code: number, reason: string, wasClean: boolean): Event {
  if (typeof CloseEvent === 'function') return new CloseEvent('close', { code, reason, wasClean });
  return Object.assign(new Event('close'), { code, reason, wasClean });
}

/** A client may only close with 1000 or 3000-4999 (RFC 6455 §7.4.2, WHATWG); anything else goes out as 4400. */
const clientCloseCode = (code: number): number => (isSendableCloseCode(code, 'client') ? code : CloseCode.Malformed);

export class PqWebSocket extends EventTarget {
  static readonly CONNECTING = 0;
  static readonly OPEN = 1;
  static readonly CLOSING = 2;
  static readonly CLOSED = 3;
  readonly CONNECTING = 0;
  readonly OPEN = 1;
  readonly CLOSING = 2;
  readonly CLOSED = 3;

  onopen: Handler = null;
  onmessage: Handler = null;
  onerror: Handler = null;
  onclose: Handler = null;
  binaryType: BinaryType = 'blob';
  readonly url: string;
  readonly protocol = '';
  readonly extensions = '';

  #readyState: number = PqWebSocket.CONNECTING;
  readonly #inner: WebSocket;
  readonly #session: ClientSession;
  readonly #accessToken: string;
  readonly #mode: 'in-band' | 'token-bound';
  readonly #algorithm: KemAlgorithm;
  readonly #pins: Pins;
  #failure: SessionFailure | undefined;
  #failTimer: ReturnType<typeof setTimeout> | undefined;

  constructor(
    url: string | URL,
    _protocols: string | string[] | undefined,
    private readonly opts: PqWebSocketOptions,
  ) {
    super();
    this.url = String(url);
    const token = new URL(this.url).searchParams.get('access_token') ?? '';
    const claims = boundClaims(token);
    const bound = claims ? opts.keyPairs?.find((k) => equalBytes(k.publicKey, claims.publicKey)) : undefined;
    // A token bound to a key we do not hold goes in-band: the proxy then refuses it
    // with 4401 (key mismatch), which the app sees as LiveKit's usual 401.
    this.#mode = bound ? 'token-bound' : 'in-band';
    const algorithm = (bound && claims?.algorithm) || opts.algorithm || 'ML-KEM-768';
    this.#algorithm = algorithm;
    const sessionId = newSessionId(opts.randomBytes);
    const split = splitSignalUrl(this.url, this.#mode, sessionId);
    this.#accessToken = token;
    const kem = opts.getKem(algorithm);
    this.#pins = resolvePins(opts, token);
    const pinned = this.#pins.keys.length > 0 && opts.getSigner;
    this.#session = new ClientSession({
      kem,
      aead: opts.aead,
      mode: this.#mode,
      ...(bound ? { keyPair: bound } : {}),
      accessToken: split.accessToken,
      query: split.query,
      sessionId,
      randomBytes: opts.randomBytes,
      ...(pinned ? { serverKeys: this.#pins.keys, signer: opts.getSigner('ML-DSA-65') } : {}),
    });
    this.#inner = new opts.WebSocket(split.socketUrl, SUBPROTOCOL);
    this.#inner.binaryType = 'arraybuffer';
    const pinError = this.#pins.error;
    // Bad pins: nothing is sent; the socket fails as soon as it opens.
    this.#inner.onopen = () => this.#apply(pinError ? [{ type: 'failed', failure: pinError }] : this.#session.start());
    this.#inner.onmessage = (ev: MessageEvent) => this.#onInnerMessage(ev.data);
    this.#inner.onerror = () => {
      if (!this.#failure) this.#failure = { closeCode: CloseCode.Upstream, message: 'proxy unreachable' };
    };
    this.#inner.onclose = (ev: CloseEvent) => this.#onInnerClose(ev);
  }

  get readyState(): number {
    return this.#readyState;
  }
  get bufferedAmount(): number {
    return this.#inner.bufferedAmount;
  }
  /** The PQ session: algorithm, id, fingerprint and frame counts (for diagnostics and the demo panel). */
  get pq(): PqSessionInfo {
    const r = this.#session.result;
    const { sealed, opened } = this.#session.counters;
    return {
      mode: this.#mode,
      algorithm: r?.algorithm ?? this.#algorithm,
      sessionId: r?.sessionId,
      fingerprint: r ? fingerprint(r) : undefined,
      framesSealed: sealed,
      framesOpened: opened,
      serverKeysFrom: this.#pins.from,
      serverKeyId: r?.serverKey ? toHex(r.serverKey.keyId) : undefined,
    };
  }

  /** The failure that ended (or is ending) the session, if any: close code, message, and the client's error code. */
  get failure(): SessionFailure | undefined {
    return this.#failure;
  }

  send(data: string | ArrayBufferLike | ArrayBufferView | Blob): void {
    if (this.#readyState === PqWebSocket.CONNECTING) throw new DOMException('WebSocket is not open', 'InvalidStateError');
    if (this.#readyState !== PqWebSocket.OPEN) return;
    if (typeof Blob !== 'undefined' && data instanceof Blob) throw new TypeError('PqWebSocket does not send Blobs');
    const payload =
      typeof data === 'string'
        ? data
        : ArrayBuffer.isView(data)
          ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
          : new Uint8Array(data as ArrayBufferLike);
    this.#inner.send(this.#session.seal(payload));
  }

  close(code?: number, reason?: string): void {
    if (this.#readyState >= PqWebSocket.CLOSING) return;
    this.#readyState = PqWebSocket.CLOSING;
    this.#inner.close(code ?? 1000, reason);
  }

  #emit(type: string, ev: Event = new Event(type)): void {
    const handler = (this as unknown as Record<string, Handler>)[`on${type}`];
    handler?.call(this, ev);
    this.dispatchEvent(ev);
  }

  #onInnerMessage(data: unknown): void {
    if (!(data instanceof ArrayBuffer)) {
      this.#apply([{ type: 'failed', failure: { closeCode: CloseCode.Malformed, message: 'text frame on a sealed session' } }]);
      return;
    }
    this.#apply(this.#session.receive(new Uint8Array(data)));
  }

  #apply(outputs: ClientOutput[]): void {
    for (const out of outputs) {
      switch (out.type) {
        case 'send':
          this.#inner.send(out.frame);
          break;
        case 'keyed':
          break;
        case 'message':
          this.#deliver(out.kind, out.payload);
          break;
        case 'failed':
          this.#onFailure(out.failure);
          break;
      }
    }
  }

  #deliver(kind: number, payload: Uint8Array): void {
    if (this.#readyState === PqWebSocket.CONNECTING) {
      this.#readyState = PqWebSocket.OPEN;
      this.#emit('open');
    }
    if (this.#readyState !== PqWebSocket.OPEN) return;
    const data =
      kind === FrameKind.LiveKitText
        ? fromUtf8(payload)
        : this.binaryType === 'blob'
          ? new Blob([payload as Uint8Array<ArrayBuffer>])
          : (payload.buffer as ArrayBuffer);
    this.#emit('message', new MessageEvent('message', { data }));
  }

  #onFailure(failure: SessionFailure): void {
    this.#failure = failure;
    this.opts.onFailure?.(this.#accessToken, failure);
    // The reason is cut to 123 UTF-8 bytes: a longer one makes close() throw, here inside a timer.
    const close = () => this.#inner.close(clientCloseCode(failure.closeCode), closeReason(failure.message));
    // An unauthenticated server is left at once: it waits for a VollyConnect that never comes.
    if (failure.closeCode === CloseCode.ServerAuth) close();
    // The proxy closes right after its error; close ourselves if it does not.
    else this.#failTimer = setTimeout(close, 1000);
  }

  #onInnerClose(ev: CloseEvent): void {
    clearTimeout(this.#failTimer);
    this.#session.close();
    const wasOpen = this.#readyState === PqWebSocket.OPEN || this.#readyState === PqWebSocket.CLOSING;
    let failure = this.#failure;
    // A refused handshake (pq_response success=false, before any keys) carries
    // only a message; the proxy's close code says why (4401 token, 4403 policy,
    // ...). Take it, so the validate shim answers 401/403 and not 400.
    if (failure && !this.#session.result && failure.status === undefined && ev.code >= 4000 && ev.code <= 4999 && ev.code !== failure.closeCode) {
      failure = { ...failure, closeCode: ev.code };
      this.#failure = failure;
      this.opts.onFailure?.(this.#accessToken, failure);
    }
    if (!wasOpen && this.#readyState !== PqWebSocket.CLOSING) {
      const f = failure ?? { closeCode: ev.code, message: ev.reason || 'connection closed before the session opened' };
      if (!failure) this.opts.onFailure?.(this.#accessToken, f);
      this.#readyState = PqWebSocket.CLOSED;
      this.#emit('error');
      // The detail travels sealed; the unsealed reason is only the code's name.
      this.#emit('close', closeEvent(ev.code === 1005 || ev.code === 1006 ? f.closeCode : ev.code, failure ? f.message : ev.reason || f.message, false));
      return;
    }
    this.#readyState = PqWebSocket.CLOSED;
    if (failure) this.#emit('error');
    this.#emit('close', closeEvent(ev.code, failure ? failure.message : ev.reason, ev.wasClean && !failure));
  }
}
