/**
 * PQ claims in LiveKit tokens: reading and validating them, removing exactly
 * them (downgrade), setting them again, and binding a real livekit-server-sdk
 * AccessToken to a client key.
 */
import { decodeJwt, jwtVerify } from 'jose';
import { AccessToken } from 'livekit-server-sdk';
import { describe, expect, test } from 'vitest';
import { toBase64Url } from '../src/bytes.js';
import { CloseCode } from '../src/close-codes.js';
import { TokenError } from '../src/errors.js';
import { addPqClaims, downgradeClaims, hasPqClaims, PQ_CLAIMS, pqGrant, readPqClaims, refreshedPqClaims, withPqClaims } from '../src/token.js';

const NOW = 1_800_000_000;
const mlKemKey = Uint8Array.from({ length: 1184 }, (_, i) => (i * 7) & 0xff);
const xWingKey = Uint8Array.from({ length: 1216 }, (_, i) => (i * 5) & 0xff);

const payloadWith = (video: Record<string, unknown>) => ({ iss: 'APIkey', sub: 'alice', exp: NOW + 3600, video: { room: 'r1', roomJoin: true, ...video } });
const validVideo = { pqPublicKey: toBase64Url(mlKemKey), pqAlgorithm: 'ML-KEM-768', pqKeyExpiry: NOW + 60 };

const ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
/** The same bytes to a lenient decoder: the lowest unused bit of the last character set. */
const withUnusedBitsSet = (s: string): string => s.slice(0, -1) + ALPHABET.charAt(ALPHABET.indexOf(s.charAt(s.length - 1)) | 1);

function tokenError(fn: () => unknown): TokenError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(TokenError);
    expect((err as TokenError).closeCode).toBe(CloseCode.Unauthorized);
    return err as TokenError;
  }
  throw new Error('expected a TokenError');
}

describe('readPqClaims', () => {
  test('valid claims for both algorithms', () => {
    expect(readPqClaims(payloadWith(validVideo), NOW)).toEqual({ algorithm: 'ML-KEM-768', publicKey: mlKemKey, keyExpiry: NOW + 60 });
    const xw = readPqClaims(payloadWith({ pqPublicKey: toBase64Url(xWingKey), pqAlgorithm: 'X-Wing', pqKeyExpiry: NOW + 1 }), NOW);
    expect(xw?.publicKey).toEqual(xWingKey);
  });

  test('no claims is null, not an error', () => {
    expect(readPqClaims({ sub: 'alice' }, NOW)).toBeNull();
    expect(readPqClaims(payloadWith({}), NOW)).toBeNull();
    expect(readPqClaims({ video: 'not an object' }, NOW)).toBeNull();
    expect(readPqClaims({ video: null }, NOW)).toBeNull();
  });

  test('expired key: at and after pqKeyExpiry', () => {
    expect(tokenError(() => readPqClaims(payloadWith(validVideo), NOW + 60)).code).toBe('ERR_TOKEN_PQ_EXPIRED');
    expect(tokenError(() => readPqClaims(payloadWith({ ...validVideo, pqKeyExpiry: 0 }), NOW)).code).toBe('ERR_TOKEN_PQ_EXPIRED');
  });

  test('defaults to the current time', () => {
    const now = Math.floor(Date.now() / 1000);
    expect(readPqClaims(payloadWith({ ...validVideo, pqKeyExpiry: now + 30 }))).not.toBeNull();
    expect(tokenError(() => readPqClaims(payloadWith({ ...validVideo, pqKeyExpiry: now - 1 }))).code).toBe('ERR_TOKEN_PQ_EXPIRED');
  });

  test.each([
    ['missing pqAlgorithm', { pqAlgorithm: undefined }],
    ['unknown pqAlgorithm', { pqAlgorithm: 'ML-KEM-512' }],
    ['pqAlgorithm not a string', { pqAlgorithm: 768 }],
    ['missing pqKeyExpiry', { pqKeyExpiry: undefined }],
    ['pqKeyExpiry as a string', { pqKeyExpiry: String(NOW + 60) }],
    ['fractional pqKeyExpiry', { pqKeyExpiry: NOW + 60.5 }],
    ['unsafe pqKeyExpiry', { pqKeyExpiry: 2 ** 60 }],
    ['missing pqPublicKey', { pqPublicKey: undefined }],
    ['pqPublicKey not a string', { pqPublicKey: [1, 2, 3] }],
    ['padded base64url', { pqPublicKey: `${toBase64Url(mlKemKey.subarray(0, 1183))}=` }],
    ['standard base64 alphabet', { pqPublicKey: Buffer.from(mlKemKey).toString('base64') }],
    ['key one byte short', { pqPublicKey: toBase64Url(mlKemKey.subarray(0, 1183)) }],
    ['key one byte long', { pqPublicKey: toBase64Url(new Uint8Array(1185)) }],
    ['X-Wing-length key for ML-KEM-768', { pqPublicKey: toBase64Url(xWingKey) }],
    ['impossible base64 length', { pqPublicKey: `${toBase64Url(mlKemKey)}AA` }],
    // Decodes to exactly mlKemKey with a lenient decoder: the last character's 2 unused bits are set.
    ['non-canonical base64url (unused bits set)', { pqPublicKey: withUnusedBitsSet(toBase64Url(mlKemKey)) }],
  ])('malformed: %s', (_, change) => {
    const video = { ...validVideo, ...change };
    for (const [k, v] of Object.entries(video)) if (v === undefined) delete (video as Record<string, unknown>)[k];
    expect(tokenError(() => readPqClaims(payloadWith(video), NOW)).code).toBe('ERR_TOKEN_CLAIMS');
  });

  test('an ML-KEM-768-length key under X-Wing is malformed', () => {
    expect(tokenError(() => readPqClaims(payloadWith({ ...validVideo, pqAlgorithm: 'X-Wing' }), NOW)).code).toBe('ERR_TOKEN_CLAIMS');
  });

  test('any one PQ claim marks the token as PQ', () => {
    for (const c of PQ_CLAIMS) expect(hasPqClaims(payloadWith({ [c]: 'x' }))).toBe(true);
    expect(hasPqClaims(payloadWith({}))).toBe(false);
    expect(hasPqClaims({ pqPublicKey: 'top-level claims do not count' })).toBe(false);
  });
});

