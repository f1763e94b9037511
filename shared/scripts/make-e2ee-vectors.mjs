#!/usr/bin/env node
/**
 * Writes the volly-e2ee.v1 vectors (docs/E2EE.md section 9) to
 * shared/test-vectors/e2ee/, one file per KEM algorithm:
 *
 *   npx tsc -b shared && npm exec -- node shared/scripts/make-e2ee-vectors.mjs
 *
 * Everything goes through the built library with its crypto bound to
 * deterministic stand-ins for the two steps that are random by design:
 * encapsulation (noble with fixed randomness) and ML-DSA-65 signing (noble,
 * FIPS 204 deterministic variant, rnd = 32 zero bytes; hedged signatures of
 * other implementations differ but verify the same). Fixed inputs come from
 * labels, so rerunning reproduces the files byte for byte.
 * shared/test/e2ee-vectors.test.ts checks them on every backend.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { sha512 } from '@noble/hashes/sha2.js';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { e2eeV1, getAead, getKem, getSigner, toHex, utf8 } from '../dist/index.js';

const fixed = (label, n) => sha512(utf8(`volly-e2ee.v1 test vector ${label}`)).slice(0, n);
const ENCAPS = { 'ML-KEM-768': [ml_kem768, 32], 'X-Wing': [ml_kem768_x25519, 64] };

function backends(alg) {
  const [lib, n] = ENCAPS[alg];
  const randomness = fixed(`${alg} encapsulation`, n);
  const encapsulate = (pk) => {
    const { cipherText, sharedSecret } = lib.encapsulate(pk, randomness);
    return { ciphertext: cipherText, sharedSecret };
  };
  const kem = { ...getKem(alg), encapsulate };
  const signer = {
    ...getSigner('ML-DSA-65'),
    sign: (msg, seed, context) => ml_dsa65.sign(msg, ml_dsa65.keygen(seed).secretKey, { context, extraEntropy: false }),
  };
  return { getKem: () => kem, getSigner: () => signer, aead: getAead(), randomBytes: () => fixed('media key', 32) };
}

function vector(alg) {
  const b = backends(alg);
  const e = e2eeV1.bindE2ee(b);
  const appSeed = fixed('app signing key', 32);
  const app = getSigner('ML-DSA-65').keygen(appSeed);
  const seeds = (who) => ({ kem: fixed(`${who} ${alg} KEM seed`, getKem(alg).secretKeyLength), sig: fixed(`${who} ML-DSA-65 seed`, 32) });
  const alice = seeds('alice');
  const bob = seeds('bob');
  const keysOf = (s) => ({ kem: getKem(alg).keygen(s.kem), sig: getSigner('ML-DSA-65').keygen(s.sig) });
  const [ak, bk] = [keysOf(alice), keysOf(bob)];
  const fields = {
    kemAlgorithm: alg,
    issuedAt: 1_800_000_000,
    expiresAt: 1_800_003_600,
    room: 'vector-room',
    identity: 'alice',
    context: 'example.com/prod',
    kemPublicKey: ak.kem.publicKey,
    sigPublicKey: ak.sig.publicKey,
  };
  const statement = e.signStatement(appSeed, fields);
  const body = e2eeV1.encodeStatementBody(fields);
  const mediaKey = fixed('media key', 32);
  const shareFields = { kemAlgorithm: alg, generation: 18, room: 'vector-room', sender: 'alice', recipient: 'bob' };
  const share = e.sealKeyShare(shareFields, { recipientKemPublicKey: bk.kem.publicKey, senderSigSecretKey: alice.sig, mediaKey });
  const d = e2eeV1.decodeKeyShare(share);
  const ss = getKem(alg).decapsulate(d.ciphertext, bob.kem);
  const k = e2eeV1.shareAeadKey(ss, d.header);
  const str = (o) => Object.fromEntries(Object.entries(o).map(([key, v]) => [key, v instanceof Uint8Array ? toHex(v) : v]));
  return {
    protocol: 'volly-e2ee.v1',
    algorithm: alg,
    appKey: { seed: toHex(appSeed), publicKey: toHex(app.publicKey) },
    statement: {
      inputs: { aliceKemSeed: toHex(alice.kem), aliceSigSeed: toHex(alice.sig), ...str(fields) },
      body: toHex(body),
      signature: toHex(statement.subarray(body.length)),
      statement: toHex(statement),
    },
    announce: { replyWanted: true, message: toHex(e2eeV1.encodeAnnounce(statement, true)) },
    keyShare: {
      inputs: { bobKemSeed: toHex(bob.kem), ...str(shareFields), mediaKey: toHex(mediaKey) },
      keyIndex: d.keyIndex,
      kemCiphertext: toHex(d.ciphertext),
      sharedSecret: toHex(ss),
      header: toHex(d.header),
      k: toHex(k),
      sealed: toHex(d.sealed),
      signature: toHex(d.signature),
      share: toHex(share),
    },
  };
}

for (const alg of ['X-Wing', 'ML-KEM-768']) {
  const file = fileURLToPath(new URL(`../test-vectors/e2ee/${alg.toLowerCase()}.json`, import.meta.url));
  writeFileSync(file, `${JSON.stringify(vector(alg), null, 2)}\n`);
  console.log(`wrote ${file}`);
}
