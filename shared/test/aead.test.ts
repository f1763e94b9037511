/**
 * ChaCha20-Poly1305: RFC 8439 section 2.8.2 and appendix A.5 vectors against
 * every AEAD backend this runtime has, cross-backend agreement, tamper
 * rejection (false and a zeroed `out`), and argument checks.
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, test } from 'vitest';
import { aeadBackends, getAead, randomBytes } from '../src/backend/node.js';
import { KeyFormatError } from '../src/errors.js';
import rfc8439 from '../test-vectors/primitives/chacha20-poly1305-rfc8439.json' with { type: 'json' };

const hex = (s: string): Uint8Array => hexToBytes(s);
const vectors = rfc8439.tests.map((v) => ({
  name: v.name,
  key: hex(v.key),
  nonce: hex(v.nonce),
  aad: hex(v.aad),
  plaintext: hex(v.plaintext),
  sealed: hex(v.ciphertext + v.tag),
}));

/** sodium-native is installed and ships a prebuilt binary for this platform. */
function sodiumPrebuilt(): boolean {
  try {
    const entry = createRequire(import.meta.url).resolve('sodium-native');
    return existsSync(join(dirname(entry), 'prebuilds', `${process.platform}-${process.arch}`));
  } catch {
    return false;
  }
}

test('sodium backend loads wherever sodium-native is installed with a prebuild (no silent fallback)', () => {
  const expected = sodiumPrebuilt() ? ['sodium', 'noble'] : ['noble'];
  expect(aeadBackends()).toEqual(expected);
  expect(getAead().backend).toBe(expected[0]);
});

describe.each(aeadBackends())('%s backend', (backend) => {
  const aead = getAead(backend);

  test.each(vectors)('$name: seal', ({ key, nonce, aad, plaintext, sealed }) => {
    const out = new Uint8Array(plaintext.length + 16);
    aead.sealInto(out, key, nonce, plaintext, aad);
    expect(out).toEqual(sealed);
  });

  test.each(vectors)('$name: open', ({ key, nonce, aad, plaintext, sealed }) => {
    const out = new Uint8Array(sealed.length - 16);
    expect(aead.openInto(out, key, nonce, sealed, aad)).toBe(true);
    expect(out).toEqual(plaintext);
  });

  test('seals into a subarray view (frame kind byte in front) and opens from one', () => {
    const { key, nonce, aad, plaintext, sealed } = vectors[0] ?? expect.unreachable();
    const frame = new Uint8Array(1 + sealed.length).fill(0xee);
    frame[0] = 0x01;
    aead.sealInto(frame.subarray(1), key, nonce, plaintext, aad);
    expect(frame[0]).toBe(0x01);
    expect(frame.subarray(1)).toEqual(sealed);
    const out = new Uint8Array(plaintext.length);
    expect(aead.openInto(out, key, nonce, frame.subarray(1), aad)).toBe(true);
    expect(out).toEqual(plaintext);
  });

  test('empty plaintext and empty aad', () => {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const sealed = new Uint8Array(16);
    aead.sealInto(sealed, key, nonce, new Uint8Array(0), new Uint8Array(0));
    expect(aead.openInto(new Uint8Array(0), key, nonce, sealed, new Uint8Array(0))).toBe(true);
  });

  describe('any change fails to open: false, and out is all zero', () => {
    const { key, nonce, aad, sealed } = vectors[1] ?? expect.unreachable();
    const flip = (bytes: Uint8Array, i: number): Uint8Array => {
      const copy = bytes.slice();
      copy[i] = (copy[i] ?? 0) ^ 0x01;
      return copy;
    };
    const cases: [string, Uint8Array, Uint8Array, Uint8Array, Uint8Array][] = [
      ['ciphertext byte', key, nonce, flip(sealed, 7), aad],
      ['tag byte', key, nonce, flip(sealed, sealed.length - 1), aad],
      ['aad byte', key, nonce, sealed, flip(aad, 0)],
      ['nonce byte', key, flip(nonce, 11), sealed, aad],
      ['key byte', flip(key, 0), nonce, sealed, aad],
      ['truncated (last byte dropped)', key, nonce, sealed.subarray(0, -1), aad],
    ];
    test.each(cases)('%s', (_name, k, n, s, a) => {
      const out = new Uint8Array(s.length - 16).fill(0xaa);
      expect(aead.openInto(out, k, n, s, a)).toBe(false);
      expect(out).toEqual(new Uint8Array(out.length));
    });
  });

  test('sealed shorter than a tag: false', () => {
    const { key, nonce, aad } = vectors[0] ?? expect.unreachable();
    expect(aead.openInto(new Uint8Array(0), key, nonce, new Uint8Array(15), aad)).toBe(false);
  });

  test('argument checks: key -> KeyFormatError; nonce, out length, overlap -> RangeError', () => {
    const { key, nonce, aad, plaintext, sealed } = vectors[0] ?? expect.unreachable();
    const out = new Uint8Array(plaintext.length + 16);
    expect(() => aead.sealInto(out, key.subarray(1), nonce, plaintext, aad)).toThrow(KeyFormatError);
    expect(() => aead.openInto(new Uint8Array(plaintext.length), key.subarray(1), nonce, sealed, aad)).toThrow(KeyFormatError);
    expect(() => aead.sealInto(out, key, nonce.subarray(1), plaintext, aad)).toThrow(RangeError);
    expect(() => aead.sealInto(out.subarray(1), key, nonce, plaintext, aad)).toThrow(RangeError);
    expect(() => aead.openInto(new Uint8Array(plaintext.length + 1), key, nonce, sealed, aad)).toThrow(RangeError);
    const shared = new Uint8Array(2 * sealed.length);
    shared.set(plaintext);
    expect(() => aead.sealInto(shared.subarray(10, 10 + out.length), key, nonce, shared.subarray(0, plaintext.length), aad)).toThrow(RangeError);
  });
});

