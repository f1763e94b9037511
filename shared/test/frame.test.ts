/**
 * Sealed framing: round trips per kind on every AEAD backend and across
 * backends, the nonce layout checked against raw @noble/ciphers, and every
 * way a frame can fail (counter, key, kind, length, any flipped bit) as a
 * FrameError with its code, after which the opener stays poisoned.
 */
import { chacha20poly1305 } from '@noble/ciphers/chacha.js';
import { bytesToHex, utf8ToBytes } from '@noble/hashes/utils.js';
import { describe, expect, test } from 'vitest';
import { aeadBackends, getAead } from '../src/backend/node.js';
import { CloseCode } from '../src/close-codes.js';
import { CounterExhaustedError, FrameError, KeyFormatError } from '../src/errors.js';
import { FRAME_OVERHEAD, FrameKind, FrameOpener, FrameSealer } from '../src/frame.js';

const KEY = Uint8Array.from({ length: 32 }, (_, i) => i + 1);
const OTHER_KEY = Uint8Array.from({ length: 32 }, (_, i) => 255 - i);
const KINDS = [FrameKind.LiveKitBinary, FrameKind.LiveKitText, FrameKind.Control] as const;
const backends = aeadBackends();

function catchFrameError(fn: () => unknown): FrameError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(FrameError);
    return err as FrameError;
  }
  throw new Error('expected a FrameError');
}

/** Sets a direction's counter as if that many frames had passed (protected field). */
const setCounter = (d: FrameSealer | FrameOpener, n: number) => {
  (d as unknown as { counter: number }).counter = n;
};

/** nonce = 4 zero bytes || u64 big-endian counter, built by hand. */
function handNonce(counter: bigint): Uint8Array {
  const nonce = new Uint8Array(12);
  new DataView(nonce.buffer).setBigUint64(4, counter, false);
  return nonce;
}

test('frame overhead is the kind byte plus the 16-byte tag', () => {
  expect(FRAME_OVERHEAD).toBe(17);
  expect(KINDS).toEqual([1, 2, 3]);
});

