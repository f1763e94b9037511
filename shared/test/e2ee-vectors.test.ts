/**
 * The volly-e2ee.v1 vectors (../test-vectors/e2ee, written by
 * ../scripts/make-e2ee-vectors.mjs) recomputed through the library on every
 * KEM, signature and AEAD backend of this runtime and of the browser build:
 * statement body and announce byte for byte, signatures verify, and the key
 * share's header, HKDF key and sealed key reproduce from the recipient's seed.
 */
import { describe, expect, test } from 'vitest';
import * as browser from '../src/backend/browser.js';
import * as node from '../src/backend/node.js';
import { fromHex, toHex } from '../src/bytes.js';
import { bindE2ee, encodeAnnounce, encodeStatementBody, STATEMENT_SIG_CONTEXT, shareAeadKey, shareHeader } from '../src/e2ee/index.js';
import type { KemAlgorithm } from '../src/kem/types.js';
import mlKem from '../test-vectors/e2ee/ml-kem-768.json' with { type: 'json' };
import xWing from '../test-vectors/e2ee/x-wing.json' with { type: 'json' };

const combos = [
  ...node.kemBackends().flatMap((kem) => node.aeadBackends().map((aead) => ({ name: `node ${kem}/${aead}`, kem, aead, rt: node }))),
  { name: 'browser noble/noble', kem: 'noble', aead: 'noble', rt: browser },
] as const;

describe.each([xWing, mlKem])('$algorithm vectors', (v) => {
  const alg = v.algorithm as KemAlgorithm;
  const st = v.statement.inputs;
  const fields = {
    kemAlgorithm: alg,
    issuedAt: st.issuedAt as number,
    expiresAt: st.expiresAt as number,
    room: st.room as string,
    identity: st.identity as string,
    context: st.context as string,
    kemPublicKey: fromHex(st.kemPublicKey as string),
    sigPublicKey: fromHex(st.sigPublicKey as string),
  };
  const ks = v.keyShare.inputs;
  const shareFields = {
    kemAlgorithm: alg,
    generation: ks.generation as number,
    room: ks.room as string,
    sender: ks.sender as string,
    recipient: ks.recipient as string,
  };

  test.each(combos)('$name', ({ kem, aead, rt }) => {
    const b = {
      getKem: (a: KemAlgorithm) => rt.getKem(a, kem as never),
      getSigner: () => rt.getSigner('ML-DSA-65', kem as never),
      aead: rt.getAead(aead as never),
      randomBytes: rt.randomBytes,
    };
    const e = bindE2ee(b);
    // Keys from seeds.
    expect(toHex(b.getSigner().keygen(fromHex(v.appKey.seed)).publicKey)).toBe(v.appKey.publicKey);
    expect(toHex(b.getKem(alg).keygen(fromHex(st.aliceKemSeed as string)).publicKey)).toBe(st.kemPublicKey);
    expect(toHex(b.getSigner().keygen(fromHex(st.aliceSigSeed as string)).publicKey)).toBe(st.sigPublicKey);
    // Statement.
    const body = encodeStatementBody(fields);
    expect(toHex(body)).toBe(v.statement.body);
    expect(v.statement.statement).toBe(v.statement.body + v.statement.signature);
    expect(b.getSigner().verify(fromHex(v.statement.signature), body, fromHex(v.appKey.publicKey), STATEMENT_SIG_CONTEXT)).toBe(true);
    const statement = fromHex(v.statement.statement);
    const expectation = {
      verificationKeys: [fromHex(v.appKey.publicKey)],
      room: fields.room,
      context: fields.context,
      identity: 'alice',
      now: fields.issuedAt,
    };
    expect(e.verifyStatement(statement, expectation).identity).toBe('alice');
    expect(toHex(encodeAnnounce(statement, true))).toBe(v.announce.message);
    // Key share, step by step from the recipient's seed.
    const bobSeed = fromHex(ks.bobKemSeed as string);
    const ss = b.getKem(alg).decapsulate(fromHex(v.keyShare.kemCiphertext), bobSeed);
    expect(toHex(ss)).toBe(v.keyShare.sharedSecret);
    const header = shareHeader(shareFields, fromHex(v.keyShare.kemCiphertext));
    expect(toHex(header)).toBe(v.keyShare.header);
    expect(header[2]).toBe(v.keyShare.keyIndex);
    const k = shareAeadKey(ss, header);
    expect(toHex(k)).toBe(v.keyShare.k);
    const sealed = new Uint8Array(48);
    b.aead.sealInto(sealed, k, new Uint8Array(12), fromHex(ks.mediaKey as string), header);
    expect(toHex(sealed)).toBe(v.keyShare.sealed);
    expect(v.keyShare.share).toBe(v.keyShare.header + v.keyShare.sealed + v.keyShare.signature);
    const opened = e.openKeyShare(fromHex(v.keyShare.share), {
      me: 'bob',
      room: shareFields.room,
      kemAlgorithm: alg,
      kemSecretKey: bobSeed,
      senderSigPublicKey: fields.sigPublicKey,
      lastGeneration: 0,
    });
    expect(toHex(opened)).toBe(ks.mediaKey);
  });
});