describe.each(aeadBackends())('%s backend bound to one key and nonce', (backend) => {
  const aead = getAead(backend);

  test('key and nonce are checked at bind, once; read by reference on every call (the framer rewrites the nonce)', () => {
    const { key, nonce, aad, plaintext, sealed } = vectors[0] ?? expect.unreachable();
    expect(() => aead.bind(key.subarray(1), nonce)).toThrow(KeyFormatError);
    expect(() => aead.bind(key, nonce.subarray(1))).toThrow(RangeError);
    const n = new Uint8Array(12);
    const bound = aead.bind(key, n);
    n.set(nonce);
    const out = new Uint8Array(plaintext.length + 16);
    bound.seal(out, plaintext, aad);
    expect(out).toEqual(sealed);
  });

  test.each(vectors)('$name: opens in place (out = the sealed bytes) and seals in place', ({ key, nonce, aad, plaintext, sealed }) => {
    const bound = aead.bind(key, nonce);
    const buf = sealed.slice();
    expect(bound.open(buf.subarray(0, plaintext.length), buf, aad)).toBe(true);
    expect(buf.subarray(0, plaintext.length)).toEqual(plaintext);
    const again = new Uint8Array(sealed.length);
    again.set(plaintext);
    bound.seal(again, again.subarray(0, plaintext.length), aad);
    expect(again).toEqual(sealed);
  });

  test('a failed open in place: false and the bytes zeroed; shifted overlaps and wrong lengths are RangeErrors', () => {
    const { key, nonce, aad, plaintext, sealed } = vectors[0] ?? expect.unreachable();
    const bound = aead.bind(key, nonce);
    const buf = sealed.slice();
    buf[0] = (buf[0] as number) ^ 1;
    expect(bound.open(buf.subarray(0, plaintext.length), buf, aad)).toBe(false);
    expect(buf.subarray(0, plaintext.length).every((b) => b === 0)).toBe(true);
    const wide = new Uint8Array(sealed.length + 1);
    wide.set(sealed, 1);
    expect(() => bound.open(wide.subarray(0, plaintext.length), wide.subarray(1), aad)).toThrow(RangeError);
    expect(() => bound.open(new Uint8Array(plaintext.length + 1), sealed, aad)).toThrow(RangeError);
    expect(() => bound.seal(new Uint8Array(plaintext.length), plaintext, aad)).toThrow(RangeError);
    expect(bound.open(new Uint8Array(0), new Uint8Array(15), aad)).toBe(false);
  });
});

test('every backend pair agrees on random frames of 0..300 bytes', () => {
  const backends = aeadBackends().map((b) => getAead(b));
  for (let len = 0; len <= 300; len += 37) {
    const key = randomBytes(32);
    const nonce = randomBytes(12);
    const aad = Uint8Array.of(len & 3);
    const plaintext = randomBytes(len);
    const seals = backends.map((aead) => {
      const out = new Uint8Array(len + 16);
      aead.sealInto(out, key, nonce, plaintext, aad);
      return out;
    });
    for (const sealed of seals) expect(sealed).toEqual(seals[0]);
    for (const aead of backends) {
      const out = new Uint8Array(len);
      expect(aead.openInto(out, key, nonce, seals[0] ?? expect.unreachable(), aad)).toBe(true);
      expect(out).toEqual(plaintext);
    }
  }
});
