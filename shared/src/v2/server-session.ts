/**
 * The server's keyed v2 session. The client's first sealed frame must be the
 * key confirmation, kind 0x03 VollyControl{connect{}} with empty fields: it
 * proves the client derived the same keys and, for a bound token, that it
 * holds the bound secret key (ss_b is in the keys). Until then a bound
 * session must not dial LiveKit (`mayDial` false); an unbound one may dial
 * at once, since its token was sealed under the static key and is fresh.
 */
import { fromUtf8 } from '../bytes.js';
import { FrameKind, type OpenedFrame } from '../frame.js';
import type { SealedChannel } from '../handshake.js';
import { decodeControl } from '../messages.js';
import { V2Error } from './errors.js';

export type RelayKind = typeof FrameKind.LiveKitBinary | typeof FrameKind.LiveKitText;

export class ServerSessionV2 {
  #confirmed = false;
  constructor(
    private readonly channel: SealedChannel,
    /** th2: public; its first 8 bytes (hex) are the session's loggable fingerprint. */
    readonly transcriptHash: Uint8Array,
    readonly bound: boolean,
  ) {}

  get confirmed(): boolean {
    return this.#confirmed;
  }

  /** Whether LiveKit may be dialed now. */
  get mayDial(): boolean {
    return !this.bound || this.#confirmed;
  }

  /** Seals a LiveKit message (kind 0x01/0x02) or a VollyControl error (0x03) for the client. */
  seal(kind: FrameKind, payload: Uint8Array): Uint8Array {
    return this.channel.sealer.seal(kind, payload);
  }

  /**
   * Opens a client frame. The first one must be the key confirmation
   * (returns 'confirmed'); later ones must be LiveKit messages. Anything else
   * throws (FrameError or V2Error, both close 4400) and poisons the session.
   */
  open(frame: Uint8Array): { type: 'confirmed' } | { type: 'message'; kind: RelayKind; payload: Uint8Array } {
    const opened: OpenedFrame = this.channel.opener.open(frame);
    if (!this.#confirmed) {
      if (opened.kind !== FrameKind.Control) throw this.#fail('first client frame is not the key confirmation');
      const control = decodeControl(opened.payload);
      if (control.case !== 'connect' || control.accessToken !== '' || control.query !== '') throw this.#fail('key confirmation must be an empty connect');
      this.#confirmed = true;
      return { type: 'confirmed' };
    }
    if (opened.kind === FrameKind.Control) throw this.#fail('client sent a control frame after the key confirmation');
    if (opened.kind === FrameKind.LiveKitText) {
      try {
        fromUtf8(opened.payload);
      } catch {
        throw this.#fail('kind 0x02 payload is not UTF-8');
      }
    }
    return { type: 'message', kind: opened.kind, payload: opened.payload };
  }

  /** Wipes both direction keys. */
  destroy(): void {
    this.channel.destroy();
  }

  #fail(message: string): V2Error {
    return new V2Error('ERR_V2_PROTOCOL', message);
  }
}
