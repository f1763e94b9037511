/**
 * ML-DSA-65 signers (../src/sig): backend selection on Node and in the
 * browser build, input checks, interop between native (node:crypto) and
 * noble both ways, and known-answer tests with published vectors (sources in
 * shared/test-vectors/primitives/README.md) on every backend this runtime has. The seed interface
 * signs hedged, so vectors given with an expanded secret key or with fixed
 * signing randomness are checked one layer down, on @noble/post-quantum.
 */
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { describe, expect, test } from 'vitest';
import * as browser from '../src/backend/browser.js';
import * as node from '../src/backend/node.js';
import { fromHex, utf8 } from '../src/bytes.js';
import { AlgorithmError, BackendUnavailableError, KeyFormatError } from '../src/errors.js';
import type { SigAlgorithm, SigBackendName } from '../src/sig/types.js';
import acvp from '../test-vectors/primitives/ml-dsa-65-acvp.json' with { type: 'json' };
import wycheproof from '../test-vectors/primitives/ml-dsa-65-wycheproof.json' with { type: 'json' };

const { getSigner, sigBackends } = node;
const backends = sigBackends();
const hasNative = backends.includes('native');
const hex = (s: string | undefined): Uint8Array => fromHex(s ?? '');
const CONTEXT = utf8('volly-pq.v1 server-auth');

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe('backend selection', () => {
  test('Node: native first where node:crypto has ML-DSA-65 (Node 24), noble always', () => {
    const hasMlDsa = Number(process.versions.node.split('.')[0]) >= 24;
    expect(backends).toEqual(hasMlDsa ? ['native', 'noble'] : ['noble']);
    expect(getSigner('ML-DSA-65').backend).toBe(backends[0]);
    expect(getSigner('ML-DSA-65', 'noble')).toBe(getSigner('ML-DSA-65', 'noble'));
  });

  test('browser backend: noble only (kem-backend.test.ts bundles it: noble ml-dsa in, sig/native out)', () => {
    expect(browser.sigBackends()).toEqual(['noble']);
    expect(browser.getSigner('ML-DSA-65').backend).toBe('noble');
    expect(errorOf(() => browser.getSigner('ML-DSA-65', 'native'))).toBeInstanceOf(BackendUnavailableError);
  });

  test('unknown algorithm -> AlgorithmError; missing backend -> BackendUnavailableError', () => {
    expect(errorOf(() => getSigner('Ed25519' as SigAlgorithm))).toBeInstanceOf(AlgorithmError);
    for (const name of (['native', 'wasm'] as SigBackendName[]).filter((b) => !backends.includes(b))) {
      expect(errorOf(() => getSigner('ML-DSA-65', name))).toBeInstanceOf(BackendUnavailableError);
    }
  });
});

