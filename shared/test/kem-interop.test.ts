/**
 * Behaviour every KEM backend shares, and native <-> noble interop byte for
 * byte. Native-only blocks skip where the runtime lacks native ML-KEM; the
 * first test pins which runtimes must have it, so a skip cannot hide a
 * regression.
 */
import { bytesToHex, hexToBytes } from '@noble/hashes/utils.js';
import { describe, expect, test } from 'vitest';
import { getKem, kemBackends } from '../src/backend/node.js';
import { KeyFormatError } from '../src/errors.js';
import { KEM_ALGORITHMS, type Kem, type KemAlgorithm } from '../src/kem/types.js';
import acvp from '../test-vectors/primitives/ml-kem-768-acvp.json' with { type: 'json' };
import { defaultX25519, kemVariants } from './kem-variants.js';

const hasNative = kemBackends().includes('native');
const nodeMajor = Number(process.versions.node.split('.')[0]);

test('native KEM backend is present exactly on Node >= 24', () => {
  expect(kemBackends()).toEqual(nodeMajor >= 24 ? ['native', 'noble'] : ['noble']);
  for (const algorithm of KEM_ALGORITHMS) expect(getKem(algorithm).backend).toBe(nodeMajor >= 24 ? 'native' : 'noble');
});

test('the native X-Wing takes X25519 from libsodium wherever sodium-native loads (it is installed here)', () => {
  expect(defaultX25519()).toBe(nodeMajor >= 24 ? 'libsodium' : undefined);
});

const SIZES: Record<KemAlgorithm, { pk: number; sk: number; ct: number }> = {
  'ML-KEM-768': { pk: 1184, sk: 64, ct: 1088 },
  'X-Wing': { pk: 1216, sk: 32, ct: 1120 },
};

/** An encapsulation key failing the FIPS 203 modulus check (ACVP, "noisy linear system values too large"). */
const badMlKemKey = hexToBytes(acvp.encapsulationKeyCheck.find((t) => !t.testPassed)?.ek ?? '');

/** X25519 u-coordinates of small order (RFC 7748 section 7 / libsodium's blocklist); X25519 with them is all-zero. */
const LOW_ORDER_X25519 = {
  'u=0': '0000000000000000000000000000000000000000000000000000000000000000',
  'u=1': '0100000000000000000000000000000000000000000000000000000000000000',
  'u=p-1': 'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'u=0 with bit 255 set': '0000000000000000000000000000000000000000000000000000000000000080',
  'order 8': 'e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800',
};

function expectKeyFormatError(fn: () => unknown, secret?: Uint8Array): void {
  let caught: unknown;
  try {
    fn();
  } catch (error) {
    caught = error;
  }
  expect(caught).toBeInstanceOf(KeyFormatError);
  expect((caught as KeyFormatError).code).toBe('ERR_KEY_FORMAT');
  if (secret !== undefined) expect((caught as Error).message).not.toContain(bytesToHex(secret).slice(0, 8));
}

const withLength = (n: number): Uint8Array => new Uint8Array(n).fill(7);

