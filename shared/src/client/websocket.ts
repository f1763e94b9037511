/**
 * A WebSocket with the browser interface that speaks volly-pq underneath
 * (v1, or v2 with its static server keys), so livekit-client (which does
 * `new WebSocket(url)`) needs no change.
 *
 * Behaviour seen by the application, the same for both protocols:
 * - `open` fires only when the first sealed LiveKit frame has been opened
 *   (LiveKit always speaks first), so a refusal never looks like a success;
 *   on LiveKit's agent worker path (`/agent`), where the worker speaks first,
 *   once the keys are confirmed (an upstream refusal then arrives as `close`);
 * - a sealed error or failed handshake before that fires `error` then `close`
 *   (with the proxy's close code) and never `open`; the failure is recorded
 *   for the validate shim (install.ts) to answer livekit-client's follow-up
 *   `/rtc/validate` fetch with LiveKit's real status and reason;
 * - `protocol` is '' (the application asked for no subprotocol); `pq` tells
 *   the protocol, algorithm, id, fingerprint and frame counts.
 * The protocol itself runs in a link: v1-link.ts or v2-link.ts.
 */
import type { Aead } from '../aead/types.js';
import { fromUtf8 } from '../bytes.js';
import { FrameKind } from '../frame.js';
import type { Kem, KemAlgorithm, KemKeyPair } from '../kem/types.js';
import { isAgentPath } from '../protocol.js';
import type { ServerKeyPin } from '../sig/server-auth.js';
import type { SigAlgorithm, Signer } from '../sig/types.js';
import type { ServerStaticKey } from '../v2/well-known.js';
import type { CloseInfo, Link, LinkHost, PqSessionInfo } from './link.js';
import type { SessionFailure } from './session.js';
import { V1Link } from './v1-link.js';
import type { ServerKeyCache } from './v2-keys.js';
import { V2Link, v2Wanted } from './v2-link.js';

export type { PqSessionInfo } from './link.js';

/**
 * `v1`: volly-pq.v1. `v2`: volly-pq.v2, never anything else. `auto`: v2 when
 * the app gave v2 keys, the token pins v2 keys, or the proxy serves its
 * well-known document; v1 when none of these and (so as not to trade
 * signature pins for an unchecked document) whenever v1 pins are set.
 */
export type PqProtocolChoice = 'v1' | 'v2' | 'auto';

export interface PqWebSocketOptions {
  /** Default `v1` here; installPqWebSocket defaults to `auto`. */
  readonly protocol?: PqProtocolChoice;
  /** v1 in-band algorithm (default ML-KEM-768). */
  readonly algorithm?: KemAlgorithm;
  /** Key pairs the app's tokens may be bound to (v1 token-bound, v2 bound). */
  readonly keyPairs?: readonly KemKeyPair[];
  readonly getKem: (algorithm: KemAlgorithm) => Kem;
  readonly aead: Aead;
  readonly randomBytes: (n: number) => Uint8Array;
  /** The WebSocket implementation underneath (the browser's, Node's global, or `ws`). */
  readonly WebSocket: typeof globalThis.WebSocket;
  /** Called with every failure before `error`/`close` fire (the validate shim records it here). */
  readonly onFailure?: (accessToken: string, failure: SessionFailure) => void;
  /**
   * v1 pinned server keys: the proxy must sign each handshake with one of them.
   * Absent or empty: the pins in the token's `video.pqServerKeys`, if any.
   */
  readonly serverKeys?: readonly ServerKeyPin[];
  /** Signature backend for v1 server authentication (needed when keys are pinned). */
  readonly getSigner?: (algorithm: SigAlgorithm) => Signer;
  /** v2: the proxy's static KEM keys (first current). Absent: its well-known document. */
  readonly serverKemKeys?: readonly ServerStaticKey[];
  /** v2: where the well-known document is (default `<proxy origin>/.well-known/volly-pq`). */
  readonly wellKnownUrl?: string;
  /** v2: fetch for the document (default globalThis.fetch). */
  readonly fetch?: typeof fetch;
  /** v2: the document cache (default one per page). */
  readonly keyCache?: ServerKeyCache;
  /** v2: the clock (default Date.now). */
  readonly now?: () => number;
}

type Handler = ((this: PqWebSocket, ev: Event) => unknown) | null;

function closeEvent(code: number, reason: string, wasClean: boolean): Event {
  if (typeof CloseEvent === 'function') return new CloseEvent('close', { code, reason, wasClean });
  return Object.assign(new Event('close'), { code, reason, wasClean });
}

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
  readonly #accessToken: string;
  #link: Link;
  #failure: SessionFailure | undefined;

  constructor(
    url: string | URL,
    _protocols: string | string[] | undefined,
    private readonly opts: PqWebSocketOptions,
  ) {
    super();
    this.url = String(url);
    const token = new URL(this.url).searchParams.get('access_token') ?? '';
    this.#accessToken = token;
    const host: LinkHost = {
      deliver: (kind, payload) => this.#deliver(kind, payload),
      // LiveKit's agent worker path: LiveKit says nothing until the worker registers, so the socket opens once it can send.
      sendable: () => {
        if (isAgentPath(new URL(this.url).pathname)) this.#open();
      },
      failed: (failure, notify = true) => {
        this.#failure = failure;
        if (notify) this.opts.onFailure?.(this.#accessToken, failure);
      },
      finished: (ev) => this.#finished(ev),
      fallbackToV1: () => {
        this.#link = new V1Link(host, this.url, token, opts);
      },
    };
    const v2 = v2Wanted(opts, token);
    this.#link = v2 === 'no' ? new V1Link(host, this.url, token, opts) : new V2Link(host, this.url, token, opts, v2 === 'maybe');
  }

  get readyState(): number {
    return this.#readyState;
  }
  get bufferedAmount(): number {
    return this.#link.bufferedAmount;
  }
  /** The PQ session: protocol, algorithm, id, fingerprint and frame counts (for diagnostics and the demo panel). */
  get pq(): PqSessionInfo {
    return this.#link.info;
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
    this.#link.send(payload);
  }

  close(code?: number, reason?: string): void {
    if (this.#readyState >= PqWebSocket.CLOSING) return;
    this.#readyState = PqWebSocket.CLOSING;
    this.#link.close(code ?? 1000, reason);
  }

  #emit(type: string, ev: Event = new Event(type)): void {
    const handler = (this as unknown as Record<string, Handler>)[`on${type}`];
    handler?.call(this, ev);
    this.dispatchEvent(ev);
  }

  #open(): void {
    if (this.#readyState !== PqWebSocket.CONNECTING) return;
    this.#readyState = PqWebSocket.OPEN;
    this.#emit('open');
  }

  #deliver(kind: number, payload: Uint8Array): void {
    this.#open();
    if (this.#readyState !== PqWebSocket.OPEN) return;
    const data =
      kind === FrameKind.LiveKitText
        ? fromUtf8(payload)
        : this.binaryType === 'blob'
          ? new Blob([payload as Uint8Array<ArrayBuffer>])
          : (payload.buffer as ArrayBuffer);
    this.#emit('message', new MessageEvent('message', { data }));
  }

  #finished(ev: CloseInfo): void {
    if (this.#readyState === PqWebSocket.CLOSED) return;
    const failure = this.#failure;
    if (this.#readyState === PqWebSocket.CONNECTING) {
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
