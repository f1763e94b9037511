/**
 * The transcript hash backends: node:crypto's and noble's SHA-256 over parts
 * give the same digest as one SHA-256 over the concatenation, and the cached
 * digest of a public key is that digest.
 */
import { sha256 } from '@noble/hashes/sha2.js';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { concatBytes } from '../src/bytes.js';
import { nobleSha256, sha256OfPublic, sha256Parts } from '../src/sha256.js';

describe('sha256Parts', () => {
  test('both backends hash the parts as their concatenation', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 700 }), { maxLength: 8 }), (parts) => {
        const want = sha256(concatBytes(...parts));
        return Buffer.from(sha256Parts(parts)).equals(want) && Buffer.from(nobleSha256(parts)).equals(want);
      }),
      { numRuns: 300 },
    );
  });

  test('on Node >= 22.3 the fast path is node:crypto, not noble', () => {
    const hasBuiltin = typeof (process as { getBuiltinModule?: unknown }).getBuiltinModule === 'function';
    expect(sha256Parts === nobleSha256).toBe(!hasBuiltin);
  });
});

describe('sha256OfPublic', () => {
  test('is SHA-256 of the bytes, computed once per array', () => {
    const key = Uint8Array.from({ length: 1216 }, (_, i) => (i * 7) & 0xff);
    const a = sha256OfPublic(key);
    expect(Buffer.from(a).equals(sha256(key))).toBe(true);
    expect(sha256OfPublic(key)).toBe(a);
    expect(sha256OfPublic(key.slice())).not.toBe(a);
  });
});
