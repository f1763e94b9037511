/** closeReason: at most 123 UTF-8 bytes (RFC 6455 §5.5), cut at a code point, never inside a surrogate pair. */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { closeReason, MAX_CLOSE_REASON_BYTES } from '../src/close-reason.js';

const bytes = (s: string): number => Buffer.byteLength(s, 'utf8');
const wellFormed = (s: string): boolean => !/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(s);

describe('closeReason', () => {
  test('short reasons are kept as they are', () => {
    expect(closeReason('')).toBe('');
    expect(closeReason('invalid token')).toBe('invalid token');
    expect(closeReason('x'.repeat(123))).toBe('x'.repeat(123));
  });

  test('100 "é" (200 bytes) become 61 "é" (122 bytes): a 2-byte character is never split', () => {
    expect(closeReason('é'.repeat(100))).toBe('é'.repeat(61));
  });

  test('3- and 4-byte characters: 41 "€" fill 123 bytes; 30 "😀" (surrogate pairs) fill 120 and the 31st is dropped whole', () => {
    expect(closeReason('€'.repeat(50))).toBe('€'.repeat(41));
    expect(closeReason('😀'.repeat(40))).toBe('😀'.repeat(30));
    expect(closeReason(`${'x'.repeat(121)}😀`)).toBe('x'.repeat(121));
  });

  test('a lone surrogate becomes U+FFFD, so the count is what goes on the wire', () => {
    expect(closeReason('a\ud800b')).toBe('a\ufffdb');
    expect(closeReason('\udc00'.repeat(50))).toBe('\ufffd'.repeat(41));
  });

  test('property: at most 123 bytes, well formed, and a prefix of the (well-formed) input', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 200 }), (s) => {
        const r = closeReason(s);
        const expected = s.toWellFormed?.() ?? s;
        return bytes(r) <= MAX_CLOSE_REASON_BYTES && wellFormed(r) && expected.startsWith(r) && (bytes(expected) <= 123 ? r === expected : bytes(r) > 119);
      }),
      { numRuns: 3000 },
    );
  });
});
