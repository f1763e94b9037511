// Section 7 (tokens) checked with the client written from docs/PROTOCOL.md:
// what LiveKit receives (read through a tee in front of the real LiveKit),
// pin claims (pqServerKeys, pqServerKemKeys) stripped upstream, kept in
// rewritten tokens, and not binding on their own; bound tokens refused on
// classical paths with the documented reason.

import { randomBytes } from 'node:crypto';
import { SignalResponse } from '@livekit/protocol';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { describe, expect, it } from 'vitest';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { recordingTee } from '../harness/v2-signal.ts';
import { Wire } from './spec-client.ts';
import { connectV2 } from './spec-client-v2.ts';
import * as c from './spec-crypto.ts';
import { QUERY, useSpecEnv } from './spec-setup.ts';

const env = useSpecEnv();

describe('section 7: what LiveKit sees, and pin-only tokens', () => {
  /** The proxy dials LiveKit through a tee that records each upstream request head. */
  async function withTee(run: (p: TestProxy) => Promise<void>): Promise<Record<string, unknown>[]> {
    const tee = await recordingTee(Number(new URL(env.livekit.url).port));
    const p = await startTestProxy(env.livekit, { VOLLY_UPSTREAM_URL: tee.url.replace('ws:', 'http:'), VOLLY_SERVER_KEYS: env.keyPath });
    try {
      await run(p);
    } finally {
      await p.close();
      await tee.close();
    }
    return tee.heads.map((h) => {
      const token = new URL(`http://x${h.split(' ')[1]}`).searchParams.get('access_token') ?? '';
      return JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString()).video;
    });
  }
  const pins = () => ({ pqServerKemKeys: [c.b64u(env.key.id)], pqServerKeys: [c.b64u(ml_dsa65.keygen(randomBytes(32)).publicKey)] });

  it('a v2 bound token with both pin claims reaches LiveKit without any pq* claim', async () => {
    const videos = await withTee(async (p) => {
      const kp = c.keygen('X-Wing', randomBytes(32));
      const claims = { pqPublicKey: c.b64u(kp.publicKey), pqAlgorithm: 'X-Wing', pqKeyExpiry: Math.floor(Date.now() / 1000) + 600, ...pins() };
      const token = await p.token('spec-strip', 'uma', { grant: claims as object });
      const s = await connectV2({ base: p.wsUrl, path: '/rtc', query: QUERY, token, key: env.key, bound: { algorithm: 'X-Wing', ...kp } });
      await s.close();
    });
    expect(videos).toHaveLength(1);
    expect(videos[0]).toMatchObject({ room: 'spec-strip', roomJoin: true });
    expect(Object.keys(videos[0] ?? {}).filter((k) => k.startsWith('pq'))).toEqual([]);
  });

  it('a bound token on a classical path gets 401 with the documented reason', async () => {
    const kp = c.keygen('X-Wing', randomBytes(32));
    const claims = { pqPublicKey: c.b64u(kp.publicKey), pqAlgorithm: 'X-Wing', pqKeyExpiry: Math.floor(Date.now() / 1000) + 600 };
    const token = await env.proxy.token('spec-validate', 'walt', { grant: claims as object });
    const res = await fetch(`${env.proxy.url}/rtc/validate?access_token=${token}&${QUERY}`);
    expect([res.status, await res.text()]).toEqual([401, 'token is bound to a post-quantum key; connect with volly-pq']);
  });

  it('a v2 bound session keeps both pin claims in the tokens the proxy rewrites', async () => {
    const kp = c.keygen('ML-KEM-768', randomBytes(64));
    const pinClaims = pins();
    const claims = { pqPublicKey: c.b64u(kp.publicKey), pqAlgorithm: 'ML-KEM-768', pqKeyExpiry: Math.floor(Date.now() / 1000) + 600, ...pinClaims };
    const token = await env.proxy.token('spec-keep-pins', 'bea', { grant: claims as object });
    const s = await connectV2({ base: env.proxy.wsUrl, path: '/rtc', query: QUERY, token, key: env.key, bound: { algorithm: 'ML-KEM-768', ...kp } });
    const refreshed = await s.waitFor('refreshToken');
    await s.close();
    const video = JSON.parse(Buffer.from(refreshed.split('.')[1] ?? '', 'base64url').toString()).video;
    expect(video).toMatchObject({ ...pinClaims, pqPublicKey: claims.pqPublicKey, pqAlgorithm: 'ML-KEM-768' });
  });

  it('a token with pin claims only is unbound: a classical upgrade joins, and LiveKit sees no pq* claim', async () => {
    const videos = await withTee(async (p) => {
      const token = await p.token('spec-pin-only', 'vic', { grant: pins() as object });
      const w = await Wire.open(`${p.wsUrl}/rtc?access_token=${token}&${QUERY}`, []);
      expect(SignalResponse.fromBinary(await w.next()).message.case).toBe('join');
      w.ws.close();
    });
    expect(videos).toHaveLength(1);
    expect(Object.keys(videos[0] ?? {}).filter((k) => k.startsWith('pq'))).toEqual([]);
  });
});
