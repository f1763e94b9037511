// The client written from docs/PROTOCOL.md alone (spec-client*.ts) joins
// through the real proxy in front of the real LiveKit in every mode the
// document describes — v1 in-band, v1 token-bound, v2 unbound and bound — with
// both algorithms, gets LiveKit's JoinResponse and a pong to its ping.

import { createHmac, randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { connectV1, type SealedSession, SpecClientError } from './spec-client.ts';
import { chooseKey, connectV2, fetchWellKnown, type StaticKey } from './spec-client-v2.ts';
import * as c from './spec-crypto.ts';
import { QUERY, staticKeyFile } from './spec-setup.ts';

/** A v1 server identity key file (section 10, docs/cli.md): the 32-byte seed ξ. */
const dsaSeed = randomBytes(32);
const dsa = ml_dsa65.keygen(dsaSeed);
const dsaFile = join(mkdtempSync(join(tmpdir(), 'volly-spec-dsa-')), 'ml-dsa.json');
writeFileSync(
  dsaFile,
  JSON.stringify({
    algorithm: 'ML-DSA-65',
    publicKey: c.b64u(dsa.publicKey),
    secretKey: c.b64u(dsaSeed),
    keyId: c.hex(c.sha256(dsa.publicKey).subarray(0, 8)),
  }),
);

let livekit: LiveKitServer;
let proxy: TestProxy;
let keys: StaticKey[];
beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: `${dsaFile},${staticKeyFile('X-Wing')},${staticKeyFile('ML-KEM-768')}` });
  keys = await fetchWellKnown(proxy.url);
});
afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
});

const other = (a: c.Alg): c.Alg => (a === 'X-Wing' ? 'ML-KEM-768' : 'X-Wing');
const roomName = (s: string) => s.replace(/[^a-z0-9-]/gi, '');

/** A key pair and a token bound to it by the section 7 claims, set by hand in the video grant. */
async function boundToken(room: string, identity: string, algorithm: c.Alg) {
  const kp = c.keygen(algorithm, randomBytes(c.SIZES[algorithm].seed));
  const claims = { pqPublicKey: c.b64u(kp.publicKey), pqAlgorithm: algorithm, pqKeyExpiry: Math.floor(Date.now() / 1000) + 600 };
  return { kp, token: await proxy.token(room, identity, { grant: claims as object }) };
}

/** What a user checks: LiveKit admitted this identity, and answers a ping through the sealed relay. */
async function joinedAndPongs(s: SealedSession, identity: string, room: string): Promise<void> {
  expect(s.join?.message.case).toBe('join');
  const join = s.join?.message.value as { participant?: { identity: string }; room?: { name: string } };
  expect(join.participant?.identity).toBe(identity);
  expect(join.room?.name).toBe(room);
  const ts = BigInt(Date.now());
  s.send({ case: 'pingReq', value: { timestamp: ts, rtt: 0n } });
  expect((await s.waitFor('pongResp')).lastPingTimestamp).toBe(ts);
  await s.close();
}

describe.each(c.ALGS)('%s', (algorithm) => {
  it('v1 in-band: JoinResponse and pong', async () => {
    const room = roomName(`spec-v1-inband-${algorithm}`);
    const token = await proxy.token(room, 'alice');
    const s = await connectV1({ base: proxy.wsUrl, path: '/rtc', algorithm, token, query: QUERY });
    await joinedAndPongs(s, 'alice', room);
  });

  it('v1 token-bound (volly_sid): JoinResponse and pong', async () => {
    const room = roomName(`spec-v1-bound-${algorithm}`);
    const { kp, token } = await boundToken(room, 'bob', algorithm);
    const s = await connectV1({ base: proxy.wsUrl, path: '/rtc', algorithm, token, query: QUERY, bound: kp });
    await joinedAndPongs(s, 'bob', room);
  });

  it('v2 unbound: JoinResponse and pong', async () => {
    const room = roomName(`spec-v2-unbound-${algorithm}`);
    const key = keys.find((k) => k.algorithm === algorithm) as StaticKey;
    const s = await connectV2({ base: proxy.wsUrl, path: '/rtc', query: QUERY, token: await proxy.token(room, 'carol'), key });
    await joinedAndPongs(s, 'carol', room);
  });

  it.each([algorithm, other(algorithm)])('v2 bound to a %s key: JoinResponse and pong', async (boundAlg) => {
    const room = roomName(`spec-v2-bound-${algorithm}-${boundAlg}`);
    const key = keys.find((k) => k.algorithm === algorithm) as StaticKey;
    const { kp, token } = await boundToken(room, 'dave', boundAlg);
    const s = await connectV2({ base: proxy.wsUrl, path: '/rtc', query: QUERY, token, key, bound: { algorithm: boundAlg, ...kp } });
    await joinedAndPongs(s, 'dave', room);
  });
});

