/**
 * The server end of volly-pq.v2, transport-free (docs/PROTOCOL.md, "Server").
 *
 *   openFirstFlight ─▶ ServerFlight ─ fresh & registered ─▶ accept(bound?) ─▶ ServerSessionV2
 *        │                  ├─ stale ─▶ refuseSealed(4425, server time)
 *        │                  └─ token refused by the proxy ─▶ refuseSealed(code, message)
 *        └─ unsealed refusal (V2Error: 4400 / 4403 / 4421)
 *
 * acceptFirstFlight() runs the first two steps with the register and returns
 * one decision. Nothing reaches LiveKit unless a decision says so: `dial`
 * true (unbound), or ServerSessionV2.mayDial after the client's first sealed
 * frame proved its bound key. Every shared secret and k_early is wiped as
 * soon as the keys that depend on it exist.
 */
import type { Aead } from '../aead/types.js';
import { toBase64Url } from '../bytes.js';
import { FrameKind, FrameOpener, type OpenedFrame } from '../frame.js';
import { type SealedChannel, sealedChannel } from '../handshake.js';
import type { Encapsulation, Kem, KemAlgorithm } from '../kem/types.js';
import { encodeControl } from '../messages.js';
import { type ClientHello, decodeClientHello } from './client-hello.js';
import { CloseCodeV2, MAX_EARLY_PLAINTEXT, TIMESTAMP_WINDOW_MS } from './constants.js';
import { decodeEarlyConnect, type EarlyConnect } from './early.js';
import { V2Error } from './errors.js';
import { readFirstFlight } from './placement.js';
import { checkTimestamp, type Freshness, registerExpiry, type SessionRegister } from './replay.js';
import { type BoundKey, deriveEarlyKey, deriveSessionKeys, transcriptHash1, transcriptHash2 } from './schedule.js';
import { encodeServerHello } from './server-hello.js';
import { ServerSessionV2 } from './server-session.js';
import type { ServerStaticKey } from './well-known.js';

export interface ServerKeyPair {
  readonly key: ServerStaticKey;
  readonly secretKey: Uint8Array;
}

export interface ServerV2Options {
  /** Static keys; the first is current, the rest still open first flights (rotation). */
  readonly keys: readonly ServerKeyPair[];
  readonly getKem: (algorithm: KemAlgorithm) => Kem;
  readonly aead: Aead;
  readonly now: () => number;
  readonly windowMs?: number;
  readonly allowed?: readonly KemAlgorithm[];
}

export interface FirstFlightInput {
  /** Offered subprotocols, in order. */
  readonly protocols: readonly string[];
  /** The upgrade URL's path (the proxy routes on it; it must equal the sealed path). */
  readonly urlPath: string;
  /** The upgrade URL's query, without '?'. */
  readonly query: string;
}

/** A first flight whose early frame opened: the sealed request, its freshness, and the pending key exchange. */
export class ServerFlight {
  #ssS: Uint8Array | undefined;
  /** The encapsulation to pk_e (encapsulateEphemeral); every answer needs it. */
  #e: Encapsulation | undefined;
  constructor(
    readonly hello: ClientHello,
    readonly connect: EarlyConnect,
    readonly freshness: Freshness,
    private readonly th1: Uint8Array,
    private readonly earlyFrame: Uint8Array,
    ssS: Uint8Array,
    private readonly options: ServerV2Options,
  ) {
    this.#ssS = ssS;
  }

