/**
 * Key schedule of volly-pq.v1 (docs/PROTOCOL.md §4 "Key schedule" and §5 "Framing"):
 * the transcript hash is recomputed here independently with node:crypto from
 * the documented byte layout, the direction keys with node:crypto hkdfSync,
 * and the noble HKDF the schedule uses is checked against RFC 5869.
 */
import { createHash, hkdfSync } from 'node:crypto';
import { expand, extract, hkdf } from '@noble/hashes/hkdf.js';
import { sha256 } from '@noble/hashes/sha2.js';
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, test } from 'vitest';
import { KeyFormatError } from '../src/errors.js';
import { deriveKeys, PROTOCOL, transcriptHash } from '../src/schedule.js';
import { nobleSha256 } from '../src/sha256.js';

/** The documented layout, built with Buffer and hashed with node:crypto (no code shared with src). */
function referenceTranscript(algorithm: string, sessionId: string, pk: Uint8Array, ct: Uint8Array): Uint8Array {
  const prefixed = (s: string) => {
    const body = Buffer.from(s, 'utf8');
    const len = Buffer.alloc(2);
    len.writeUInt16BE(body.length);
    return Buffer.concat([len, body]);
  };
  const h = createHash('sha256').update(Buffer.from('volly-pq.v1', 'ascii')).update(prefixed(algorithm)).update(prefixed(sessionId));
  return new Uint8Array(h.update(pk).update(ct).digest());
}

const nodeHkdf = (ikm: Uint8Array, salt: Uint8Array, info: string, n = 32) => new Uint8Array(hkdfSync('sha256', ikm, salt, Buffer.from(info, 'ascii'), n));

/** Deterministic filler bytes: (i * step + offset) mod 256. */
const pattern = (n: number, step: number, offset = 0) => Uint8Array.from({ length: n }, (_, i) => (i * step + offset) & 0xff);

const SIZES = { 'ML-KEM-768': { pk: 1184, ct: 1088 }, 'X-Wing': { pk: 1216, ct: 1120 } } as const;

test('protocol label is volly-pq.v1', () => {
  expect(PROTOCOL).toBe('volly-pq.v1');
});

describe('transcript hash', () => {
  test.each(Object.entries(SIZES))('%s-sized inputs match the documented layout', (algorithm, size) => {
    const pk = pattern(size.pk, 7, 1);
    const ct = pattern(size.ct, 13, 5);
    const sid = 'AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
    const th = transcriptHash(algorithm, sid, pk, ct);
    expect(th).toHaveLength(32);
    expect(bytesToHex(th)).toBe(bytesToHex(referenceTranscript(algorithm, sid, pk, ct)));
    // Browsers hash with noble's SHA-256, Node with node:crypto's: the same bytes, and a plain Uint8Array either way.
    const inBrowser = transcriptHash(algorithm, sid, pk, ct, nobleSha256);
    expect(bytesToHex(inBrowser)).toBe(bytesToHex(th));
    expect([th.constructor, inBrowser.constructor]).toEqual([Uint8Array, Uint8Array]);
  });

  test('byte layout spelled out: label, u16 BE lengths, UTF-8 fields, then pk and ct unprefixed', () => {
    const preimage = [
      '766f6c6c792d70712e7631', // "volly-pq.v1"
      '000a', // u16(10)
      '4d4c2d4b454d2d373638', // "ML-KEM-768"
      '0012', // u16(18): "session-id-01234é" is 18 bytes (é is 2)
      '73657373696f6e2d69642d3031323334c3a9',
      'a1a2a3', // pk
      'b1b2', // ct
    ].join('');
    const th = transcriptHash('ML-KEM-768', 'session-id-01234é', hexToBytes('a1a2a3'), hexToBytes('b1b2'));
    expect(bytesToHex(th)).toBe(createHash('sha256').update(Buffer.from(preimage, 'hex')).digest('hex'));
  });

  test('every input is bound: changing any field changes th', () => {
    const pk = pattern(1184, 3);
    const ct = pattern(1088, 5);
    const base = bytesToHex(transcriptHash('ML-KEM-768', 'session-0123456789', pk, ct));
    const flip = (b: Uint8Array, i: number) => Uint8Array.from(b, (x, j) => (j === i ? x ^ 1 : x));
    const variants = [
      transcriptHash('X-Wing', 'session-0123456789', pk, ct),
      transcriptHash('ML-KEM-768', 'session-0123456788', pk, ct),
      transcriptHash('ML-KEM-768', 'session-0123456789', flip(pk, 1183), ct),
      transcriptHash('ML-KEM-768', 'session-0123456789', pk, flip(ct, 0)),
    ];
    for (const v of variants) expect(bytesToHex(v)).not.toBe(base);
  });

  test('length prefixes separate algorithm from session id', () => {
    const pk = pattern(4, 1);
    expect(bytesToHex(transcriptHash('ab', 'c', pk, pk))).not.toBe(bytesToHex(transcriptHash('a', 'bc', pk, pk)));
  });

  test('pk || ct is unprefixed: only the fixed KEM lengths keep it unambiguous', () => {
    // Documents the invariant of schedule.ts: the KEM checks both lengths before th is computed.
    const split1 = transcriptHash('ML-KEM-768', 'sid', hexToBytes('0102'), hexToBytes('03'));
    const split2 = transcriptHash('ML-KEM-768', 'sid', hexToBytes('01'), hexToBytes('0203'));
    expect(bytesToHex(split1)).toBe(bytesToHex(split2));
  });

  test('a field of 65535 bytes is accepted, 65536 is a KeyFormatError', () => {
    const max = 'a'.repeat(0xffff);
    const empty = new Uint8Array(0);
    expect(bytesToHex(transcriptHash('ML-KEM-768', max, empty, empty))).toBe(bytesToHex(referenceTranscript('ML-KEM-768', max, empty, empty)));
    expect(() => transcriptHash(`${max}a`, 'sid', empty, empty)).toThrow(KeyFormatError);
    expect(() => transcriptHash('ML-KEM-768', `${max}é`, empty, empty)).toThrow(KeyFormatError);
  });
});

