/**
 * The client end of volly-pq.v2 as a transport-free state machine
 * (docs/PROTOCOL.md, "Client").
 *
 *   new ─start()─▶ sent ─ServerHello─▶ keyed ─1st LiveKit frame─▶ open
 *                   │                    │                          │
 *                   └─ close / error ────┴──────────────────────────┴─▶ failed (with a retry hint)
 *
 * start() returns the whole first flight (subprotocols and URL query): the
 * token and request are sealed under k_early, which only the holder of the
 * server's static secret key can derive. On ServerHello the client
 * decapsulates ct_e (and ct_b), derives the session keys, wipes every
 * secret it no longer needs (ss_s, ss_e, ss_b, the ephemeral secret key) and
 * sends the key confirmation. Recovery hints: close 4421 → refetch the
 * server keys; a sealed 4425 → retry once with the server's clock.
 */
import type { Aead } from '../aead/types.js';
import { fromUtf8 } from '../bytes.js';
import { type ClientOutput, failureFromControlError, type SessionFailure } from '../client/session.js';
import { CloseCode, closeCodeInfo } from '../close-codes.js';
import { VollyError } from '../errors.js';
import { FrameKind, FrameSealer } from '../frame.js';
import { type SealedChannel, sealedChannel } from '../handshake.js';
import type { Kem, KemKeyPair } from '../kem/types.js';
import { decodeControl, encodeControl } from '../messages.js';
import { isAgentPath } from '../protocol.js';
import { encodeClientHello } from './client-hello.js';
import { CloseCodeV2, SESSION_ID_LENGTH, SUBPROTOCOL_V2 } from './constants.js';
import { type EarlyConnect, encodeEarlyConnect } from './early.js';
import { V2Error } from './errors.js';
import { checkFirstFlightSizes, type FirstFlightPlacement, type FirstFlightSizes, firstFlightSizes, placeFirstFlight } from './placement.js';
import { clockOffset } from './replay.js';
import { deriveEarlyKey, deriveSessionKeys, transcriptHash1, transcriptHash2 } from './schedule.js';
import { decodeServerHello } from './server-hello.js';
import type { ServerStaticKey } from './well-known.js';

export type ClientV2State = 'new' | 'sent' | 'keyed' | 'open' | 'failed' | 'closed';

export interface ClientV2Options {
  /** The session algorithm's KEM: must match serverKey.algorithm. */
  readonly kem: Kem;
  readonly aead: Aead;
  /** The server static key the first flight encapsulates to (from the app, the token's pins, or the well-known document). */
  readonly serverKey: ServerStaticKey;
  readonly connect: Omit<EarlyConnect, 'timestampMs'>;
  readonly now: () => number;
  /** Set on the one retry after a stale-clock refusal: added to now(). A second stale refusal then fails. */
  readonly clockOffsetMs?: number;
  readonly randomBytes: (n: number) => Uint8Array;
  /** The key pair the token is bound to (its PQ claims), when it is bound. */
  readonly bound?: { readonly kem: Kem; readonly keyPair: KemKeyPair };
  /** Largest request or header line (default 8192, nginx's default buffer). */
  readonly maxHeaderLine?: number;
}

export type RetryHint = { readonly kind: 'refetch-keys' } | { readonly kind: 'clock'; readonly clockOffsetMs: number };
export interface ClientV2Failure extends SessionFailure {
  readonly retry?: RetryHint;
}

/** `send` and `message` as in v1's ClientSession; `keyed` carries th2, `failed` a retry hint. */
export type ClientV2Output =
  | Extract<ClientOutput, { type: 'send' | 'message' }>
  | { readonly type: 'keyed'; readonly transcriptHash: Uint8Array }
  | { readonly type: 'failed'; readonly failure: ClientV2Failure };

export interface ClientFirstFlight extends FirstFlightPlacement {
  readonly sizes: FirstFlightSizes;
  /** Public: the register key, safe to log. */
  readonly sessionId: Uint8Array;
}

const DECIMAL = /^(0|[1-9][0-9]{0,15})$/;

export class ClientV2 {
  #state: ClientV2State = 'new';
  #ssS: Uint8Array | undefined;
  #ephemeral: KemKeyPair | undefined;
  #th1: Uint8Array | undefined;
  #earlyFrame: Uint8Array | undefined;
  #channel: SealedChannel | undefined;
  #boundMode = false;
  /** The key confirmation went out: on the agent path the worker may speak first (docs/PROTOCOL.md v2.4). */
  #confirmed = false;