it('the document lists the configured keys, X-Wing first and current', () => {
  expect(keys.map((k) => k.algorithm)).toEqual(['X-Wing', 'ML-KEM-768']);
  expect(chooseKey(keys)?.algorithm).toBe('X-Wing');
});

it('v2: a flight to a key the proxy does not hold is refused with 4421', async () => {
  const real = keys[0] as StaticKey;
  const fake = c.keygen('X-Wing', randomBytes(32)).publicKey;
  const key = { ...real, publicKey: fake, id: c.v2KeyId('X-Wing', fake) };
  const err = await connectV2({ base: proxy.wsUrl, path: '/rtc', query: QUERY, token: await proxy.token('spec-4421', 'eve'), key }).catch((e) => e);
  expect(err).toBeInstanceOf(SpecClientError);
  expect(err.code).toBe(4421);
});

it('v2: a bound token without its secret key is refused (sealed 4401 or a ServerHello that does not open)', async () => {
  const { token } = await boundToken('spec-stolen', 'mallory', 'X-Wing');
  const thief = c.keygen('X-Wing', randomBytes(32));
  const err = await connectV2({
    base: proxy.wsUrl,
    path: '/rtc',
    query: QUERY,
    token,
    key: keys[0] as StaticKey,
    bound: { algorithm: 'X-Wing', ...thief },
  }).catch((e) => e);
  expect(err).toBeInstanceOf(Error);
});

describe("section 10: a client pinning the proxy's ML-DSA-65 key", () => {
  it('GET /server-keys publishes the key with its id; signed responses verify in-band and token-bound', async () => {
    const listed = (await (await fetch(`${proxy.adminUrl}/server-keys`)).json()) as {
      keys: { keyId: string; algorithm: string; publicKey: string; signing: boolean }[];
    };
    expect(listed.keys).toEqual([
      { keyId: c.hex(c.sha256(dsa.publicKey).subarray(0, 8)), algorithm: 'ML-DSA-65', publicKey: c.b64u(dsa.publicKey), signing: true },
    ]);
    const pins = listed.keys.map((k) => c.fromB64u(k.publicKey));
    const a = await connectV1({ base: proxy.wsUrl, path: '/rtc', algorithm: 'ML-KEM-768', token: await proxy.token('spec-pin', 'olga'), query: QUERY, pins });
    await joinedAndPongs(a, 'olga', 'spec-pin');
    const { kp, token } = await boundToken('spec-pin', 'pia', 'X-Wing');
    const b = await connectV1({ base: proxy.wsUrl, path: '/rtc', algorithm: 'X-Wing', token, query: QUERY, bound: kp, pins });
    await joinedAndPongs(b, 'pia', 'spec-pin');
  });

  it('a pin of another key fails with 4526 before anything is sealed, and nothing joins', async () => {
    const other = ml_dsa65.keygen(randomBytes(32)).publicKey;
    const token = await proxy.token('spec-pin-wrong', 'quinn');
    const err = await connectV1({ base: proxy.wsUrl, path: '/rtc', algorithm: 'X-Wing', token, query: QUERY, pins: [other] }).catch((e) => e);
    expect([err.code, err.message]).toEqual([4526, 'ERR_SERVER_AUTH_UNKNOWN_KEY']);
  });
});

