// Attacks on volly-pq.v1 against the real proxy in front of the real LiveKit:
// forged, altered and misused tokens. Each asserts what a user would see — the close code or HTTP
// status — and that nothing reached LiveKit (lib/attack-kit.ts).
// docs/THREAT-MODEL.md says what each shows.

import { createHmac } from 'node:crypto';
import { CloseCode, getKem } from '@volly/shared';
import { AccessToken } from 'livekit-server-sdk';
import { describe, expect, it } from 'vitest';
import { connectPq } from '../harness/pq-signal.ts';
import { connectSignal, SignalHttpError } from '../harness/signal.ts';
import { CAN_META, failure, livekit, nothingReachesLiveKit, participants, proxy, rawSocket, roomName, useAttackServers } from './lib/attack-kit.ts';

useAttackServers();

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const hs = (alg: 'sha256' | 'sha512', secret: string, input: string) => createHmac(alg, secret).update(input).digest('base64url');

describe('tokens', () => {
  it('an expired pqKeyExpiry: token-bound refused before the handshake (4401), in-band after it (sealed 4401); nothing dialed', async () => {
    const room = roomName('pqexp');
    const kp = getKem('ML-KEM-768').keygen();
    const t = await proxy.token(room, 'pqexp', {
      ...CAN_META,
      bind: { algorithm: 'ML-KEM-768', publicKey: kp.publicKey, keyExpiry: Math.floor(Date.now() / 1000) - 1 },
    });
    const [bound, inBand] = await nothingReachesLiveKit('pqexp', async () => [
      await failure(connectPq(proxy.wsUrl, t, { keyPairs: [kp] })),
      await failure(connectPq(proxy.wsUrl, t)),
    ]);
    for (const e of [bound, inBand]) {
      expect(e?.code).toBe(CloseCode.Unauthorized);
      expect(e?.reason).toMatch(/pqKeyExpiry has passed/);
    }
  });

  it('alg:none, HS512, RS256 keyed with the HMAC secret, LiveKit’s own key, kid/iss games: every one 4401 (PQ) and 401 (classical), nothing dialed', async () => {
    const room = roomName('forged');
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'forger', iss: proxy.apiKey, exp: now + 600, nbf: now - 10, video: { roomJoin: true, room } };
    const forged: Array<[string, string, RegExp]> = [];
    const add = (what: string, header: object, payload: object, sign: (input: string) => string, reason: RegExp) => {
      const input = `${b64(header)}.${b64(payload)}`;
      forged.push([what, `${input}.${sign(input)}`, reason]);
    };
    add('alg none', { alg: 'none', typ: 'JWT' }, claims, () => '', /algorithm none is not HS256/);
    add('alg none with a signature', { alg: 'none' }, claims, (i) => hs('sha256', proxy.apiSecret, i), /algorithm none is not HS256/);
    add('HS512 with the right secret', { alg: 'HS512', typ: 'JWT' }, claims, (i) => hs('sha512', proxy.apiSecret, i), /algorithm HS512 is not HS256/);
    add(
      'RS256 "verified" with the HMAC secret as public key',
      { alg: 'RS256', typ: 'JWT' },
      claims,
      (i) => hs('sha256', proxy.apiSecret, i),
      /algorithm RS256 is not HS256/,
    );
    add(
      'signed with LiveKit’s upstream key',
      { alg: 'HS256' },
      { ...claims, iss: livekit.apiKey },
      (i) => hs('sha256', livekit.apiSecret, i),
      /unknown API key/,
    );
    add('iss of the client key, signed with the upstream secret', { alg: 'HS256' }, claims, (i) => hs('sha256', livekit.apiSecret, i), /signature invalid/);
    add(
      'kid names the client key, iss another',
      { alg: 'HS256', kid: proxy.apiKey },
      { ...claims, iss: 'APIother' },
      (i) => hs('sha256', proxy.apiSecret, i),
      /unknown API key/,
    );
    add('no iss', { alg: 'HS256' }, { ...claims, iss: undefined }, (i) => hs('sha256', proxy.apiSecret, i), /unknown API key/);
    add('iss as an array', { alg: 'HS256' }, { ...claims, iss: [proxy.apiKey] }, (i) => hs('sha256', proxy.apiSecret, i), /unknown API key/);
    add('crit header', { alg: 'HS256', crit: ['x-volly'], 'x-volly': 1 }, claims, (i) => hs('sha256', proxy.apiSecret, i), /signature invalid|not a JWT/);
    add('exp in the past', { alg: 'HS256' }, { ...claims, exp: now - 3600 }, (i) => hs('sha256', proxy.apiSecret, i), /token expired/);
    add('nbf in the future', { alg: 'HS256' }, { ...claims, nbf: now + 3600 }, (i) => hs('sha256', proxy.apiSecret, i), /claim nbf invalid/);
    await nothingReachesLiveKit('forger', async () => {
      for (const [what, t, reason] of forged) {
        const e = await failure(connectPq(proxy.wsUrl, t));
        expect(e.code, what).toBe(CloseCode.Unauthorized);
        expect(e.reason, what).toMatch(reason);
        const c = await connectSignal(proxy.wsUrl, t).catch((err: unknown) => err);
        expect(c, what).toBeInstanceOf(SignalHttpError);
        expect((c as SignalHttpError).status, what).toBe(401);
      }
    });
    expect(await participants(room)).toEqual([]);
  });

  it('oversized tokens: over 16 KiB in VollyConnect is 4401; a 64 KiB URL is refused with HTTP 431 before any upgrade', async () => {
    const room = roomName('bigjwt');
    const big = await proxy.token(room, 'bigjwt', { grant: { roomJoin: true, room, metadata: 'x'.repeat(17_000) } as never });
    const e = await nothingReachesLiveKit('bigjwt', () => failure(connectPq(proxy.wsUrl, big)));
    expect(e.code).toBe(CloseCode.Unauthorized);
    expect(e.reason).toMatch(/too large/);
    const huge = `eyJhbGciOiJIUzI1NiJ9.${'A'.repeat(64 * 1024)}.sig`;
    const status = await nothingReachesLiveKit('bigjwt', () =>
      rawSocket(`/rtc?access_token=${huge}`).then(
        () => 101,
        (err: { status?: number }) => err.status,
      ),
    );
    expect(status).toBe(431);
  });

  it('a classical connection with a PQ-claimed token is refused — query or Bearer, /rtc or /rtc/v1, complete or partial claims, and on validate', async () => {
    const room = roomName('classical');
    const kp = getKem('X-Wing').keygen();
    const bound = await proxy.token(room, 'classic-pq', { ...CAN_META, bind: { algorithm: 'X-Wing', publicKey: kp.publicKey } });
    const partial = new AccessToken(proxy.apiKey, proxy.apiSecret, { identity: 'classic-pq', ttl: '5m' });
    partial.addGrant({ roomJoin: true, room, pqAlgorithm: 'X-Wing' } as never);
    const partialToken = await partial.toJwt();
    await nothingReachesLiveKit('classic-pq', async () => {
      for (const [what, t, opts] of [
        ['query, /rtc', bound, {}],
        ['Bearer header', bound, { tokenInHeader: true }],
        ['/rtc/v1', bound, { path: '/rtc/v1' }],
        ['only pqAlgorithm', partialToken, {}],
      ] as const) {
        const e = await connectSignal(proxy.wsUrl, t, undefined, opts).catch((err: unknown) => err);
        expect(e, what).toBeInstanceOf(SignalHttpError);
        expect((e as SignalHttpError).status, what).toBe(401);
        expect((e as SignalHttpError).body, what).toMatch(/post-quantum|pqPublicKey|pqKeyExpiry/);
      }
      const v = await fetch(`${proxy.url}/rtc/validate?access_token=${bound}`);
      expect(v.status).toBe(401);
    });
    expect(await participants(room)).toEqual([]);
  });
});

// ---- huge and hostile messages ----------------------------------------------------
