/**
 * The client end of volly-pq.v1 as a transport-free state machine. Feed it the
 * server's binary messages; it returns what to do: frames to send, LiveKit
 * messages to deliver, or the failure that ends the session.
 *
 *   new ──start()──▶ handshaking ──pq_response──▶ keyed ──1st LiveKit frame──▶ open
 *                         │                         │                          │
 *                         └──────── any error ──────┴──────────────────────────┴──▶ failed
 *
 * Invariants: no token or query leaves the client before the server's
 * response decapsulated (in-band sends only a public key) and, with pinned
 * server keys, before its signature verified under one of them; after one
 * failure nothing is delivered or sealed again.
 */
import type { Aead } from '../aead/types.js';
import { fromUtf8, utf8 } from '../bytes.js';
import { CloseCode } from '../close-codes.js';
import { ProtocolError, VollyError } from '../errors.js';
import { FrameKind } from '../frame.js';
import { clientHandshake, type HandshakeResult, type SealedChannel, sealedChannel } from '../handshake.js';
import type { Kem, KemKeyPair } from '../kem/types.js';
import { decodeControl, decodeResponse, encodeControl, encodeHandshake } from '../messages.js';
import { newSessionId } from '../protocol.js';
import { type ServerAuthCheck, type ServerKeyPin, serverKeys } from '../sig/server-auth.js';
import type { Signer } from '../sig/types.js';

export type ClientMode = 'in-band' | 'token-bound';
export type ClientState = 'new' | 'handshaking' | 'keyed' | 'open' | 'failed' | 'closed';

export interface ClientSessionOptions {
  readonly kem: Kem;
  readonly aead: Aead;
  readonly mode: ClientMode;
  /** Token-bound: the key pair whose public key the token carries. In-band: a fresh one is made when absent. */
  readonly keyPair?: KemKeyPair;
  /** Sent inside VollyConnect (in-band); empty when the token travelled in the URL (token-bound). */
  readonly accessToken?: string;
  /** The rest of LiveKit's query string, without '?', sent inside VollyConnect. */
  readonly query: string;
  /**
   * In-band: the session id to propose (random when absent). Token-bound: the
   * id the client put in the URL (SESSION_ID_PARAM) and requires the server to
   * answer with; when absent, any well-formed id is accepted (no replay guard).
   */
  readonly sessionId?: string;
  readonly randomBytes: (n: number) => Uint8Array;
  /**
   * Pinned server keys (ML-DSA-65 public keys). When non-empty, the pq_response
   * must carry a signature over the transcript by one of them, or the session
   * fails with 4526 before anything is sealed. Empty or absent: no server authentication.
   */
  readonly serverKeys?: readonly ServerKeyPin[];
  /** Verifies the server's signature; required with `serverKeys`. */
  readonly signer?: Signer;
}

/** A failure that ends the session: the close code, and LiveKit's HTTP status when the upstream refused. */
export interface SessionFailure {
  readonly closeCode: number;
  readonly status?: number;
  readonly message: string;
  /** The VollyError code when the client itself detected the failure (e.g. ERR_SERVER_AUTH_UNKNOWN_KEY). */
  readonly code?: string;
}

export type ClientOutput =
  | { readonly type: 'send'; readonly frame: Uint8Array }
  | { readonly type: 'keyed'; readonly result: HandshakeResult }
  | { readonly type: 'message'; readonly kind: typeof FrameKind.LiveKitBinary | typeof FrameKind.LiveKitText; readonly payload: Uint8Array }
  | { readonly type: 'failed'; readonly failure: SessionFailure };

/** VollyError.code below 1000 is LiveKit's HTTP status (upstream refusal); otherwise a close code. */
export function failureFromControlError(code: number, message: string): SessionFailure {
  return code < 1000 ? { closeCode: CloseCode.Upstream, status: code, message } : { closeCode: code, message };
}

function isUtf8(bytes: Uint8Array): boolean {
  try {
    fromUtf8(bytes);
    return true;
  } catch {
    return false;
  }
}

export class ClientSession {
  #state: ClientState = 'new';
  #channel: SealedChannel | undefined;
  #result: HandshakeResult | undefined;
  readonly #keyPair: KemKeyPair;
  readonly #sessionId: string | undefined;
  readonly #auth: ServerAuthCheck | undefined;
  #sealed = 0;
  #opened = 0;