describe('downgradeClaims and withPqClaims', () => {
  const payload = {
    iss: 'APIkey',
    sub: 'alice',
    nbf: NOW - 10,
    exp: NOW + 3600,
    name: 'Alice',
    metadata: '{"a":1}',
    attributes: { team: 'blue' },
    sha256: 'abc',
    roomConfig: { emptyTimeout: 5 },
    video: { room: 'r1', roomJoin: true, canPublish: false, canPublishSources: ['camera'], hidden: true, ...validVideo },
  };

  test('removes exactly the three PQ claims and keeps every other claim as it was', () => {
    const before = structuredClone(payload);
    const down = downgradeClaims(payload);
    const { pqPublicKey: _a, pqAlgorithm: _b, pqKeyExpiry: _c, ...restVideo } = payload.video;
    expect(down).toEqual({ ...payload, video: restVideo });
    expect(Object.keys(down.video)).toHaveLength(Object.keys(payload.video).length - 3);
    expect(hasPqClaims(down)).toBe(false);
    expect(payload).toEqual(before); // input untouched
  });

  test('a payload without video or without PQ claims comes back equal, as a copy', () => {
    const plain = { sub: 'bob', exp: NOW };
    expect(downgradeClaims(plain)).toEqual(plain);
    expect(downgradeClaims(plain)).not.toBe(plain);
    const noPq = { sub: 'bob', video: { room: 'r', roomJoin: true } };
    expect(downgradeClaims(noPq)).toEqual(noPq);
  });

  test('withPqClaims puts them back, next to the other grants', () => {
    const claims = readPqClaims(payloadWith(validVideo), NOW);
    if (!claims) throw new Error('claims expected');
    expect(withPqClaims(downgradeClaims(payload), claims)).toEqual(payload);
    expect(withPqClaims({ sub: 'x' }, claims)).toEqual({ sub: 'x', video: pqGrant(claims) });
    expect(pqGrant(claims)).toEqual(validVideo);
  });
});