describe.each(backends)('ML-DSA-65 %s', (backend) => {
  const signer = getSigner('ML-DSA-65', backend);
  const pair = signer.keygen();
  const message = utf8('transcript hash stand-in, 32 b.');

  test('sizes: FIPS 204 ML-DSA-65 (pk 1952, seed 32, signature 3309)', () => {
    expect(signer).toMatchObject({ algorithm: 'ML-DSA-65', backend, publicKeyLength: 1952, secretKeyLength: 32, signatureLength: 3309 });
    expect(pair.publicKey).toHaveLength(1952);
    expect(pair.secretKey).toHaveLength(32);
    expect(signer.sign(message, pair.secretKey, CONTEXT)).toHaveLength(3309);
  });

  test('keygen from a seed is deterministic and copies the seed', () => {
    const seed = new Uint8Array(32).fill(9);
    const a = signer.keygen(seed);
    seed.fill(1);
    expect(a.secretKey).toEqual(new Uint8Array(32).fill(9));
    expect(signer.keygen(new Uint8Array(32).fill(9)).publicKey).toEqual(a.publicKey);
    expect(signer.keygen().publicKey).not.toEqual(signer.keygen().publicKey);
  });

  test('sign is hedged (two signatures differ) and both verify; any change fails', () => {
    const s1 = signer.sign(message, pair.secretKey, CONTEXT);
    const s2 = signer.sign(message, pair.secretKey, CONTEXT);
    expect(s1).not.toEqual(s2);
    expect(signer.verify(s1, message, pair.publicKey, CONTEXT)).toBe(true);
    expect(signer.verify(s2, message, pair.publicKey, CONTEXT)).toBe(true);
    const flipped = s1.slice();
    flipped[100] = (flipped[100] as number) ^ 1;
    expect(signer.verify(flipped, message, pair.publicKey, CONTEXT)).toBe(false);
    expect(signer.verify(s1, utf8('another message'), pair.publicKey, CONTEXT)).toBe(false);
    expect(signer.verify(s1, message, pair.publicKey, utf8('another context'))).toBe(false);
    expect(signer.verify(s1, message, pair.publicKey)).toBe(false);
    expect(signer.verify(s1, message, signer.keygen().publicKey, CONTEXT)).toBe(false);
  });

  test('empty context is the default', () => {
    const s = signer.sign(message, pair.secretKey);
    expect(signer.verify(s, message, pair.publicKey, new Uint8Array(0))).toBe(true);
  });

  test('a signature of the wrong length, or not bytes, verifies as false (no throw)', () => {
    const s = signer.sign(message, pair.secretKey, CONTEXT);
    for (const bad of [new Uint8Array(0), s.subarray(1), Uint8Array.from([...s, 0]), 'sig' as unknown as Uint8Array]) {
      expect(signer.verify(bad, message, pair.publicKey, CONTEXT)).toBe(false);
    }
  });

  test('bad seed, public key or context -> KeyFormatError naming the field, never its bytes', () => {
    const cases: Array<[() => unknown, RegExp]> = [
      [() => signer.keygen(new Uint8Array(31)), /ML-DSA-65 seed must be 32 bytes/],
      [() => signer.sign(message, new Uint8Array(64)), /ML-DSA-65 secret key must be 32 bytes/],
      [() => signer.sign(message, pair.secretKey, new Uint8Array(256)), /context must be at most 255 bytes/],
      [() => signer.verify(new Uint8Array(3309), message, new Uint8Array(1951)), /ML-DSA-65 public key must be 1952 bytes/],
      [() => signer.verify(new Uint8Array(3309), message, pair.publicKey, new Uint8Array(256)), /context must be at most 255 bytes/],
      [() => signer.sign('m' as unknown as Uint8Array, pair.secretKey), /message to sign must be a Uint8Array/],
    ];
    for (const [fn, message] of cases) {
      const error = errorOf(fn);
      expect(error).toBeInstanceOf(KeyFormatError);
      expect((error as Error).message).toMatch(message);
    }
  });

  test('a 255-byte context (the FIPS 204 maximum) works', () => {
    const ctx = new Uint8Array(255).fill(0x41);
    expect(signer.verify(signer.sign(message, pair.secretKey, ctx), message, pair.publicKey, ctx)).toBe(true);
  });
});

describe('interop: every backend verifies every backend, keys agree byte for byte', () => {
  const pairs = backends.flatMap((a) => backends.map((b) => ({ signer: a, verifier: b })));
  test.each(pairs)('signed on $signer, verified on $verifier', ({ signer, verifier }) => {
    const s = getSigner('ML-DSA-65', signer);
    const v = getSigner('ML-DSA-65', verifier);
    const seed = node.randomBytes(32);
    const a = s.keygen(seed);
    expect(v.keygen(seed).publicKey).toEqual(a.publicKey);
    const th = node.randomBytes(32);
    const sig = s.sign(th, a.secretKey, CONTEXT);
    expect(v.verify(sig, th, a.publicKey, CONTEXT)).toBe(true);
    expect(v.verify(sig, th, a.publicKey)).toBe(false);
  });

  test.skipIf(!hasNative)('native signatures are FIPS 204 signatures: noble ml_dsa65 verifies them with the same context', () => {
    const native = getSigner('ML-DSA-65', 'native');
    const a = native.keygen();
    const sig = native.sign(utf8('m'), a.secretKey, CONTEXT);
    expect(ml_dsa65.verify(sig, utf8('m'), a.publicKey, { context: CONTEXT })).toBe(true);
  });
});

