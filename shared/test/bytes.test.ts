/**
 * Strict base64url (docs/PROTOCOL.md §7): exactly one string decodes to given
 * bytes. Non-canonical encodings (unused bits set), padding, the standard
 * alphabet and impossible lengths are refused; every canonical encoding
 * round-trips.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { fromBase64Url, isBase64Url, toBase64Url } from '../src/bytes.js';

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

describe('fromBase64Url', () => {
  test('round trip: every byte string decodes back from its encoding, and the encoding is accepted as canonical', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 2048 }), (bytes) => {
        const s = toBase64Url(bytes);
        const back = fromBase64Url(s);
        return isBase64Url(s) && back !== null && Buffer.from(back).equals(Buffer.from(bytes));
      }),
      { numRuns: 2000 },
    );
  });

  test('every accepted string is canonical: decoding then encoding gives the same string back', () => {
    const b64char = fc.constantFrom(...ALPHABET);
    fc.assert(
      fc.property(fc.array(b64char, { maxLength: 64 }), (chars) => {
        const s = chars.join('');
        const bytes = fromBase64Url(s);
        return bytes === null || toBase64Url(bytes) === s;
      }),
      { numRuns: 5000 },
    );
  });

  test('non-canonical: a last character with unused bits set is refused, though a lenient decoder reads the same bytes', () => {
    // 1 byte → 2 chars (4 unused bits), 2 bytes → 3 chars (2 unused bits).
    expect(toBase64Url(Uint8Array.of(0xff))).toBe('_w');
    expect(fromBase64Url('_w')).toEqual(Uint8Array.of(0xff));
    for (const s of ['_x', '_2', '_8', '__']) {
      expect(Buffer.from(s, 'base64url')).toEqual(Buffer.of(0xff)); // what Node's lenient decoder makes of it
      expect(fromBase64Url(s)).toBeNull();
    }
    expect(toBase64Url(Uint8Array.of(0xff, 0xff))).toBe('__8');
    expect(fromBase64Url('__8')).toEqual(Uint8Array.of(0xff, 0xff));
    for (const s of ['__9', '__-', '___']) expect(fromBase64Url(s)).toBeNull();
  });

  test('every non-canonical variant of a real key length is refused (ML-KEM-768: 1184 bytes, X-Wing: 1216)', () => {
    for (const n of [1184, 1216]) {
      const s = toBase64Url(Uint8Array.from({ length: n }, (_, i) => i & 0xff));
      const last = ALPHABET.indexOf(s.charAt(s.length - 1));
      const unused = s.length % 4 === 2 ? 0b1111 : 0b11;
      for (let bits = 1; bits <= unused; bits++) expect(fromBase64Url(s.slice(0, -1) + ALPHABET.charAt(last | bits))).toBeNull();
    }
  });

  test.each([
    ['padding', 'AA=='],
    ['one pad', 'AAA='],
    ['standard alphabet +', 'a+b/'],
    ['whitespace', 'AAAA AAAA'],
    ['newline', 'AAAA\nAAAA'],
    ['length 4n+1', 'AAAAA'],
    ['non-ASCII', 'AAAé'],
    ['percent-encoded', 'AA%3D'],
  ])('refuses %s', (_, s) => {
    expect(isBase64Url(s)).toBe(false);
    expect(fromBase64Url(s)).toBeNull();
  });

  test('the empty string is the encoding of no bytes', () => {
    expect(fromBase64Url('')).toEqual(new Uint8Array(0));
  });
});

describe('base64url codec backends', () => {
  test("the native path (Node's Buffer) and jose's agree byte for byte, and decoding gives a plain Uint8Array of its own", async () => {
    const { base64url } = await import('jose');
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 4096 }), (bytes) => {
        const s = toBase64Url(bytes);
        const back = fromBase64Url(s) as Uint8Array;
        return (
          s === base64url.encode(bytes) &&
          Object.getPrototypeOf(back) === Uint8Array.prototype &&
          back.byteOffset === 0 &&
          back.buffer.byteLength === bytes.length &&
          Buffer.from(back).equals(Buffer.from(bytes))
        );
      }),
      { numRuns: 500 },
    );
  });

  test('encodes a view into a larger buffer by its own bytes only', () => {
    const big = Uint8Array.from({ length: 64 }, (_, i) => i);
    expect(toBase64Url(big.subarray(10, 13))).toBe(toBase64Url(Uint8Array.of(10, 11, 12)));
  });
});
