// Token rules of the proxy, one module: verification (HS256 only, known key,
// exp/nbf with leeway, PQ claims), binding, downgrade and re-signing, and
// turning LiveKit's upstream-signed tokens back into client-facing ones.

import { createHmac } from 'node:crypto';
import { addPqClaims, getKem, hasPqClaims, TokenError, toBase64Url } from '@volly/shared';
import { decodeJwt, decodeProtectedHeader, jwtVerify, SignJWT, UnsecuredJWT } from 'jose';
import { AccessToken } from 'livekit-server-sdk';
import { describe, expect, it } from 'vitest';
import { Authorizer } from '../src/authorize.js';

const CLIENT = { key: 'APIclient', secret: 'c'.repeat(40) };
const UPSTREAM = { key: 'APIupstream', secret: 'u'.repeat(40) };
const auth = new Authorizer({
  keys: new Map([[CLIENT.key, CLIENT.secret]]),
  upstream: UPSTREAM,
  limits: { tokenLeewaySeconds: 10 } as never,
});
const enc = (s: string) => new TextEncoder().encode(s);

async function clientToken(opts: { ttl?: string; bind?: Uint8Array; key?: string; secret?: string } = {}) {
  const at = new AccessToken(opts.key ?? CLIENT.key, opts.secret ?? CLIENT.secret, { identity: 'alice', name: 'Alice', metadata: 'm', ttl: opts.ttl ?? '10m' });
  at.addGrant({ roomJoin: true, room: 'r1', canPublish: false });
  if (opts.bind) addPqClaims(at, { algorithm: 'ML-KEM-768', publicKey: opts.bind });
  return at.toJwt();
}

const code = (p: Promise<unknown>) =>
  p.then(
    () => 'ok',
    (e: TokenError) => e.code,
  );

