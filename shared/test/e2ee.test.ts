/**
 * volly-e2ee.v1 statements and key shares (../src/e2ee, docs/E2EE.md
 * sections 4-6) on both crypto backends and across them: what verifies,
 * what is refused and with which code, and that every binding in a share
 * (room, sender, recipient, index, generation) is checked.
 */
import { describe, expect, test } from 'vitest';
import { decodeE2eeMessage, decodeKeyShare, decodeStatement, E2eeError, encodeAnnounce, keyIndexOf } from '../src/e2ee/index.js';
import { appKey, BACKENDS, CONTEXT, party, ROOM } from './e2ee-helpers.js';

const pairs = [
  ['node', 'noble'],
  ['noble', 'node'],
] as const;

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return err instanceof E2eeError ? err.code : `not E2eeError: ${String(err)}`;
  }
  return 'no error';
};

describe.each(pairs)('statements signed on %s, verified on %s', (signOn, verifyOn) => {
  const s = BACKENDS[signOn];
  const v = BACKENDS[verifyOn];
  const app = appKey(s);
  const alice = party(s, app.secretKey, 'alice');
  const expect0 = { verificationKeys: [app.publicKey], room: ROOM, context: CONTEXT, identity: 'alice' };

  test('a statement verifies and carries both public keys', () => {
    const st = v.verifyStatement(alice.statement, expect0);
    expect(st.identity).toBe('alice');
    expect(st.kemAlgorithm).toBe('X-Wing');
    expect(st.kemPublicKey).toEqual(alice.keys.kem.publicKey);
    expect(st.sigPublicKey).toEqual(alice.keys.sig.publicKey);
    expect(st.expiresAt - st.issuedAt).toBe(600);
  });

  test('refused: another app key, room, context, identity, time, a flipped bit', () => {
    const other = appKey(s);
    expect(codeOf(() => v.verifyStatement(alice.statement, { ...expect0, verificationKeys: [other.publicKey] }))).toBe('ERR_E2EE_SIGNATURE');
    expect(codeOf(() => v.verifyStatement(alice.statement, { ...expect0, verificationKeys: [other.publicKey, app.publicKey] }))).toBe('no error');
    expect(codeOf(() => v.verifyStatement(alice.statement, { ...expect0, room: 'room-2' }))).toBe('ERR_E2EE_BINDING');
    expect(codeOf(() => v.verifyStatement(alice.statement, { ...expect0, context: 'other' }))).toBe('ERR_E2EE_BINDING');
    expect(codeOf(() => v.verifyStatement(alice.statement, { ...expect0, identity: 'mallory' }))).toBe('ERR_E2EE_BINDING');
    const st = decodeStatement(alice.statement);
    expect(codeOf(() => v.verifyStatement(alice.statement, { ...expect0, now: st.expiresAt }))).toBe('ERR_E2EE_EXPIRED');
    expect(codeOf(() => v.verifyStatement(alice.statement, { ...expect0, now: st.issuedAt - 61 }))).toBe('ERR_E2EE_EXPIRED');
    for (const at of [10, 40, st.body.length - 1, st.body.length + 100]) {
      const bad = alice.statement.slice();
      bad[at] = (bad[at] as number) ^ 1;
      expect(['ERR_E2EE_SIGNATURE', 'ERR_E2EE_FORMAT']).toContain(codeOf(() => v.verifyStatement(bad, expect0)));
    }
    expect(codeOf(() => v.verifyStatement(alice.statement.subarray(0, 100), expect0))).toBe('ERR_E2EE_FORMAT');
    expect(codeOf(() => v.verifyStatement(new Uint8Array([...alice.statement, 0]), expect0))).toBe('ERR_E2EE_FORMAT');
  });

  test('a statement signature never passes as a key-share signature (context strings differ)', () => {
    const st = decodeStatement(alice.statement);
    const signer = v.backends.getSigner('ML-DSA-65');
    expect(signer.verify(st.signature, st.body, app.publicKey, new TextEncoder().encode('volly-e2ee.v1 key-share'))).toBe(false);
  });
});

