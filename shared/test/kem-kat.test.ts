/**
 * Known-answer tests with published vectors (sources in shared/test-vectors/primitives/README.md),
 * run against every KEM backend this runtime has. Through our `Kem` interface
 * (secret key = seed): ACVP keyGen and encapsulation-key checks, Wycheproof
 * seed/ciphertext/K (including the implicit-rejection path), X-Wing draft-10
 * keygen and decapsulation. Encapsulation is randomized behind the interface,
 * so the derandomized ACVP and X-Wing encapsulation vectors, and ACVP vectors
 * given with an expanded decapsulation key, are checked one layer down, on the
 * libraries our backends call.
 */
import * as nodeCrypto from 'node:crypto';
import { hexToBytes } from '@noble/hashes/utils.js';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { describe, expect, test } from 'vitest';
import { getKem, kemBackends } from '../src/backend/node.js';
import { KeyFormatError } from '../src/errors.js';
import acvp from '../test-vectors/primitives/ml-kem-768-acvp.json' with { type: 'json' };
import wycheproof from '../test-vectors/primitives/ml-kem-768-wycheproof.json' with { type: 'json' };
import xwing from '../test-vectors/primitives/xwing-draft-10.json' with { type: 'json' };
import { kemVariants } from './kem-variants.js';

const hex = (s: string): Uint8Array => hexToBytes(s);
const concat = (a: Uint8Array, b: Uint8Array): Uint8Array => {
  const out = new Uint8Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
};
const hasNative = kemBackends().includes('native');

describe.each(kemBackends())('ML-KEM-768 %s backend', (backend) => {
  const kem = getKem('ML-KEM-768', backend);

  test.each(acvp.keyGen)('ACVP keyGen tcId $tcId: d||z -> ek', ({ d, z, ek }) => {
    const { publicKey, secretKey } = kem.keygen(concat(hex(d), hex(z)));
    expect(publicKey).toEqual(hex(ek));
    expect(secretKey).toEqual(concat(hex(d), hex(z)));
  });

  test.each(acvp.encapsulationKeyCheck)('ACVP encapsulationKeyCheck tcId $tcId: $reason', ({ ek, testPassed }) => {
    if (testPassed) {
      expect(kem.encapsulate(hex(ek)).ciphertext).toHaveLength(1088);
      return;
    }
    const error = catchError(() => kem.encapsulate(hex(ek)));
    expect(error).toBeInstanceOf(KeyFormatError);
    expect((error as KeyFormatError).code).toBe('ERR_KEY_FORMAT');
    expect((error as Error).message.toLowerCase()).not.toContain(ek.slice(0, 16));
  });

  test.each(wycheproof.tests)('Wycheproof tcId $tcId $flags: seed -> ek, decapsulate(c) = K', ({ seed, ek, c, K }) => {
    const { publicKey, secretKey } = kem.keygen(hex(seed));
    expect(publicKey).toEqual(hex(ek));
    expect(kem.decapsulate(hex(c), secretKey)).toEqual(hex(K));
  });
});

describe.each(kemVariants().filter((v) => v.algorithm === 'X-Wing'))('$label', ({ kem }) => {
  test.each(xwing.tests.map((v, i) => ({ i: i + 1, ...v })))('draft-10 vector $i: keygen and decapsulate', ({ seed, sk, pk, ct, ss }) => {
    const pair = kem.keygen(hex(seed));
    expect(pair.secretKey).toEqual(hex(sk));
    expect(pair.publicKey).toEqual(hex(pk));
    expect(kem.decapsulate(hex(ct), pair.secretKey)).toEqual(hex(ss));
  });
});

describe('libraries under the backends, with vectors the seed interface cannot take', () => {
  test.each(xwing.tests.map((v, i) => ({ i: i + 1, ...v })))(
    '@noble/post-quantum ml_kem768_x25519 = X-Wing draft-10 encapsulation, vector $i',
    ({ pk, eseed, ct, ss }) => {
      const out = ml_kem768_x25519.encapsulate(hex(pk), hex(eseed));
      expect(out.cipherText).toEqual(hex(ct));
      expect(out.sharedSecret).toEqual(hex(ss));
    },
  );

  test.each(acvp.keyGen)('@noble/post-quantum ml_kem768: ACVP keyGen tcId $tcId expanded dk', ({ d, z, dk }) => {
    expect(ml_kem768.keygen(concat(hex(d), hex(z))).secretKey).toEqual(hex(dk));
  });

  test.each(acvp.encapsulation)('@noble/post-quantum ml_kem768: ACVP encapsulation tcId $tcId', ({ ek, dk, m, c, k }) => {
    const out = ml_kem768.encapsulate(hex(ek), hex(m));
    expect(out.cipherText).toEqual(hex(c));
    expect(out.sharedSecret).toEqual(hex(k));
    expect(ml_kem768.decapsulate(hex(c), hex(dk))).toEqual(hex(k));
  });

  test.each(acvp.decapsulation)('@noble/post-quantum ml_kem768: ACVP decapsulation tcId $tcId ($reason)', ({ dk, c, k }) => {
    expect(ml_kem768.decapsulate(hex(c), hex(dk))).toEqual(hex(k));
  });

  describe.skipIf(!hasNative)('node:crypto ML-KEM-768 (expanded dk imported as PKCS#8)', () => {
    test.each([...acvp.encapsulation, ...acvp.decapsulation])('ACVP tcId $tcId: decapsulate(c) = k', ({ dk, c, k }) => {
      const key = nodeCrypto.createPrivateKey({ key: pkcs8ExpandedMlKem768(hex(dk)), format: 'der', type: 'pkcs8' });
      expect(new Uint8Array(nodeCrypto.decapsulate(key, hex(c)))).toEqual(hex(k));
    });
  });
});

function catchError(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected an exception');
}

/**
 * PKCS#8 PrivateKeyInfo for an ML-KEM-768 key in its `expandedKey` form
 * (draft-ietf-lamps-kyber-certificates: OID 2.16.840.1.101.3.4.4.2, privateKey
 * OCTET STRING holding the 2400-byte dk as an OCTET STRING). Test-only DER.
 */
function pkcs8ExpandedMlKem768(dk: Uint8Array): Buffer {
  const tlv = (tag: number, body: Buffer): Buffer => {
    const n = body.length;
    const len = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : [0x82, n >> 8, n & 0xff];
    return Buffer.concat([Buffer.from([tag, ...len]), body]);
  };
  const version = Buffer.from([0x02, 0x01, 0x00]);
  const algorithm = tlv(0x30, Buffer.from('0609608648016503040402', 'hex'));
  return tlv(0x30, Buffer.concat([version, algorithm, tlv(0x04, tlv(0x04, Buffer.from(dk)))]));
}