describe.each(backends)('ACVP (NIST FIPS 204) on %s', (backend) => {
  const signer = getSigner('ML-DSA-65', backend);

  test.each(acvp.keyGen)('keyGen tcId $tcId: seed -> pk', ({ seed, pk }) => {
    expect(signer.keygen(hex(seed)).publicKey).toEqual(hex(pk));
  });

  test.each(acvp.sigVer)('sigVer tcId $tcId: $reason', ({ pk, message, context, signature, testPassed }) => {
    expect(signer.verify(hex(signature), hex(message), hex(pk), hex(context))).toBe(testPassed);
  });

  test.each(acvp.sigGen)('sigGen tcId $tcId: the expected signature verifies', ({ sk, message, context, signature }) => {
    const pk = ml_dsa65.getPublicKey(hex(sk));
    expect(signer.verify(hex(signature), hex(message), pk, hex(context))).toBe(true);
  });
});

describe.each(backends)('Wycheproof on %s', (backend) => {
  const signer = getSigner('ML-DSA-65', backend);
  const verifyTests = wycheproof.verify.flatMap((g) => g.tests.map((t) => ({ ...t, publicKey: g.publicKey })));

  test.each(verifyTests)('verify tcId $tcId ($result): $comment', ({ publicKey, msg, ctx, sig, result, flags }) => {
    const pk = hex(publicKey);
    const context = hex((ctx as string | undefined) ?? '');
    if (flags.includes('IncorrectPublicKeyLength') || flags.includes('InvalidContext')) {
      // Our caller's own inputs, not the peer's: refused before any verification.
      expect(errorOf(() => signer.verify(hex(sig), hex(msg), pk, context))).toBeInstanceOf(KeyFormatError);
      return;
    }
    expect(signer.verify(hex(sig), hex(msg), pk, context)).toBe(result === 'valid');
  });

  const { privateSeed, publicKey, tests } = wycheproof.signSeed;
  test.each(tests)('sign_seed tcId $tcId ($result): $comment', ({ msg, ctx, sig, result }) => {
    const pair = signer.keygen(hex(privateSeed));
    expect(pair.publicKey).toEqual(hex(publicKey));
    const context = hex((ctx as string | undefined) ?? '');
    if (result === 'invalid') {
      expect(errorOf(() => signer.sign(hex(msg), pair.secretKey, context))).toBeInstanceOf(KeyFormatError);
      return;
    }
    expect(signer.verify(hex(sig), hex(msg), pair.publicKey, context)).toBe(true);
    const ours = signer.sign(hex(msg), pair.secretKey, context);
    expect(signer.verify(ours, hex(msg), pair.publicKey, context)).toBe(true);
  });
});

describe('the library under the noble backend, with vectors the seed interface cannot take', () => {
  test.each(acvp.sigGen)('ml_dsa65.sign: ACVP sigGen tcId $tcId (deterministic: $deterministic)', ({ sk, message, context, rnd, signature, deterministic }) => {
    const extraEntropy = deterministic ? false : hex(rnd);
    expect(ml_dsa65.sign(hex(message), hex(sk), { context: hex(context), extraEntropy })).toEqual(hex(signature));
  });

  test.each(wycheproof.signSeed.tests.filter((t) => t.result === 'valid'))(
    'ml_dsa65.sign (deterministic): Wycheproof sign_seed tcId $tcId',
    ({ msg, ctx, sig }) => {
      const { secretKey } = ml_dsa65.keygen(hex(wycheproof.signSeed.privateSeed));
      expect(ml_dsa65.sign(hex(msg), secretKey, { context: hex((ctx as string | undefined) ?? ''), extraEntropy: false })).toEqual(hex(sig));
    },
  );
});