  /**
   * Encapsulates to pk_e, once. A pk_e that is no encapsulation key (FIPS 203
   * modulus check, an X25519 point of small order) makes the whole flight
   * malformed: V2Error ERR_V2_HELLO (4400), unsealed, since no answer can be
   * keyed. acceptFirstFlight calls it before any decision that answers.
   */
  encapsulateEphemeral(): void {
    if (this.#e !== undefined || this.#ssS === undefined) return; // done, or answered / destroyed
    try {
      this.#e = this.options.getKem(this.hello.algorithm).encapsulate(this.hello.pkE);
    } catch {
      throw new V2Error('ERR_V2_HELLO', 'ClientHello pk_e is not a valid encapsulation key');
    }
  }

  /**
   * Completes the key exchange: ServerHello (ct_e, and ct_b when the token is
   * bound) and the server's session. Unbound: dial LiveKit now. Bound: only
   * once the session reports `mayDial`.
   */
  accept(bound?: BoundKey): { serverHello: Uint8Array; session: ServerSessionV2 } {
    // A bound key that is no encapsulation key throws KeyFormatError; the flight can still refuseSealed().
    const { serverHello, channel, th2 } = this.#exchange(bound);
    return { serverHello, session: new ServerSessionV2(channel, th2, bound !== undefined) };
  }

  /**
   * A refusal the client can trust: an unbound ServerHello, then one sealed
   * VollyControl{error{code, message}}; the caller closes with `code` after
   * sending both. Used for the stale clock (message = server time) and for
   * refusals the proxy decides after reading the token.
   */
  refuseSealed(code: number, message: string): Uint8Array[] {
    const { serverHello, channel } = this.#exchange(undefined);
    const frame = channel.sealer.seal(FrameKind.Control, encodeControl({ case: 'error', code, message }));
    channel.destroy();
    return [serverHello, frame];
  }

  /** The stale-clock reply: the server's time in decimal milliseconds, sealed under k_s2c. */
  staleReply(): Uint8Array[] {
    return this.refuseSealed(CloseCodeV2.StaleClock, String(Math.floor(this.options.now())));
  }

  /** Wipes ss_s and ss_e when the flight is dropped without a reply (replay, register down, malformed pk_e). */
  destroy(): void {
    this.#ssS?.fill(0);
    this.#e?.sharedSecret.fill(0);
    this.#ssS = undefined;
    this.#e = undefined;
  }

  #exchange(bound: BoundKey | undefined): { serverHello: Uint8Array; channel: SealedChannel; th2: Uint8Array } {
    this.encapsulateEphemeral();
    const ssS = this.#ssS;
    if (ssS === undefined) throw new V2Error('ERR_V2_PROTOCOL', 'first flight already answered');
    const e = this.#e as Encapsulation;
    // Before the flight is consumed: a bound key that is no key throws here and leaves refuseSealed possible.
    const b = bound === undefined ? undefined : this.options.getKem(bound.algorithm).encapsulate(bound.publicKey);
    this.#ssS = undefined;
    this.#e = undefined;
    const { algorithm } = this.hello;
    const th2 = transcriptHash2(this.th1, this.earlyFrame, e.ciphertext, b && bound ? { key: bound, ctB: b.ciphertext } : undefined);
    const keys = deriveSessionKeys(th2, ssS, e.sharedSecret, b?.sharedSecret);
    for (const ss of [ssS, e.sharedSecret, b?.sharedSecret]) ss?.fill(0);
    const result = { algorithm, sessionId: toBase64Url(this.hello.sessionId), transcriptHash: th2, keys };
    const channel = sealedChannel(result, 'server', this.options.aead);
    const serverHello = encodeServerHello(b === undefined ? { ctE: e.ciphertext } : { ctE: e.ciphertext, ctB: b.ciphertext });
    return { serverHello, channel, th2 };
  }
}

/**
 * Steps that need no state: parse, find the key, decapsulate, open the early
 * frame, check the path and the clock. Throws V2Error (unsealed refusal).
 */