  constructor(private readonly opts: ClientV2Options) {
    if (opts.kem.algorithm !== opts.serverKey.algorithm) throw new V2Error('ERR_V2_ALGORITHM', 'the KEM and the server key differ in algorithm');
  }

  get state(): ClientV2State {
    return this.#state;
  }

  /** Builds the first flight. Throws ERR_V2_TOO_LARGE (nothing sent) when a line would exceed the limit. */
  start(): ClientFirstFlight {
    if (this.#state !== 'new') throw new V2Error('ERR_V2_PROTOCOL', 'first flight already built');
    const { kem, serverKey, randomBytes } = this.opts;
    // Request and sizes first: a first flight that cannot be sent costs no key and leaves no secret behind.
    const timestampMs = Math.floor(this.opts.now() + (this.opts.clockOffsetMs ?? 0));
    let plaintext: Uint8Array;
    let sizes: FirstFlightSizes;
    try {
      plaintext = encodeEarlyConnect({ ...this.opts.connect, timestampMs });
      sizes = firstFlightSizes(kem.algorithm, this.opts.connect.path, plaintext.length);
      checkFirstFlightSizes(sizes, this.opts.maxHeaderLine);
    } catch (err) {
      this.#state = 'failed';
      throw err;
    }
    const seed = randomBytes(kem.secretKeyLength);
    const ephemeral = kem.keygen(seed);
    // The seed is the secret key in another buffer (or the same one): wipe it unless it is.
    if (ephemeral.secretKey !== seed) seed.fill(0);
    const sessionId = randomBytes(SESSION_ID_LENGTH);
    const { ciphertext: ctS, sharedSecret: ssS } = kem.encapsulate(serverKey.publicKey);
    const hello = { algorithm: kem.algorithm, keyId: serverKey.id, sessionId, ctS, pkE: ephemeral.publicKey };
    const th1 = transcriptHash1(hello, serverKey.publicKey);
    const kEarly = deriveEarlyKey(ssS, th1);
    const sealer = new FrameSealer(kEarly, this.opts.aead);
    const earlyFrame = sealer.seal(FrameKind.Control, plaintext);
    sealer.destroy();
    kEarly.fill(0);
    plaintext.fill(0);
    this.#ssS = ssS;
    this.#ephemeral = ephemeral;
    this.#th1 = th1;
    this.#earlyFrame = earlyFrame;
    this.#state = 'sent';
    return { ...placeFirstFlight(encodeClientHello(hello), earlyFrame), sizes, sessionId };
  }

  /** The server's 101 selected `protocol`: anything but `volly-pq.v2` fails (never a silent fallback). */
  accepted(protocol: string): ClientV2Output[] {
    if (protocol === SUBPROTOCOL_V2) return [];
    return [this.#fail({ closeCode: CloseCode.Malformed, message: 'server did not select volly-pq.v2', code: 'ERR_V2_PROTOCOL' })];
  }

  /** Feed one binary message from the server. */
  receive(data: Uint8Array): ClientV2Output[] {
    try {
      if (this.#state === 'sent') return this.#onServerHello(data);
      if (this.#state === 'keyed' || this.#state === 'open') return this.#onSealed(data);
      return [];
    } catch (err) {
      const failure =
        err instanceof VollyError
          ? { closeCode: err.closeCode, message: err.message, code: err.code }
          : { closeCode: CloseCode.Malformed, message: 'internal error' };
      return [this.#fail(failure)];
    }
  }

  /**
   * The transport closed with `code` (before or after keys). Returns the
   * failure, with a retry hint where one applies. The close frame's reason is
   * not authenticated — an on-path party can write anything there — so the
   * failure says only the code's public name; what the proxy had to say
   * came sealed (VollyControl error) when keys existed.
   */
  closed(code: number, _reason = ''): ClientV2Output[] {
    if (this.#state === 'failed' || this.#state === 'closed') return [];
    if (code === 1000 && this.#state === 'open') {
      this.#wipe();
      this.#state = 'closed';
      return [];
    }
    const retry = code === CloseCodeV2.UnknownKey && this.#state === 'sent' ? ({ kind: 'refetch-keys' } as const) : undefined;
    return [this.#fail({ closeCode: code, message: closeCodeInfo(code).name, ...(retry ? { retry } : {}) })];
  }

  /** Seals a LiveKit message: binary as kind 0x01, text as 0x02. */
  seal(data: Uint8Array | string): Uint8Array {
    const workerFirst = this.#state === 'keyed' && this.#confirmed && isAgentPath(this.opts.connect.path);
    if ((this.#state !== 'open' && !workerFirst) || !this.#channel) throw new V2Error('ERR_V2_PROTOCOL', `cannot send in state ${this.#state}`);
    return typeof data === 'string'
      ? this.#channel.sealer.seal(FrameKind.LiveKitText, new TextEncoder().encode(data))
      : this.#channel.sealer.seal(FrameKind.LiveKitBinary, data);
  }

  #onServerHello(data: Uint8Array): ClientV2Output[] {
    const { kem, bound } = this.opts;
    // An unbound ServerHello in a bound session can only carry a sealed refusal (stale clock, token refused).
    const hello = decodeServerHello(data, kem.algorithm, bound?.kem.algorithm);
    const ssS = this.#ssS as Uint8Array;
    const ephemeral = this.#ephemeral as KemKeyPair;
    const ssE = kem.decapsulate(hello.ctE, ephemeral.secretKey);
    ephemeral.secretKey.fill(0);
    const ssB = hello.ctB && bound ? bound.kem.decapsulate(hello.ctB, bound.keyPair.secretKey) : undefined;
    const boundKey = hello.ctB && bound ? { key: { algorithm: bound.kem.algorithm, publicKey: bound.keyPair.publicKey }, ctB: hello.ctB } : undefined;
    const th2 = transcriptHash2(this.#th1 as Uint8Array, this.#earlyFrame as Uint8Array, hello.ctE, boundKey);
    const keys = deriveSessionKeys(th2, ssS, ssE, ssB);
    for (const ss of [ssS, ssE, ssB]) ss?.fill(0);
    this.#ssS = undefined;
    this.#ephemeral = undefined;
    this.#channel = sealedChannel({ algorithm: kem.algorithm, sessionId: '', transcriptHash: th2, keys }, 'client', this.opts.aead);
    this.#boundMode = boundKey !== undefined;
    this.#state = 'keyed';
    const out: ClientV2Output[] = [{ type: 'keyed', transcriptHash: th2 }];
    if (bound === undefined || this.#boundMode) {
      this.#confirmed = true;
      out.push({ type: 'send', frame: this.#channel.sealer.seal(FrameKind.Control, encodeControl({ case: 'connect', accessToken: '', query: '' })) });
    }
    return out;
  }

  #onSealed(data: Uint8Array): ClientV2Output[] {
    const { kind, payload } = (this.#channel as SealedChannel).opener.open(data);
    if (kind === FrameKind.Control) {
      const c = decodeControl(payload);
      if (c.case !== 'error') throw new V2Error('ERR_V2_PROTOCOL', 'server sent a connect');
      return [this.#fail(this.#controlFailure(c.code, c.message))];
    }
    if (this.opts.bound !== undefined && !this.#boundMode) throw new V2Error('ERR_V2_PROTOCOL', 'LiveKit frame in a session that did not bind the token key');
    if (kind === FrameKind.LiveKitText) fromUtf8(payload);
    this.#state = 'open';
    return [{ type: 'message', kind, payload }];
  }

  #controlFailure(code: number, message: string): ClientV2Failure {
    if (code !== CloseCodeV2.StaleClock) return failureFromControlError(code, message);
    const base = { closeCode: code, code: 'ERR_V2_STALE', message: 'client clock outside the server window' };
    if (!DECIMAL.test(message) || this.opts.clockOffsetMs !== undefined) return base;
    return { ...base, retry: { kind: 'clock', clockOffsetMs: clockOffset(Number(message), this.opts.now()) } };
  }

  #fail(failure: ClientV2Failure): ClientV2Output {
    this.#wipe();
    this.#state = 'failed';
    return { type: 'failed', failure };
  }

  #wipe(): void {
    this.#ssS?.fill(0);
    this.#ephemeral?.secretKey.fill(0);
    this.#channel?.destroy();
    this.#ssS = undefined;
    this.#ephemeral = undefined;
  }
}