describe('direction keys', () => {
  const ss = pattern(32, 11, 3);
  const th = transcriptHash('X-Wing', 'abcdefghijklmnop', pattern(1216, 1), pattern(1120, 2));

  test('k_c2s and k_s2c are HKDF-SHA256(ss, salt = th, info = "volly-pq.v1 c2s|s2c", 32)', () => {
    const { c2s, s2c } = deriveKeys(ss, th);
    expect(bytesToHex(c2s)).toBe(bytesToHex(nodeHkdf(ss, th, 'volly-pq.v1 c2s')));
    expect(bytesToHex(s2c)).toBe(bytesToHex(nodeHkdf(ss, th, 'volly-pq.v1 s2c')));
    expect(c2s).toHaveLength(32);
    expect(bytesToHex(c2s)).not.toBe(bytesToHex(s2c));
  });

  test('deterministic, and bound to both ss and th', () => {
    const a = deriveKeys(ss, th);
    expect(deriveKeys(ss, th)).toEqual(a);
    const ss2 = Uint8Array.from(ss, (b, i) => (i === 31 ? b ^ 0x80 : b));
    const th2 = Uint8Array.from(th, (b, i) => (i === 0 ? b ^ 1 : b));
    expect(bytesToHex(deriveKeys(ss2, th).c2s)).not.toBe(bytesToHex(a.c2s));
    expect(bytesToHex(deriveKeys(ss, th2).s2c)).not.toBe(bytesToHex(a.s2c));
  });

  test.each([
    ['shared secret of 31 bytes', new Uint8Array(31), th],
    ['shared secret of 33 bytes', new Uint8Array(33), th],
    ['transcript hash of 31 bytes', ss, new Uint8Array(31)],
    ['empty transcript hash', ss, new Uint8Array(0)],
  ])('%s is a KeyFormatError', (_, s, t) => {
    expect(() => deriveKeys(s, t)).toThrow(KeyFormatError);
  });
});

describe('RFC 5869 HKDF-SHA256 through @noble/hashes (the HKDF the schedule uses)', () => {
  const ikm = hexToBytes('0b'.repeat(22));
  const cases = [
    {
      name: 'test case 1',
      salt: '000102030405060708090a0b0c',
      info: 'f0f1f2f3f4f5f6f7f8f9',
      prk: '077709362c2e32df0ddc3f0dc47bba6390b6c73bb50f9c3122ec844ad7c2b3e5',
      okm: '3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865',
    },
    {
      name: 'test case 3 (empty salt and info)',
      salt: '',
      info: '',
      prk: '19ef24a32c717b167f33a91d6f648bdf96596776afdb6377ac434c1c293ccb04',
      okm: '8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8',
    },
  ];
  test.each(cases)('$name', ({ salt, info, prk, okm }) => {
    expect(bytesToHex(extract(sha256, ikm, hexToBytes(salt)))).toBe(prk);
    expect(bytesToHex(expand(sha256, hexToBytes(prk), hexToBytes(info), 42))).toBe(okm);
    expect(bytesToHex(hkdf(sha256, ikm, hexToBytes(salt), hexToBytes(info), 42))).toBe(okm);
    expect(bytesToHex(new Uint8Array(hkdfSync('sha256', ikm, hexToBytes(salt), hexToBytes(info), 42)))).toBe(okm);
  });
});