describe('verify', () => {
  it('accepts a LiveKit token signed with a client key and reads room, identity and PQ claims', async () => {
    const kp = getKem('ML-KEM-768').keygen();
    const g = await auth.verify(await clientToken({ bind: kp.publicKey }));
    expect(g).toMatchObject({ keyId: CLIENT.key, room: 'r1', identity: 'alice' });
    expect(g.pq?.publicKey).toEqual(kp.publicKey);
  });

  it('refuses forged, unknown-key, expired, not-yet-valid, alg:none, RS/HS-confused and garbage tokens with typed errors', async () => {
    expect(await code(auth.verify(await clientToken({ secret: 'x'.repeat(40) })))).toBe('ERR_TOKEN_INVALID');
    expect(await code(auth.verify(await clientToken({ key: 'APIother' })))).toBe('ERR_TOKEN_INVALID');
    const expired = await new SignJWT({ video: { roomJoin: true, room: 'r1' }, sub: 'a' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(CLIENT.key)
      .setExpirationTime(Math.floor(Date.now() / 1000) - 60)
      .sign(enc(CLIENT.secret));
    expect(await code(auth.verify(expired))).toBe('ERR_TOKEN_EXPIRED');
    const future = await new SignJWT({ video: { roomJoin: true } })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(CLIENT.key)
      .setNotBefore(Math.floor(Date.now() / 1000) + 120)
      .setExpirationTime('1h')
      .sign(enc(CLIENT.secret));
    expect(await code(auth.verify(future))).toBe('ERR_TOKEN_INVALID');
    const none = new UnsecuredJWT({ video: { roomJoin: true }, iss: CLIENT.key }).setExpirationTime('1h').encode();
    expect(await code(auth.verify(none))).toBe('ERR_TOKEN_INVALID');
    const hs512 = await new SignJWT({ video: {} })
      .setProtectedHeader({ alg: 'HS512' })
      .setIssuer(CLIENT.key)
      .setExpirationTime('1h')
      .sign(enc(CLIENT.secret.repeat(2)));
    expect(await code(auth.verify(hs512))).toBe('ERR_TOKEN_INVALID');
    expect(await code(auth.verify('not.a.jwt'))).toBe('ERR_TOKEN_INVALID');
    expect(await code(auth.verify(''))).toBe('ERR_TOKEN_MISSING');
    expect(await code(auth.verify(`${'a'.repeat(20_000)}.b.c`))).toBe('ERR_TOKEN_INVALID');
  });

  it('tolerates a clock skew within the leeway', async () => {
    const skewed = await new SignJWT({ video: { roomJoin: true } })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(CLIENT.key)
      .setNotBefore(Math.floor(Date.now() / 1000) + 5)
      .setExpirationTime('1h')
      .sign(enc(CLIENT.secret));
    expect(await code(auth.verify(skewed))).toBe('ok');
  });

  it('refuses an expired pqKeyExpiry', async () => {
    const at = new AccessToken(CLIENT.key, CLIENT.secret, { identity: 'a' });
    at.addGrant({ roomJoin: true, room: 'r' });
    addPqClaims(at, { algorithm: 'ML-KEM-768', publicKey: getKem('ML-KEM-768').keygen().publicKey, keyExpiry: Math.floor(Date.now() / 1000) - 1 });
    expect(await code(auth.verify(await at.toJwt()))).toBe('ERR_TOKEN_PQ_EXPIRED');
  });
});

describe('binding and downgrade', () => {
  it('a bound token matches only its own key and algorithm', async () => {
    const kp = getKem('ML-KEM-768').keygen();
    const g = await auth.verify(await clientToken({ bind: kp.publicKey }));
    expect(() => auth.checkBinding(g, { algorithm: 'ML-KEM-768', publicKey: kp.publicKey })).not.toThrow();
    const other = getKem('ML-KEM-768').keygen().publicKey;
    expect(() => auth.checkBinding(g, { algorithm: 'ML-KEM-768', publicKey: other })).toThrow(TokenError);
    expect(() => auth.checkBinding(g, { algorithm: 'X-Wing', publicKey: kp.publicKey })).toThrow(TokenError);
    expect(() => auth.refuseOnClassical(g)).toThrow(/post-quantum key/);
  });

  it('the upstream token has every claim but the PQ ones, the same expiry, and the upstream key', async () => {
    const kp = getKem('ML-KEM-768').keygen();
    const original = await clientToken({ bind: kp.publicKey });
    const g = await auth.verify(original);
    const down = await auth.downgrade(g);
    const { payload } = await jwtVerify(down, enc(UPSTREAM.secret), { algorithms: ['HS256'] });
    const before = decodeJwt(original);
    expect(payload.iss).toBe(UPSTREAM.key);
    expect(hasPqClaims(payload as Record<string, unknown>)).toBe(false);
    const { iss: _a, video: v1, ...rest1 } = before;
    const { iss: _b, video: v2, ...rest2 } = payload;
    expect(rest2).toEqual(rest1);
    const { pqPublicKey: _k, pqAlgorithm: _g, pqKeyExpiry: _e, ...grant } = v1 as Record<string, unknown>;
    expect(v2).toEqual(grant);
    expect(decodeProtectedHeader(down).alg).toBe('HS256');
  });
});

describe('client-facing tokens from LiveKit’s', () => {
  it('re-signs with the session’s client key and puts the session’s PQ claims back', async () => {
    const kp = getKem('ML-KEM-768').keygen();
    const g = await auth.verify(await clientToken({ bind: kp.publicKey }));
    const fromLiveKit = await new SignJWT({ video: { roomJoin: true, room: 'r1' }, sub: 'alice', name: 'Alice' })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer(UPSTREAM.key)
      .setExpirationTime('6h')
      .sign(enc(UPSTREAM.secret));
    const out = (await auth.clientFacing(fromLiveKit, g)) as string;
    const { payload } = await jwtVerify(out, enc(CLIENT.secret), { algorithms: ['HS256'] });
    expect(payload.iss).toBe(CLIENT.key);
    expect((payload.video as Record<string, unknown>).pqPublicKey).toBe(toBase64Url(kp.publicKey));
    expect(payload.exp).toBe(decodeJwt(fromLiveKit).exp);
  });

  it('ignores a token LiveKit did not sign', async () => {
    const g = await auth.verify(await clientToken());
    expect(await auth.clientFacing(await clientToken(), g)).toBeNull();
  });
});

describe('HS256 on node:crypto, as jose did it', () => {
  const parts = (t: string) => t.split('.') as [string, string, string];
  const hs = (secret: string, header: object, payload: object) => {
    const input = `${Buffer.from(JSON.stringify(header)).toString('base64url')}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}`;
    return `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
  };
  const claims = () => ({ iss: CLIENT.key, sub: 'a', exp: Math.floor(Date.now() / 1000) + 600, video: { roomJoin: true, room: 'r1' } });

  it('signs the same bytes jose’s SignJWT signed', async () => {
    const g = await auth.verify(await clientToken());
    const down = await auth.downgrade(g);
    const byJose = await new SignJWT({ ...decodeJwt(down) }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(enc(UPSTREAM.secret));
    expect(down).toBe(byJose);
  });

  it('refuses a signature in a second base64url spelling, a truncated one, a crit header and claims of the wrong type', async () => {
    const good = hs(CLIENT.secret, { alg: 'HS256' }, claims());
    expect(await code(auth.verify(good))).toBe('ok');
    const [h, p, s] = parts(good);
    // 32 bytes are 43 characters: the last one carries 2 unused bits; flipping them decodes to the same MAC.
    const last = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    const twin = last[last.indexOf(s.at(-1) as string) ^ 1];
    expect(Buffer.from(`${s.slice(0, -1)}${twin}`, 'base64url')).toEqual(Buffer.from(s, 'base64url'));
    expect(await code(auth.verify(`${h}.${p}.${s.slice(0, -1)}${twin}`))).toBe('ERR_TOKEN_INVALID');
    expect(await code(auth.verify(`${h}.${p}.${s.slice(0, -1)}`))).toBe('ERR_TOKEN_INVALID');
    expect(await code(auth.verify(`${h}.${p}.`))).toBe('ERR_TOKEN_INVALID');
    expect(await code(auth.verify(hs(CLIENT.secret, { alg: 'HS256', crit: ['exp'] }, claims())))).toBe('ERR_TOKEN_INVALID');
    await expect(auth.verify(hs(CLIENT.secret, { alg: 'HS256' }, { ...claims(), exp: '9999999999' }))).rejects.toThrow('token claim exp invalid');
    await expect(auth.verify(hs(CLIENT.secret, { alg: 'HS256' }, { ...claims(), iat: 'now' }))).rejects.toThrow('token claim iat invalid');
    await expect(auth.verify(hs(CLIENT.secret, { alg: 'HS256' }, { ...claims(), exp: Math.floor(Date.now() / 1000) - 5 }))).resolves.toBeTruthy();
    await expect(auth.verify(hs(CLIENT.secret, { alg: 'HS256' }, { ...claims(), exp: Math.floor(Date.now() / 1000) - 11 }))).rejects.toThrow('token expired');
  });
});

describe('Bearer tokens on LiveKit’s HTTP APIs (Twirp, WHIP)', () => {
  it('re-signs a plain token for the upstream key', async () => {
    const out = await auth.resignBearer(await clientToken());
    const { payload } = await jwtVerify(out, enc(UPSTREAM.secret), { algorithms: ['HS256'] });
    expect(payload).toMatchObject({ iss: UPSTREAM.key, sub: 'alice' });
  });

  it('refuses a token with PQ claims, complete or partial: its binding is proved only inside a PQ session', async () => {
    const bound = await clientToken({ bind: getKem('ML-KEM-768').keygen().publicKey });
    await expect(auth.resignBearer(bound)).rejects.toMatchObject({ code: 'ERR_TOKEN_KEY_MISMATCH', message: expect.stringMatching(/post-quantum key/) });
    const partial = new AccessToken(CLIENT.key, CLIENT.secret, { identity: 'a', ttl: '5m' });
    partial.addGrant({ roomJoin: true, room: 'r1', pqAlgorithm: 'ML-KEM-768' } as never);
    expect(await code(auth.resignBearer(await partial.toJwt()))).toMatch(/^ERR_TOKEN_(KEY_MISMATCH|CLAIMS)$/);
  });
});