describe.each(kemVariants())('$label', ({ backend, algorithm, kem }) => {
  const size = SIZES[algorithm];

  test('declares its lengths and round-trips a 32-byte secret', () => {
    expect([kem.algorithm, kem.backend]).toEqual([algorithm, backend]);
    expect([kem.publicKeyLength, kem.secretKeyLength, kem.ciphertextLength]).toEqual([size.pk, size.sk, size.ct]);
    const { publicKey, secretKey } = kem.keygen();
    expect([publicKey.length, secretKey.length]).toEqual([size.pk, size.sk]);
    const { ciphertext, sharedSecret } = kem.encapsulate(publicKey);
    expect([ciphertext.length, sharedSecret.length]).toEqual([size.ct, 32]);
    expect(kem.decapsulate(ciphertext, secretKey)).toEqual(sharedSecret);
  });

  test('wrong lengths and non-bytes throw KeyFormatError before any library call', () => {
    const { publicKey, secretKey } = kem.keygen();
    const { ciphertext } = kem.encapsulate(publicKey);
    for (const delta of [-1, 1]) {
      expectKeyFormatError(() => kem.keygen(withLength(size.sk + delta)));
      expectKeyFormatError(() => kem.encapsulate(withLength(size.pk + delta)));
      expectKeyFormatError(() => kem.decapsulate(withLength(size.ct + delta), secretKey), secretKey);
      expectKeyFormatError(() => kem.decapsulate(ciphertext, withLength(size.sk + delta)));
    }
    expectKeyFormatError(() => kem.encapsulate(Array.from(publicKey) as unknown as Uint8Array));
    expectKeyFormatError(() => kem.decapsulate(ciphertext, Array.from(secretKey) as unknown as Uint8Array));
    expectKeyFormatError(() => kem.keygen(new Uint8Array(0)));
  });

  test('an encapsulation key failing the FIPS 203 modulus check throws KeyFormatError', () => {
    const pk = new Uint8Array(size.pk);
    pk.set(badMlKemKey);
    if (algorithm === 'X-Wing') pk.set(kem.keygen().publicKey.subarray(1184), 1184);
    expectKeyFormatError(() => kem.encapsulate(pk));
  });

  test('encapsulation leaves Error.stackTraceLimit as it found it (native imports lower it for one call), failing or not', () => {
    const before = Error.stackTraceLimit;
    try {
      Error.stackTraceLimit = 17;
      kem.encapsulate(kem.keygen().publicKey);
      expect(Error.stackTraceLimit).toBe(17);
      const bad = new Uint8Array(size.pk);
      bad.set(badMlKemKey);
      expectKeyFormatError(() => kem.encapsulate(bad));
      expect(Error.stackTraceLimit).toBe(17);
    } finally {
      Error.stackTraceLimit = before;
    }
  });

  test('keygen copies the seed; a refilled secret-key buffer is never served stale', () => {
    const seedA = withLength(size.sk);
    const a = kem.keygen(seedA);
    seedA.fill(9);
    expect(a.secretKey).toEqual(withLength(size.sk));
    const b = kem.keygen();
    const toB = kem.encapsulate(b.publicKey);
    kem.decapsulate(kem.encapsulate(a.publicKey).ciphertext, a.secretKey); // caches state for a.secretKey
    a.secretKey.set(b.secretKey); // same array, now B's seed
    expect(kem.decapsulate(toB.ciphertext, a.secretKey)).toEqual(toB.sharedSecret);
  });

  test('a node Buffer seed is copied too, not viewed (Buffer#slice would share its bytes)', () => {
    const seed = Buffer.alloc(size.sk, 7);
    const pair = kem.keygen(seed);
    const { ciphertext, sharedSecret } = kem.encapsulate(pair.publicKey);
    seed.fill(0);
    expect(pair.secretKey).toEqual(withLength(size.sk));
    expect(kem.decapsulate(ciphertext, pair.secretKey)).toEqual(sharedSecret);
  });

  if (algorithm === 'X-Wing') {
    describe.each(Object.entries(LOW_ORDER_X25519))('X25519 point %s', (_name, u) => {
      test('in the public key: encapsulate throws KeyFormatError', () => {
        const pk = kem.keygen().publicKey;
        pk.set(hexToBytes(u), 1184);
        expectKeyFormatError(() => kem.encapsulate(pk));
      });
      test('in the ciphertext: decapsulate throws KeyFormatError', () => {
        const { publicKey, secretKey } = kem.keygen();
        const ct = kem.encapsulate(publicKey).ciphertext;
        ct.set(hexToBytes(u), 1088);
        expectKeyFormatError(() => kem.decapsulate(ct, secretKey), secretKey);
      });
    });
  }
});

describe.skipIf(defaultX25519() !== 'libsodium')('X-Wing native: libsodium <-> node:crypto X25519', () => {
  test('same keys from the same seed; each decapsulates what the other encapsulated', () => {
    const sodium = getKem('X-Wing', 'native');
    const node = kemVariants().find((v) => v.label.includes('X25519: node:crypto'))?.kem as Kem;
    for (const [owner, sender] of [
      [sodium, node],
      [node, sodium],
    ] as const) {
      const { publicKey, secretKey } = owner.keygen();
      expect(sender.keygen(secretKey).publicKey).toEqual(publicKey);
      const { ciphertext, sharedSecret } = sender.encapsulate(publicKey);
      expect(owner.decapsulate(ciphertext, secretKey)).toEqual(sharedSecret);
    }
  });
});

describe.skipIf(!hasNative)('native <-> noble interop', () => {
  describe.each(KEM_ALGORITHMS)('%s', (algorithm) => {
    // Looked up inside the tests: a skipped describe body still runs at collection.
    const kems = (): { native: Kem; noble: Kem } => ({
      native: getKem(algorithm, 'native'),
      noble: getKem(algorithm, 'noble'),
    });
    const pairs: [string, 'native' | 'noble', 'native' | 'noble'][] = [
      ['native keys, noble encapsulates', 'native', 'noble'],
      ['noble keys, native encapsulates', 'noble', 'native'],
    ];

    test('the same seed gives the same public key', () => {
      const { native, noble } = kems();
      for (let i = 0; i < 3; i++) {
        const seed = native.keygen().secretKey;
        expect(noble.keygen(seed).publicKey).toEqual(native.keygen(seed).publicKey);
      }
    });

    test.each(pairs)('%s: both decapsulate to the same secret', (_name, owner, encapsulator) => {
      const keyOwner = kems()[owner];
      const sender = kems()[encapsulator];
      const { publicKey, secretKey } = keyOwner.keygen();
      const { ciphertext, sharedSecret } = sender.encapsulate(publicKey);
      expect(keyOwner.decapsulate(ciphertext, secretKey)).toEqual(sharedSecret);
      expect(sender.decapsulate(ciphertext, secretKey)).toEqual(sharedSecret);
    });

    test('a tampered ML-KEM ciphertext is implicitly rejected the same way by both', () => {
      const { native, noble } = kems();
      const { publicKey, secretKey } = native.keygen();
      const { ciphertext, sharedSecret } = noble.encapsulate(publicKey);
      ciphertext[0] = (ciphertext[0] ?? 0) ^ 1;
      const rejected = native.decapsulate(ciphertext, secretKey);
      expect(rejected).not.toEqual(sharedSecret);
      expect(noble.decapsulate(ciphertext, secretKey)).toEqual(rejected);
    });
  });
});
