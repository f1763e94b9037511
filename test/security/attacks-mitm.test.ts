// Attacks on volly-pq.v1 against the real proxy in front of the real LiveKit:
// a man in the middle substituting the algorithm or the bound key. Each asserts what a user would see (the close code or HTTP status)
// and that nothing reached LiveKit (lib/attack-kit.ts). docs/THREAT-MODEL.md
// says what each shows.

import { CloseCode, FrameKind, getKem, toBase64Url, VollySignalRequest, VollySignalResponse } from '@volly/shared';
import { describe, expect, it } from 'vitest';
import { startMitm } from '../harness/mitm.ts';
import { connectPq } from '../harness/pq-signal.ts';
import { startTestProxy } from '../harness/proxy.ts';
import { CAN_META, failure, livekit, nothingReachesLiveKit, participants, proxy, roomName, useAttackServers } from './lib/attack-kit.ts';

useAttackServers();

function relabelResponse(d: Buffer, algorithm: string): Buffer {
  const r = VollySignalResponse.fromBinary(d);
  if (r.message.case === 'pqResponse') r.message.value.algorithm = algorithm;
  return Buffer.from(r.toBinary());
}

describe('algorithm substitution by a man in the middle', () => {
  it('client asks X-Wing, the relay rewrites the response to say ML-KEM-768: the client refuses before sealing anything', async () => {
    const room = roomName('alg');
    const mitm = await startMitm(proxy.wsUrl, { toClient: (d, i) => (i === 0 ? relabelResponse(d, 'ML-KEM-768') : d) });
    try {
      const err = await nothingReachesLiveKit('alg-x', async () =>
        failure(connectPq(mitm.wsUrl, await proxy.token(room, 'alg-x', CAN_META), { algorithm: 'X-Wing' })),
      );
      expect(err.code).toBe(CloseCode.Malformed);
      expect(err.failure?.message).toMatch(/server answered with "ML-KEM-768", not X-Wing/);
      expect(mitm.seen.toServer).toHaveLength(1); // the handshake; no VollyConnect followed
      expect(await participants(room)).toEqual([]);
    } finally {
      await mitm.close();
    }
  });

  it('a full downgrade — the relay rewrites the hello to ML-KEM-768 with the X-Wing key cut to its ML-KEM part — is refused too, either way it answers', async () => {
    const room = roomName('downgrade');
    const toMlKem = (d: Buffer) => {
      const q = VollySignalRequest.fromBinary(d);
      if (q.message.case === 'pqHandshake') {
        q.message.value.algorithm = 'ML-KEM-768';
        q.message.value.clientPublicKey = q.message.value.clientPublicKey.slice(0, 1184);
      }
      return Buffer.from(q.toBinary());
    };
    for (const relabel of [false, true]) {
      const mitm = await startMitm(proxy.wsUrl, {
        toServer: (d, i) => (i === 0 ? toMlKem(d) : d),
        // relabel: claim X-Wing again so the client's algorithm check passes; the 1088-byte ML-KEM ciphertext cannot be an X-Wing one
        toClient: (d, i) => (i === 0 && relabel ? relabelResponse(d, 'X-Wing') : d),
      });
      try {
        const err = await nothingReachesLiveKit('downgraded', async () =>
          failure(connectPq(mitm.wsUrl, await proxy.token(room, 'downgraded', CAN_META), { algorithm: 'X-Wing' })),
        );
        expect(err.code).toBe(CloseCode.Malformed);
        expect(err.failure?.message).toMatch(relabel ? /X-Wing ciphertext must be 1120 bytes/ : /server answered with "ML-KEM-768", not X-Wing/);
        expect(mitm.seen.toServer).toHaveLength(1);
      } finally {
        await mitm.close();
      }
    }
  });

  it('an algorithm the proxy does not allow is refused (4403), never silently swapped', async () => {
    const mlOnly = await startTestProxy(livekit, { VOLLY_PQ_ALGORITHMS: 'ML-KEM-768' });
    try {
      const e = await failure(connectPq(mlOnly.wsUrl, await mlOnly.token(roomName('policy'), 'xw'), { algorithm: 'X-Wing' }));
      expect(e.code).toBe(CloseCode.Refused);
      expect(e.reason).toMatch(/X-Wing is not allowed/);
    } finally {
      await mlOnly.close();
    }
  });
});

describe('key substitution on a token-bound session', () => {
  it('a relay that swaps the token’s pqPublicKey for its own breaks the token’s signature: 4401, nothing dialed', async () => {
    const room = roomName('keyswap');
    const victim = getKem('ML-KEM-768').keygen();
    const attacker = getKem('ML-KEM-768').keygen();
    const t = await proxy.token(room, 'keyswap', { ...CAN_META, bind: { algorithm: 'ML-KEM-768', publicKey: victim.publicKey } });
    const swapped = (() => {
      const [h, p, s] = t.split('.') as [string, string, string];
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
      payload.video.pqPublicKey = toBase64Url(attacker.publicKey);
      return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    })();
    const mitm = await startMitm(proxy.wsUrl, { url: (u) => u.replace(encodeURIComponent(t), swapped).replace(t, swapped) });
    try {
      const e = await nothingReachesLiveKit('keyswap', () => failure(connectPq(mitm.wsUrl, t, { keyPairs: [victim] })));
      expect(mitm.dialed[0]).toContain(swapped.slice(-20));
      expect(e.code).toBe(CloseCode.Unauthorized);
      expect(e.reason).toMatch(/signature invalid/);
    } finally {
      await mitm.close();
    }
  });

  it('the proxy encapsulates to the token’s key: a relay (or a client) without its secret key cannot open the session — 4400, nothing dialed', async () => {
    const room = roomName('keymiss');
    const bound = getKem('X-Wing').keygen();
    const other = getKem('X-Wing').keygen();
    const t = await proxy.token(room, 'keymiss', { ...CAN_META, bind: { algorithm: 'X-Wing', publicKey: bound.publicKey } });
    const mitm = await startMitm(proxy.wsUrl);
    try {
      // The client holds another secret key for the token's public key (a swapped token, or a confused app):
      // decapsulation yields an unrelated secret (ML-KEM implicit rejection), the VollyConnect cannot open.
      const e = await nothingReachesLiveKit('keymiss', () =>
        failure(connectPq(mitm.wsUrl, t, { keyPairs: [{ publicKey: bound.publicKey, secretKey: other.secretKey }] })),
      );
      expect(e.code).toBe(CloseCode.Malformed);
      // what the relay saw: the ciphertext to the token's key and one sealed frame it cannot read
      expect(mitm.seen.toClient[0]?.length).toBeGreaterThan(1120);
      expect(mitm.seen.toServer).toHaveLength(1);
      expect(mitm.seen.toServer[0]?.[0]).toBe(FrameKind.Control);
    } finally {
      await mitm.close();
    }
  });

  it('a relay that terminates the handshake with its own key and carries a stolen bound token in-band: 4401, the binding check', async () => {
    const room = roomName('keyterm');
    const holder = getKem('ML-KEM-768').keygen();
    const t = await proxy.token(room, 'keyterm', { ...CAN_META, bind: { algorithm: 'ML-KEM-768', publicKey: holder.publicKey } });
    // The relay's own in-band session to the proxy, carrying the token it stole from the URL.
    const e = await nothingReachesLiveKit('keyterm', () => failure(connectPq(proxy.wsUrl, t)));
    expect(e.code).toBe(CloseCode.Unauthorized);
    expect(e.reason).toMatch(/bound to another post-quantum key/);
  });
});

// ---- token claims ------------------------------------------------------------------