describe.each(pairs)('key shares sealed on %s, opened on %s', (sealOn, openOn) => {
  for (const alg of ['X-Wing', 'ML-KEM-768'] as const) {
    const s = BACKENDS[sealOn];
    const o = BACKENDS[openOn];
    const app = appKey(s);
    const alice = party(s, app.secretKey, 'alice', alg);
    const bob = party(s, app.secretKey, 'bob', alg);
    const mediaKey = s.backends.randomBytes(32);
    const fields = { kemAlgorithm: alg, generation: 17, room: ROOM, sender: 'alice', recipient: 'bob' };
    const share = s.sealKeyShare(fields, { recipientKemPublicKey: bob.keys.kem.publicKey, senderSigSecretKey: alice.keys.sig.secretKey, mediaKey });
    const input = {
      me: 'bob',
      room: ROOM,
      kemAlgorithm: alg,
      kemSecretKey: bob.keys.kem.secretKey,
      senderSigPublicKey: alice.keys.sig.publicKey,
      lastGeneration: 16,
    };

    test(`${alg}: the recipient gets the media key; key index is generation mod 16`, () => {
      expect(o.openKeyShare(share, input)).toEqual(mediaKey);
      const d = decodeKeyShare(share);
      expect(d.keyIndex).toBe(keyIndexOf(17));
      expect(d.keyIndex).toBe(1);
    });

    test(`${alg}: refused for another recipient, room, signer, an old generation, a flipped bit`, () => {
      expect(codeOf(() => o.openKeyShare(share, { ...input, me: 'carol' }))).toBe('ERR_E2EE_BINDING');
      expect(codeOf(() => o.openKeyShare(share, { ...input, room: 'room-2' }))).toBe('ERR_E2EE_BINDING');
      expect(codeOf(() => o.openKeyShare(share, { ...input, senderSigPublicKey: bob.keys.sig.publicKey }))).toBe('ERR_E2EE_SIGNATURE');
      expect(codeOf(() => o.openKeyShare(share, { ...input, senderSigPublicKey: undefined }))).toBe('ERR_E2EE_UNKNOWN_SENDER');
      expect(codeOf(() => o.openKeyShare(share, { ...input, lastGeneration: 17 }))).toBe('ERR_E2EE_REPLAY');
      // Another recipient's KEM key: signature fine, the sealed key does not open.
      const carol = party(s, app.secretKey, 'carol', alg);
      expect(codeOf(() => o.openKeyShare(share, { ...input, kemSecretKey: carol.keys.kem.secretKey }))).toMatch(/ERR_E2EE_AUTH|ERR_KEY_FORMAT|not E2eeError/);
      for (const at of [2, 5, 20, share.length - 3400, share.length - 1]) {
        const bad = share.slice();
        bad[at] = (bad[at] as number) ^ 1;
        expect(['ERR_E2EE_SIGNATURE', 'ERR_E2EE_FORMAT', 'ERR_E2EE_BINDING']).toContain(codeOf(() => o.openKeyShare(bad, input)));
      }
    });

    test(`${alg}: a share re-signed by its sender with a wrong key index is refused`, () => {
      const d = decodeKeyShare(share);
      const header = d.header.slice();
      header[2] = 5;
      const signed = new Uint8Array([...header, ...d.sealed]);
      const sig = s.backends.getSigner('ML-DSA-65').sign(signed, alice.keys.sig.secretKey, new TextEncoder().encode('volly-e2ee.v1 key-share'));
      expect(codeOf(() => o.openKeyShare(new Uint8Array([...signed, ...sig]), input))).toBe('ERR_E2EE_ALGORITHM');
    });
  }
});

describe('messages', () => {
  test('announce round trip and refusals', () => {
    const st = new Uint8Array([1, 2, 3]);
    expect(decodeE2eeMessage(encodeAnnounce(st, true))).toEqual({ type: 'announce', replyWanted: true, statement: st });
    expect(decodeE2eeMessage(encodeAnnounce(st, false))).toMatchObject({ replyWanted: false });
    expect(codeOf(() => decodeE2eeMessage(Uint8Array.of(1, 2, 0)))).toBe('ERR_E2EE_FORMAT');
    expect(codeOf(() => decodeE2eeMessage(Uint8Array.of(9, 0, 0)))).toBe('ERR_E2EE_FORMAT');
    expect(codeOf(() => decodeE2eeMessage(Uint8Array.of(1)))).toBe('ERR_E2EE_FORMAT');
  });

  test('token-server helper takes identity and expiry from a livekit-server-sdk AccessToken', async () => {
    const { AccessToken } = await import('livekit-server-sdk');
    const e = BACKENDS.node;
    const app = appKey(e);
    const keys = e.makeParticipantKeys('ML-KEM-768');
    const at = new AccessToken('k', 's'.repeat(32), { identity: 'dana', ttl: '10m' });
    const { statementRequest } = await import('../src/e2ee/index.js');
    const b64 = e.signE2eeStatement({
      appSecretKey: app.secretKey,
      context: CONTEXT,
      room: ROOM,
      token: at,
      request: statementRequest(keys),
      now: 1_800_000_000,
    });
    const st = e.verifyStatement(Buffer.from(b64, 'base64url'), {
      verificationKeys: [app.publicKey],
      room: ROOM,
      context: CONTEXT,
      identity: 'dana',
      now: 1_800_000_001,
    });
    expect(st.expiresAt - st.issuedAt).toBe(600);
    expect(st.kemAlgorithm).toBe('ML-KEM-768');
    expect(
      codeOf(() =>
        e.signE2eeStatement({ appSecretKey: app.secretKey, context: CONTEXT, room: ROOM, token: at, identity: 'eve', request: statementRequest(keys) }),
      ),
    ).toBe('ERR_E2EE_BINDING');
    // Tokens stay small: the statement is not a claim, and is several kB.
    expect(await at.toJwt()).not.toContain(b64.slice(0, 40));
    expect(b64.length).toBeGreaterThan(4000);
  });
});