describe('addPqClaims on a livekit-server-sdk AccessToken', () => {
  const secret = 'a-test-secret-of-at-least-32-characters!';

  test('the JWT video grant carries the claims next to the room grants', async () => {
    const at = new AccessToken('APIkey', secret, { identity: 'alice', name: 'Alice', ttl: '10m' });
    at.addGrant({ room: 'r1', roomJoin: true, canPublish: true });
    const keyExpiry = Math.floor(Date.now() / 1000) + 300;
    expect(addPqClaims(at, { algorithm: 'X-Wing', publicKey: xWingKey, keyExpiry })).toBe(at);
    const jwt = await at.toJwt();
    const { payload } = await jwtVerify(jwt, new TextEncoder().encode(secret));
    expect(payload.video).toMatchObject({
      room: 'r1',
      roomJoin: true,
      canPublish: true,
      pqAlgorithm: 'X-Wing',
      pqPublicKey: toBase64Url(xWingKey),
      pqKeyExpiry: keyExpiry,
    });
    expect(readPqClaims(payload)).toEqual({ algorithm: 'X-Wing', publicKey: xWingKey, keyExpiry });
    expect(downgradeClaims(payload).video).toEqual({ room: 'r1', roomJoin: true, canPublish: true });
  });

  test('claims added before the room grant survive it; keyExpiry defaults to the token’s exp', async () => {
    const at = new AccessToken('APIkey', secret, { identity: 'bob' });
    addPqClaims(at, { algorithm: 'ML-KEM-768', publicKey: mlKemKey });
    at.addGrant({ room: 'r2', roomJoin: true });
    const payload = decodeJwt(await at.toJwt());
    const claims = readPqClaims(payload);
    expect(payload.exp).toBeGreaterThan(Date.now() / 1000 + 6 * 3600 - 5);
    expect(claims?.keyExpiry).toBeGreaterThanOrEqual(payload.exp as number);
    expect(claims?.keyExpiry).toBeLessThanOrEqual((payload.exp as number) + 1);
    expect(payload.video).toMatchObject({ room: 'r2', roomJoin: true, pqAlgorithm: 'ML-KEM-768' });
  });

  test.each([
    [90, 90],
    ['45s', 45],
    ['10m', 600],
    ['2 hours', 7200],
    ['1.5h', 5400],
    ['1d', 86_400],
    ['2 weeks', 1_209_600],
  ])('ttl %j: the default key expiry is the token’s exp (never before it)', async (ttl, seconds) => {
    const at = new AccessToken('APIkey', secret, { identity: 'dave', ttl });
    addPqClaims(at, { algorithm: 'X-Wing', publicKey: xWingKey });
    const payload = decodeJwt(await at.toJwt());
    const exp = payload.exp as number;
    expect(exp - (payload.nbf as number)).toBe(seconds);
    expect((payload.video as Record<string, unknown>).pqKeyExpiry).toBeGreaterThanOrEqual(exp);
    expect((payload.video as Record<string, unknown>).pqKeyExpiry).toBeLessThanOrEqual(exp + 1);
  });

  test('an explicit keyExpiry is kept; a ttl jose cannot read needs one', () => {
    const at = new AccessToken('APIkey', secret, { identity: 'erin', ttl: '1h' });
    addPqClaims(at, { algorithm: 'X-Wing', publicKey: xWingKey, keyExpiry: NOW });
    expect((at as unknown as { grants: { video: Record<string, unknown> } }).grants.video.pqKeyExpiry).toBe(NOW);
    const odd = new AccessToken('APIkey', secret, { identity: 'erin', ttl: 'soon' });
    expect(tokenError(() => addPqClaims(odd, { algorithm: 'X-Wing', publicKey: xWingKey })).code).toBe('ERR_TOKEN_CLAIMS');
    addPqClaims(odd, { algorithm: 'X-Wing', publicKey: xWingKey, keyExpiry: NOW });
  });

  test('a grantable object without a ttl gets livekit-server-sdk’s default lifetime, 6 hours', () => {
    const video: Record<string, unknown> = {};
    addPqClaims({ addGrant: (g) => Object.assign(video, g) }, { algorithm: 'X-Wing', publicKey: xWingKey });
    const sixHours = Math.ceil(Date.now() / 1000) + 6 * 3600;
    expect(video.pqKeyExpiry).toBeGreaterThanOrEqual(sixHours - 2);
    expect(video.pqKeyExpiry).toBeLessThanOrEqual(sixHours);
  });

  test('a key of the wrong length for the algorithm is refused and the token is left alone', () => {
    const at = new AccessToken('APIkey', secret, { identity: 'carol' });
    expect(tokenError(() => addPqClaims(at, { algorithm: 'ML-KEM-768', publicKey: xWingKey })).code).toBe('ERR_TOKEN_CLAIMS');
    expect(tokenError(() => addPqClaims(at, { algorithm: 'X-Wing', publicKey: mlKemKey })).code).toBe('ERR_TOKEN_CLAIMS');
    expect((at as unknown as { grants: { video?: object } }).grants.video).toBeUndefined();
  });
});

describe('refreshedPqClaims: the binding in a token LiveKit refreshed', () => {
  const claims = { algorithm: 'X-Wing' as const, publicKey: xWingKey, keyExpiry: NOW + 60 };

  test('a key that lives with its token (expiry at or after exp) follows the refreshed exp', () => {
    expect(refreshedPqClaims(claims, NOW + 60, NOW + 600)).toEqual({ ...claims, keyExpiry: NOW + 600 });
    expect(refreshedPqClaims({ ...claims, keyExpiry: NOW + 61 }, NOW + 60, NOW + 600).keyExpiry).toBe(NOW + 600);
    // Never shortened: a key set to outlive its token keeps the later expiry.
    expect(refreshedPqClaims({ ...claims, keyExpiry: NOW + 9000 }, NOW + 60, NOW + 600).keyExpiry).toBe(NOW + 9000);
  });

  test('an explicit expiry before the token’s exp stays; without both exps nothing changes', () => {
    expect(refreshedPqClaims(claims, NOW + 61, NOW + 600)).toEqual(claims);
    expect(refreshedPqClaims(claims, undefined, NOW + 600)).toEqual(claims);
    expect(refreshedPqClaims(claims, NOW + 60, undefined)).toEqual(claims);
  });
});
