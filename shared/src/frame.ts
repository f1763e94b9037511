/**
 * Sealed framing of volly-pq.v1. One WebSocket binary message per frame:
 *   kind (1 byte) || ChaCha20-Poly1305(key_dir, nonce, plaintext, aad = kind)
 * nonce = 4 zero bytes || u64 big-endian count of frames sealed so far in this
 * direction, starting at 0.
 *
 * Invariants:
 * - a sealer never reuses a nonce: the counter only grows, and the sealer
 *   refuses to seal once it reaches 2^53 (far beyond any session; the wire
 *   encoding stays 64-bit);
 * - an opener expects exactly the next counter value, so any dropped,
 *   replayed, reordered, altered or spliced frame fails to open;
 * - after one failure an opener is poisoned: it never yields plaintext again.
 * Key and nonce are bound to the AEAD once per direction (their checks run
 * then, not per frame); the nonce buffer is rewritten in place per frame.
 */

import type { Aead, BoundAead } from './aead/types.js';
import { AEAD_KEY_LENGTH, AEAD_NONCE_LENGTH, AEAD_TAG_LENGTH } from './aead/types.js';
import { copyBytes } from './bytes.js';
import { CounterExhaustedError, FrameError, KeyFormatError } from './errors.js';

export const FrameKind = {
  /** A LiveKit binary (protobuf) WebSocket message. */
  LiveKitBinary: 0x01,
  /** A LiveKit text (JSON) WebSocket message, as UTF-8. */
  LiveKitText: 0x02,
  /** A volly VollyControl message. */
  Control: 0x03,
} as const;
export type FrameKind = (typeof FrameKind)[keyof typeof FrameKind];

export const FRAME_OVERHEAD = 1 + AEAD_TAG_LENGTH;
const COUNTER_LIMIT = Number.MAX_SAFE_INTEGER;
const TWO_32 = 0x1_0000_0000;

export const isFrameKind = (k: number): k is FrameKind => k >= 1 && k <= 3;

/** Bytes 0..3 of the nonce stay zero for the life of the buffer. */
function writeNonce(view: DataView, counter: number): void {
  view.setUint32(4, Math.floor(counter / TWO_32));
  view.setUint32(8, counter >>> 0);
}

function checkKey(key: Uint8Array): Uint8Array {
  if (key.length !== AEAD_KEY_LENGTH) throw new KeyFormatError('direction key must be 32 bytes');
  return copyBytes(key);
}

abstract class Direction {
  protected readonly key: Uint8Array;
  protected readonly nonce = new Uint8Array(AEAD_NONCE_LENGTH);
  protected readonly nonceView = new DataView(this.nonce.buffer);
  protected readonly aad = new Uint8Array(1);
  protected readonly cipher: BoundAead;
  protected counter = 0;
  constructor(key: Uint8Array, aead: Aead) {
    this.key = checkKey(key);
    this.cipher = aead.bind(this.key, this.nonce);
  }
  /** Frames processed so far in this direction (the next nonce counter). */
  get count(): number {
    return this.counter;
  }
  /** Overwrite the key in memory when the session ends. */
  destroy(): void {
    this.key.fill(0);
    this.counter = COUNTER_LIMIT;
  }
}

export class FrameSealer extends Direction {
  seal(kind: FrameKind, plaintext: Uint8Array): Uint8Array {
    if (this.counter >= COUNTER_LIMIT) throw new CounterExhaustedError('frame counter exhausted or sealer destroyed');
    const out = new Uint8Array(FRAME_OVERHEAD + plaintext.length);
    out[0] = kind;
    this.aad[0] = kind;
    writeNonce(this.nonceView, this.counter);
    this.cipher.seal(out.subarray(1), plaintext, this.aad);
    this.counter++;
    return out;
  }
}

export interface OpenedFrame {
  readonly kind: FrameKind;
  readonly payload: Uint8Array;
}

export class FrameOpener extends Direction {
  #poisoned = false;
  constructor(
    key: Uint8Array,
    aead: Aead,
    /** Largest plaintext accepted; larger frames fail with ERR_FRAME_SIZE before any crypto. */
    readonly maxPlaintext = 16 * 1024 * 1024,
  ) {
    super(key, aead);
  }

  get poisoned(): boolean {
    return this.#poisoned;
  }

  /** Opens the next frame into a new buffer; `frame` is left as it was. */
  open(frame: Uint8Array): OpenedFrame {
    return this.#guarded(frame, false);
  }

  /**
   * Opens the next frame into its own bytes: the payload is a view of
   * `frame` (from offset 1), no allocation. Consumes `frame`: afterwards it
   * holds the plaintext, or zeros where a frame failed to open.
   */
  openInPlace(frame: Uint8Array): OpenedFrame {
    return this.#guarded(frame, true);
  }

  #guarded(frame: Uint8Array, inPlace: boolean): OpenedFrame {
    if (this.#poisoned || this.counter >= COUNTER_LIMIT) throw new FrameError('ERR_FRAME_POISONED', 'session already failed to open a frame');
    try {
      return this.#open(frame, inPlace);
    } catch (err) {
      this.#poisoned = true;
      throw err;
    }
  }

  #open(frame: Uint8Array, inPlace: boolean): OpenedFrame {
    if (frame.length < FRAME_OVERHEAD) throw new FrameError('ERR_FRAME_SHORT', `sealed frame of ${frame.length} bytes is shorter than ${FRAME_OVERHEAD}`);
    const kind = frame[0] as number;
    if (!isFrameKind(kind)) throw new FrameError('ERR_FRAME_KIND', `unknown frame kind 0x${kind.toString(16).padStart(2, '0')}`);
    const size = frame.length - FRAME_OVERHEAD;
    if (size > this.maxPlaintext) throw new FrameError('ERR_FRAME_SIZE', `frame of ${size} bytes exceeds the ${this.maxPlaintext}-byte limit`);
    const payload = inPlace ? frame.subarray(1, 1 + size) : new Uint8Array(size);
    this.aad[0] = kind;
    writeNonce(this.nonceView, this.counter);
    if (!this.cipher.open(payload, frame.subarray(1), this.aad)) {
      throw new FrameError('ERR_FRAME_AUTH', `frame ${this.counter} failed authentication`);
    }
    this.counter++;
    return { kind, payload };
  }
}