export function openFirstFlight(options: ServerV2Options, input: FirstFlightInput): ServerFlight {
  const { clientHello, earlyFrame } = readFirstFlight(input.protocols, input.query);
  const hello = decodeClientHello(clientHello);
  if (options.allowed && !options.allowed.includes(hello.algorithm)) throw new V2Error('ERR_V2_ALGORITHM', `${hello.algorithm} is not allowed here`);
  const pair = options.keys.find(({ key }) => key.algorithm === hello.algorithm && equalIds(key.id, hello.keyId));
  if (pair === undefined) throw new V2Error('ERR_V2_UNKNOWN_KEY', 'ClientHello names an unknown server key id');
  const ssS = options.getKem(hello.algorithm).decapsulate(hello.ctS, pair.secretKey);
  const th1 = transcriptHash1(hello, pair.key.publicKey);
  const kEarly = deriveEarlyKey(ssS, th1);
  let connect: EarlyConnect;
  try {
    const opener = new FrameOpener(kEarly, options.aead, MAX_EARLY_PLAINTEXT);
    const opened = openEarly(opener, earlyFrame);
    opener.destroy();
    connect = decodeEarlyConnect(opened.payload);
  } catch (err) {
    ssS.fill(0);
    throw err instanceof V2Error ? err : new V2Error('ERR_V2_EARLY', 'early frame does not open');
  } finally {
    kEarly.fill(0);
  }
  if (connect.path !== input.urlPath) {
    ssS.fill(0);
    throw new V2Error('ERR_V2_PROTOCOL', 'the URL path differs from the sealed path');
  }
  const freshness = checkTimestamp(connect.timestampMs, options.now(), options.windowMs ?? TIMESTAMP_WINDOW_MS);
  return new ServerFlight(hello, connect, freshness, th1, earlyFrame, ssS, options);
}

function openEarly(opener: FrameOpener, frame: Uint8Array): OpenedFrame {
  const opened = opener.open(frame);
  if (opened.kind !== FrameKind.Control) throw new V2Error('ERR_V2_EARLY', 'early frame is not kind 0x03');
  return opened;
}

/** Key ids are public; a plain comparison is fine. */
function equalIds(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

export type ServerDecision =
  /** Close with `error.closeCode` (reason: error.message); nothing to send, nothing dialed. */
  | { readonly type: 'refuse'; readonly error: V2Error }
  /** Send `frames` (ServerHello, sealed server time), then close with 4425. */
  | { readonly type: 'stale'; readonly frames: Uint8Array[]; readonly closeCode: number }
  /** Verify `flight.connect.accessToken`, then flight.accept(bound?) or flight.refuseSealed(). */
  | { readonly type: 'fresh'; readonly flight: ServerFlight };

/** openFirstFlight plus the register: the whole pre-token part of the server's answer. */
export async function acceptFirstFlight(options: ServerV2Options, register: SessionRegister, input: FirstFlightInput): Promise<ServerDecision> {
  let flight: ServerFlight;
  try {
    flight = openFirstFlight(options, input);
  } catch (err) {
    if (err instanceof V2Error) return { type: 'refuse', error: err };
    return { type: 'refuse', error: new V2Error('ERR_V2_HELLO', 'first flight does not parse') };
  }
  // pk_e is checked before any answer, and after the register only for a fresh flight, so a replay costs no encapsulation.
  const malformed = (): ServerDecision | undefined => {
    try {
      flight.encapsulateEphemeral();
      return undefined;
    } catch (err) {
      flight.destroy();
      return { type: 'refuse', error: err as V2Error };
    }
  };
  if (flight.freshness === 'stale') return malformed() ?? { type: 'stale', frames: flight.staleReply(), closeCode: CloseCodeV2.StaleClock };
  let claimed: boolean;
  try {
    claimed = await register.claim(flight.hello.sessionId, registerExpiry(flight.connect.timestampMs, options.windowMs));
  } catch {
    flight.destroy();
    return { type: 'refuse', error: new V2Error('ERR_V2_REGISTER', 'session register did not answer') };
  }
  if (!claimed) {
    flight.destroy();
    return { type: 'refuse', error: new V2Error('ERR_V2_REPLAY', 'session id already used') };
  }
  return malformed() ?? { type: 'fresh', flight };
}