  constructor(private readonly opts: ClientSessionOptions) {
    if (opts.mode === 'token-bound' && !opts.keyPair) throw new ProtocolError('token-bound mode needs the key pair the token is bound to');
    const keys = serverKeys(opts.serverKeys ?? []);
    if (keys.length > 0 && !opts.signer) throw new ProtocolError('pinned server keys need a signer to verify with');
    this.#auth = keys.length > 0 ? { keys, signer: opts.signer as Signer } : undefined;
    this.#keyPair = opts.keyPair ?? opts.kem.keygen();
    this.#sessionId = opts.mode === 'in-band' ? (opts.sessionId ?? newSessionId(opts.randomBytes)) : opts.sessionId;
  }

  get state(): ClientState {
    return this.#state;
  }
  get result(): HandshakeResult | undefined {
    return this.#result;
  }
  get publicKey(): Uint8Array {
    return this.#keyPair.publicKey;
  }
  /** Counts of sealed frames sent and opened (LiveKit and control). */
  get counters(): { sealed: number; opened: number } {
    return { sealed: this.#sealed, opened: this.#opened };
  }

  /** Call when the transport is open. In-band returns the handshake frame to send; token-bound sends nothing. */
  start(): ClientOutput[] {
    if (this.#state !== 'new') throw new ProtocolError('session already started');
    this.#state = 'handshaking';
    if (this.opts.mode === 'token-bound') return [];
    const frame = encodeHandshake({ algorithm: this.opts.kem.algorithm, publicKey: this.#keyPair.publicKey, sessionId: this.#sessionId as string });
    return [{ type: 'send', frame }];
  }

  /** Feed one binary message from the server. */
  receive(data: Uint8Array): ClientOutput[] {
    try {
      switch (this.#state) {
        case 'handshaking':
          return this.#onResponse(data);
        case 'keyed':
        case 'open':
          return this.#onSealed(data);
        default:
          return [];
      }
    } catch (err) {
      return [
        this.#fail(
          err instanceof VollyError
            ? { closeCode: err.closeCode, message: err.message, code: err.code }
            : { closeCode: CloseCode.Malformed, message: 'internal error' },
        ),
      ];
    }
  }

  /**
   * Seal a LiveKit message for the server: binary as kind 0x01, text as 0x02.
   * Allowed once VollyConnect is sent (state `keyed`): the server queues such
   * early frames and relays them, in order, once LiveKit answers.
   */
  seal(data: Uint8Array | string): Uint8Array {
    if ((this.#state !== 'open' && this.#state !== 'keyed') || !this.#channel) throw new ProtocolError(`cannot send in state ${this.#state}`);
    const frame =
      typeof data === 'string' ? this.#channel.sealer.seal(FrameKind.LiveKitText, utf8(data)) : this.#channel.sealer.seal(FrameKind.LiveKitBinary, data);
    this.#sealed++;
    return frame;
  }

  /** The transport closed: wipe keys. */
  close(): void {
    if (this.#state !== 'failed') this.#state = 'closed';
    this.#channel?.destroy();
  }

  #fail(failure: SessionFailure): ClientOutput {
    this.#state = 'failed';
    this.#channel?.destroy();
    return { type: 'failed', failure };
  }

  #onResponse(data: Uint8Array): ClientOutput[] {
    const res = decodeResponse(data);
    if (!res.success) return [this.#fail({ closeCode: CloseCode.Malformed, message: res.error || 'handshake refused' })];
    const result = clientHandshake(this.opts.kem, this.#keyPair, res, this.#sessionId, this.#auth);
    this.#result = result;
    this.#channel = sealedChannel(result, 'client', this.opts.aead);
    this.#state = 'keyed';
    const connect = encodeControl({ case: 'connect', accessToken: this.opts.accessToken ?? '', query: this.opts.query });
    const frame = this.#channel.sealer.seal(FrameKind.Control, connect);
    this.#sealed++;
    return [
      { type: 'keyed', result },
      { type: 'send', frame },
    ];
  }

  #onSealed(data: Uint8Array): ClientOutput[] {
    const { kind, payload } = (this.#channel as SealedChannel).opener.open(data);
    this.#opened++;
    if (kind === FrameKind.Control) {
      const c = decodeControl(payload);
      if (c.case === 'error') return [this.#fail(failureFromControlError(c.code, c.message))];
      throw new ProtocolError('server sent a VollyConnect');
    }
    if (kind === FrameKind.LiveKitText && !isUtf8(payload)) throw new ProtocolError('text frame is not UTF-8');
    this.#state = 'open';
    return [{ type: 'message', kind, payload }];
  }
}
