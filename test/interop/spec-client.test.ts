// The client written from docs/PROTOCOL.md alone (spec-client*.ts) joins
// through the real proxy in front of the real LiveKit in every mode the
// document describes — v1 in-band, v1 token-bound, v2 unbound and bound — with
// both algorithms, gets LiveKit's JoinResponse and a pong to its ping.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { connectV1, type SealedSession, SpecClientError } from './spec-client.ts';
import { chooseKey, connectV2, fetchWellKnown, type StaticKey } from './spec-client-v2.ts';
import * as c from './spec-crypto.ts';

/** A v2 static key file as docs/cli.md describes it: the secret key in seed form. */
const dir = mkdtempSync(join(tmpdir(), 'volly-spec-keys-'));
function keyFile(algorithm: c.Alg): string {
  const seed = randomBytes(c.SIZES[algorithm].seed);
  const file = join(dir, `${algorithm}.json`);
  writeFileSync(file, JSON.stringify({ algorithm, publicKey: c.b64u(c.keygen(algorithm, seed).publicKey), secretKey: c.b64u(seed) }));
  return file;
}

let livekit: LiveKitServer;
let proxy: TestProxy;
let keys: StaticKey[];
beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: `${keyFile('X-Wing')},${keyFile('ML-KEM-768')}` });
  keys = await fetchWellKnown(proxy.url);
});
afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
});

const QUERY = 'auto_subscribe=1&sdk=js&version=2.15.0&protocol=16';
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