describe('section 5: frames other than the first LiveKit binary one', () => {
  it('v1: LiveKit frames sent with connect, before the JoinResponse, are relayed in order', async () => {
    const early = [1n, 2n].map((t) => ({ case: 'pingReq' as const, value: { timestamp: t, rtt: 0n } }));
    const s = await connectV1({ base: proxy.wsUrl, path: '/rtc', algorithm: 'X-Wing', token: await proxy.token('spec-early', 'rita'), query: QUERY, early });
    expect((await s.waitFor('pongResp')).lastPingTimestamp).toBe(1n);
    expect((await s.waitFor('pongResp')).lastPingTimestamp).toBe(2n);
    await s.close();
  });

  it('v1: at most 16 frames may wait for LiveKit; a 17th ends the session with a sealed 4400', async () => {
    const pings = (n: number) => Array.from({ length: n }, (_v, i) => ({ case: 'pingReq' as const, value: { timestamp: BigInt(i + 1), rtt: 0n } }));
    const token = await proxy.token('spec-early-limit', 'hugo');
    const s = await connectV1({ base: proxy.wsUrl, path: '/rtc', algorithm: 'X-Wing', token, query: QUERY, early: pings(16) });
    for (let i = 1n; i <= 16n; i++) expect((await s.waitFor('pongResp')).lastPingTimestamp).toBe(i);
    await s.close();
    const err = await connectV1({ base: proxy.wsUrl, path: '/rtc', algorithm: 'X-Wing', token, query: QUERY, early: pings(17) }).catch((e) => e);
    expect([err.code, err.sealed?.code, err.closeReason]).toEqual([4400, 4400, 'Malformed']);
  });

  it('v2: a kind 0x02 (JSON text) LiveKit message is relayed and answered', async () => {
    const key = keys[0] as StaticKey;
    const s = await connectV2({ base: proxy.wsUrl, path: '/rtc', query: QUERY, token: await proxy.token('spec-text', 'sam'), key });
    s.sendText({ case: 'pingReq', value: { timestamp: 99n, rtt: 0n } });
    expect((await s.waitFor('pongResp')).lastPingTimestamp).toBe(99n);
    await s.close();
  });
});

describe('section 5: a client frame that fails is answered by a sealed 4400, then close 4400 Malformed', () => {
  it.each([
    ['shorter than 17 bytes', () => new Uint8Array(16).fill(1)],
    ['kind 0x02 not UTF-8', (k: c.SessionKeys) => c.seal(k.c2s, 1, 0x02, new Uint8Array([0xff, 0xfe]))],
    ['unknown kind 0x04', (k: c.SessionKeys) => c.seal(k.c2s, 1, 0x04, new Uint8Array([1]))],
    ['a skipped counter', (k: c.SessionKeys) => c.seal(k.c2s, 2, 0x01, new Uint8Array([1]))],
  ])('%s', async (_what, frame) => {
    const s = await connectV1({ base: proxy.wsUrl, path: '/rtc', algorithm: 'X-Wing', token: await proxy.token('spec-frames', 'fay'), query: QUERY });
    s.wire.ws.send(frame(s.keys));
    const err = await s.waitFor('pongResp', 5000).catch((e) => e);
    expect([err.code, err.sealed?.code, err.closeReason]).toEqual([4400, 4400, 'Malformed']);
  });

  it('a message over 1 MiB is closed with 1009 and an empty reason', async () => {
    const s = await connectV1({ base: proxy.wsUrl, path: '/rtc', algorithm: 'X-Wing', token: await proxy.token('spec-frames', 'gus'), query: QUERY });
    s.wire.ws.send(c.seal(s.keys.c2s, 1, 0x01, new Uint8Array(2 * 1024 * 1024)));
    const err = await s.waitFor('pongResp', 5000).catch((e) => e);
    expect([err.code, err.closeReason]).toEqual([1009, '']);
  });
});

describe('section 7: tokens LiveKit issues come back as client tokens', () => {
  /** The refresh token's claims, after checking it is HS256-signed with the client key. */
  async function refreshClaims(s: SealedSession): Promise<{ iss: string; video: Record<string, unknown> }> {
    const jwt = await s.waitFor('refreshToken');
    const [h = '', p = '', sig = ''] = jwt.split('.');
    expect(createHmac('sha256', proxy.apiSecret).update(`${h}.${p}`).digest('base64url')).toBe(sig);
    await s.close();
    return JSON.parse(Buffer.from(p, 'base64url').toString());
  }

  it('v1 token-bound: signed with the client key and carrying the session’s PQ claims', async () => {
    const { kp, token } = await boundToken('spec-refresh', 'xena', 'X-Wing');
    const s = await connectV1({ base: proxy.wsUrl, path: '/rtc', algorithm: 'X-Wing', token, query: QUERY, bound: kp });
    const claims = await refreshClaims(s);
    expect(claims.iss).toBe(proxy.apiKey);
    expect(claims.video).toMatchObject({ room: 'spec-refresh', pqPublicKey: c.b64u(kp.publicKey), pqAlgorithm: 'X-Wing' });
  });

  it('v2 unbound: signed with the client key, no PQ claims', async () => {
    const key = keys[0] as StaticKey;
    const s = await connectV2({ base: proxy.wsUrl, path: '/rtc', query: QUERY, token: await proxy.token('spec-refresh', 'yann'), key });
    const claims = await refreshClaims(s);
    expect(claims.iss).toBe(proxy.apiKey);
    expect(Object.keys(claims.video).filter((k) => k.startsWith('pq'))).toEqual([]);
  });
});