describe.each(backends)('AEAD backend %s', (backend) => {
  const aead = getAead(backend);

  test.each(KINDS)('round trip of kind %i, empty and non-empty, counters advance', (kind) => {
    const sealer = new FrameSealer(KEY, aead);
    const opener = new FrameOpener(KEY, aead);
    const payloads = [new Uint8Array(0), utf8ToBytes('{"ping":1}'), Uint8Array.from({ length: 1000 }, (_, i) => i & 0xff)];
    for (const [i, p] of payloads.entries()) {
      const frame = sealer.seal(kind, p);
      expect(frame).toHaveLength(FRAME_OVERHEAD + p.length);
      expect(frame[0]).toBe(kind);
      expect(sealer.count).toBe(i + 1);
      const opened = opener.open(frame);
      expect(opened.kind).toBe(kind);
      expect(bytesToHex(opened.payload)).toBe(bytesToHex(p));
      expect(opener.count).toBe(i + 1);
    }
  });

  test('interleaved kinds open in order', () => {
    const sealer = new FrameSealer(KEY, aead);
    const opener = new FrameOpener(KEY, aead);
    const frames = [3, 1, 2, 1, 1, 2].map((k, i) => sealer.seal(k as FrameKind, Uint8Array.of(i)));
    expect(frames.map((f) => opener.open(f))).toEqual([3, 1, 2, 1, 1, 2].map((k, i) => ({ kind: k, payload: Uint8Array.of(i) })));
  });

  test('nonce is 4 zero bytes || u64 BE counter, aad the kind byte (opened with raw noble ChaCha20-Poly1305)', () => {
    const sealer = new FrameSealer(KEY, aead);
    for (let counter = 0; counter < 3; counter++) {
      const frame = sealer.seal(FrameKind.LiveKitText, utf8ToBytes(`frame ${counter}`));
      const plain = chacha20poly1305(KEY, handNonce(BigInt(counter)), Uint8Array.of(FrameKind.LiveKitText)).decrypt(frame.subarray(1));
      expect(new TextDecoder().decode(plain)).toBe(`frame ${counter}`);
    }
    // Both halves of the 64-bit counter: above 2^32 and the last counter a sealer ever uses.
    for (const counter of [2 ** 32 + 5, 2 ** 53 - 2]) {
      setCounter(sealer, counter);
      const frame = sealer.seal(FrameKind.Control, Uint8Array.of(9));
      const plain = chacha20poly1305(KEY, handNonce(BigInt(counter)), Uint8Array.of(3)).decrypt(frame.subarray(1));
      expect(plain).toEqual(Uint8Array.of(9));
      expect(() => chacha20poly1305(KEY, handNonce(BigInt(counter) + 1n), Uint8Array.of(3)).decrypt(frame.subarray(1))).toThrow();
    }
  });

  test('an opener far into the session opens at the matching counter', () => {
    const sealer = new FrameSealer(KEY, aead);
    const opener = new FrameOpener(KEY, aead);
    setCounter(sealer, 2 ** 40 + 7);
    setCounter(opener, 2 ** 40 + 7);
    expect(opener.open(sealer.seal(FrameKind.LiveKitBinary, Uint8Array.of(1, 2))).payload).toEqual(Uint8Array.of(1, 2));
  });

  test('the sealer refuses once the counter reaches 2^53 - 1, and after destroy', () => {
    const sealer = new FrameSealer(KEY, aead);
    setCounter(sealer, Number.MAX_SAFE_INTEGER - 1);
    sealer.seal(FrameKind.LiveKitBinary, Uint8Array.of(1));
    expect(() => sealer.seal(FrameKind.LiveKitBinary, Uint8Array.of(1))).toThrow(CounterExhaustedError);
    const fresh = new FrameSealer(KEY, aead);
    fresh.destroy();
    expect(() => fresh.seal(FrameKind.LiveKitBinary, Uint8Array.of(1))).toThrow(CounterExhaustedError);
  });

  test('a wrong counter fails: replayed, reordered and dropped frames', () => {
    const sealer = new FrameSealer(KEY, aead);
    const [f0, f1, f2] = [0, 1, 2].map((i) => sealer.seal(FrameKind.LiveKitBinary, Uint8Array.of(i))) as [Uint8Array, Uint8Array, Uint8Array];
    const replay = new FrameOpener(KEY, aead);
    replay.open(f0);
    expect(catchFrameError(() => replay.open(f0)).code).toBe('ERR_FRAME_AUTH');
    expect(catchFrameError(() => new FrameOpener(KEY, aead).open(f1)).code).toBe('ERR_FRAME_AUTH');
    const dropped = new FrameOpener(KEY, aead);
    dropped.open(f0);
    expect(catchFrameError(() => dropped.open(f2)).code).toBe('ERR_FRAME_AUTH');
  });

  test('a wrong key fails', () => {
    const frame = new FrameSealer(KEY, aead).seal(FrameKind.Control, Uint8Array.of(1, 2, 3));
    const err = catchFrameError(() => new FrameOpener(OTHER_KEY, aead).open(frame));
    expect([err.code, err.closeCode]).toEqual(['ERR_FRAME_AUTH', CloseCode.Malformed]);
  });

  test('a changed kind byte fails: another valid kind is bound by the aad, an unknown one is refused', () => {
    const frame = new FrameSealer(KEY, aead).seal(FrameKind.LiveKitBinary, utf8ToBytes('hello'));
    for (const kind of [2, 3])
      expect(catchFrameError(() => new FrameOpener(KEY, aead).open(Uint8Array.from(frame, (b, i) => (i === 0 ? kind : b)))).code).toBe('ERR_FRAME_AUTH');
    for (const kind of [0, 4, 0x81, 0xff])
      expect(catchFrameError(() => new FrameOpener(KEY, aead).open(Uint8Array.from(frame, (b, i) => (i === 0 ? kind : b)))).code).toBe('ERR_FRAME_KIND');
  });

  test('truncated frames: under 17 bytes ERR_FRAME_SHORT, otherwise ERR_FRAME_AUTH; one byte appended fails too', () => {
    const frame = new FrameSealer(KEY, aead).seal(FrameKind.LiveKitText, utf8ToBytes('hi'));
    for (let n = 0; n < FRAME_OVERHEAD; n++) expect(catchFrameError(() => new FrameOpener(KEY, aead).open(frame.subarray(0, n))).code).toBe('ERR_FRAME_SHORT');
    for (let n = FRAME_OVERHEAD; n < frame.length; n++)
      expect(catchFrameError(() => new FrameOpener(KEY, aead).open(frame.subarray(0, n))).code).toBe('ERR_FRAME_AUTH');
    const longer = new Uint8Array(frame.length + 1);
    longer.set(frame);
    expect(catchFrameError(() => new FrameOpener(KEY, aead).open(longer)).code).toBe('ERR_FRAME_AUTH');
  });

  test('every single flipped bit of a sealed frame fails with a FrameError', () => {
    const frame = new FrameSealer(KEY, aead).seal(FrameKind.LiveKitBinary, utf8ToBytes('volly'));
    const codes = new Map<string, number>();
    for (let bit = 0; bit < frame.length * 8; bit++) {
      const tampered = frame.slice();
      tampered[bit >> 3] = (tampered[bit >> 3] as number) ^ (1 << (bit & 7));
      const opener = new FrameOpener(KEY, aead);
      const err = catchFrameError(() => opener.open(tampered));
      const kind = tampered[0] as number;
      expect(err.code).toBe(bit < 8 && (kind < 1 || kind > 3) ? 'ERR_FRAME_KIND' : 'ERR_FRAME_AUTH');
      expect(err.closeCode).toBe(CloseCode.Malformed);
      expect(opener.poisoned).toBe(true);
      codes.set(err.code, (codes.get(err.code) ?? 0) + 1);
    }
    // 0x01 ^ 0x02 = 0x03 is the only flip of the kind byte that stays a valid kind.
    expect(Object.fromEntries(codes)).toEqual({ ERR_FRAME_KIND: 7, ERR_FRAME_AUTH: frame.length * 8 - 7 });
  });

  test('openInPlace yields what open yields, as a view of the frame (no new buffer), Node Buffers included', () => {
    const sealer = new FrameSealer(KEY, aead);
    const [copying, inPlace] = [new FrameOpener(KEY, aead), new FrameOpener(KEY, aead)];
    for (const [i, kind] of KINDS.entries()) {
      const frame = sealer.seal(
        kind,
        Uint8Array.from({ length: 300 }, (_, j) => (i + j) & 0xff),
      );
      const expected = copying.open(frame);
      // As ws hands frames over: a Buffer view into a larger received chunk.
      const chunk = Buffer.alloc(frame.length + 40);
      chunk.set(frame, 20);
      const received = chunk.subarray(20, 20 + frame.length);
      const opened = inPlace.openInPlace(received);
      expect(opened).toEqual({ kind, payload: expect.anything() });
      expect(Array.from(opened.payload)).toEqual(Array.from(expected.payload));
      expect([opened.payload.buffer, opened.payload.byteOffset]).toEqual([chunk.buffer, received.byteOffset + 1]);
    }
    expect(inPlace.count).toBe(KINDS.length);
  });

  test('openInPlace of a tampered frame: ERR_FRAME_AUTH, its bytes zeroed, the opener poisoned', () => {
    const sealer = new FrameSealer(KEY, aead);
    const opener = new FrameOpener(KEY, aead);
    const good = sealer.seal(FrameKind.LiveKitBinary, new Uint8Array(300).fill(0x5a));
    const bad = good.slice();
    bad[5] = (bad[5] as number) ^ 1;
    expect(catchFrameError(() => opener.openInPlace(bad)).code).toBe('ERR_FRAME_AUTH');
    expect(bad.subarray(1, 301).every((b) => b === 0)).toBe(true);
    expect(opener.poisoned).toBe(true);
    expect(catchFrameError(() => opener.openInPlace(good)).code).toBe('ERR_FRAME_POISONED');
  });

  test('one failure poisons the opener: the genuine frame never opens afterwards', () => {
    const sealer = new FrameSealer(KEY, aead);
    const opener = new FrameOpener(KEY, aead);
    const good = sealer.seal(FrameKind.LiveKitBinary, Uint8Array.of(1));
    const bad = good.slice();
    bad[bad.length - 1] = (bad[bad.length - 1] as number) ^ 1;
    expect(opener.poisoned).toBe(false);
    expect(catchFrameError(() => opener.open(bad)).code).toBe('ERR_FRAME_AUTH');
    expect(opener.poisoned).toBe(true);
    expect(opener.count).toBe(0);
    for (let i = 0; i < 2; i++) expect(catchFrameError(() => opener.open(good)).code).toBe('ERR_FRAME_POISONED');
    // A short or unknown-kind frame poisons just the same.
    for (const junk of [new Uint8Array(3), Uint8Array.from(good, (b, i) => (i === 0 ? 9 : b))]) {
      const o = new FrameOpener(KEY, aead);
      catchFrameError(() => o.open(junk));
      expect(catchFrameError(() => o.open(good)).code).toBe('ERR_FRAME_POISONED');
    }
  });

  test('a frame above maxPlaintext fails with ERR_FRAME_SIZE (close 1009) before any crypto, then poisons', () => {
    const sealer = new FrameSealer(KEY, aead);
    const opener = new FrameOpener(KEY, aead, 10);
    const ok = sealer.seal(FrameKind.LiveKitBinary, new Uint8Array(10));
    expect(opener.open(ok).payload).toHaveLength(10);
    const big = sealer.seal(FrameKind.LiveKitBinary, new Uint8Array(11));
    const err = catchFrameError(() => opener.open(big));
    expect([err.code, err.closeCode]).toEqual(['ERR_FRAME_SIZE', CloseCode.TooLarge]);
    expect(catchFrameError(() => opener.open(ok)).code).toBe('ERR_FRAME_POISONED');
    // Size is checked on the length alone: garbage of that size never reaches the AEAD.
    expect(catchFrameError(() => new FrameOpener(KEY, aead, 10).open(new Uint8Array(FRAME_OVERHEAD + 11).fill(1))).code).toBe('ERR_FRAME_SIZE');
  });

  test('destroy wipes the direction: the opener refuses, the key copy is zeroed', () => {
    const sealer = new FrameSealer(KEY, aead);
    const opener = new FrameOpener(KEY, aead);
    const frame = sealer.seal(FrameKind.LiveKitBinary, Uint8Array.of(1));
    opener.destroy();
    expect(catchFrameError(() => opener.open(frame)).code).toBe('ERR_FRAME_POISONED');
    expect((opener as unknown as { key: Uint8Array }).key).toEqual(new Uint8Array(32));
    expect(KEY[0]).toBe(1); // the caller's key is not touched
  });

  test('keys are copied at construction and must be 32 bytes', () => {
    const key = KEY.slice();
    const sealer = new FrameSealer(key, aead);
    key.fill(0);
    expect(new FrameOpener(KEY, aead).open(sealer.seal(FrameKind.LiveKitBinary, Uint8Array.of(7))).payload).toEqual(Uint8Array.of(7));
    for (const n of [0, 16, 31, 33]) {
      expect(() => new FrameSealer(new Uint8Array(n), aead)).toThrow(KeyFormatError);
      expect(() => new FrameOpener(new Uint8Array(n), aead)).toThrow(KeyFormatError);
    }
  });
});

describe('cross-backend interop', () => {
  const pairs = backends.flatMap((a) => backends.map((b) => [a, b] as const));
  test.each(pairs)('sealed by %s, opened by %s', (a, b) => {
    const sealer = new FrameSealer(KEY, getAead(a));
    const opener = new FrameOpener(KEY, getAead(b));
    for (const kind of KINDS) {
      const p = utf8ToBytes(`kind ${kind} from ${a}`);
      expect(opener.open(sealer.seal(kind, p))).toEqual({ kind, payload: p });
    }
  });

  test('every backend seals the same bytes for the same key, counter and plaintext', () => {
    const sealed = backends.map((b) => {
      const s = new FrameSealer(KEY, getAead(b));
      return [s.seal(FrameKind.LiveKitBinary, Uint8Array.of(1, 2, 3)), s.seal(FrameKind.Control, new Uint8Array(300).fill(0x5a))].map(bytesToHex);
    });
    for (const s of sealed) expect(s).toEqual(sealed[0]);
  });
});
