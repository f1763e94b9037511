// The refusals and recoveries docs/PROTOCOL.md promises, checked with the
// client written from it against the real proxy and LiveKit: v2 stale-clock
// recovery (v2.6), replay (v2.5), path binding (v2.2), first-flight placement
// and ClientHello rules, and v1's URL rules (sections 1 and 3).

import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { startTestProxy } from '../harness/proxy.ts';
import { connectV1, SpecClientError, Wire } from './spec-client.ts';
import { connectV2, finish, firstFlight, type V2Options } from './spec-client-v2.ts';
import * as c from './spec-crypto.ts';
import { encodeHandshake } from './spec-proto.ts';
import { QUERY, useSpecEnv } from './spec-setup.ts';

const env = useSpecEnv();

const HOUR = 3_600_000;
const opts = async (room: string, identity: string, more: Partial<V2Options> = {}): Promise<V2Options> => ({
  base: env.proxy.wsUrl,
  path: '/rtc',
  query: QUERY,
  token: await env.proxy.token(room, identity),
  key: env.key,
  ...more,
});

/** The close code (and reason) a raw upgrade ends with, after any 101. */
async function closeOf(url: string, protocols: string[], send?: Uint8Array): Promise<{ code: number; reason: string }> {
  const wire = await Wire.open(url, protocols);
  if (send) wire.ws.send(send);
  await wire.closeCode(5000);
  return wire.closed ?? { code: 0, reason: 'still open' };
}

describe('v2.6 clock-skew recovery', () => {
  it('a flight stamped an hour early gets a sealed 4425 carrying the server time', async () => {
    const err = await connectV2(await opts('spec-stale', 'alice', { skewMs: -HOUR, clockOffsetMs: 0 })).catch((e) => e);
    expect(err).toBeInstanceOf(SpecClientError);
    expect(err.code).toBe(4425);
    expect(err.sealed?.code).toBe(4425);
    expect(Math.abs(Number(err.sealed.message) - Date.now())).toBeLessThan(5000);
  });

  it('the window is ±120 s: 110 s off joins at once, 130 s off gets 4425', async () => {
    for (const skewMs of [-110_000, 110_000]) {
      const s = await connectV2(await opts('spec-window', 'ann', { skewMs, clockOffsetMs: 0 }));
      expect(s.join?.message.case).toBe('join');
      await s.close();
    }
    for (const skewMs of [-130_000, 130_000]) {
      const err = await connectV2(await opts('spec-window', 'ann', { skewMs, clockOffsetMs: 0 })).catch((e) => e);
      expect(err.code).toBe(4425);
    }
  });

  it('the client retries once with the offset and joins (unbound and bound)', async () => {
    const s = await connectV2(await opts('spec-stale', 'alice', { skewMs: -HOUR }));
    expect(s.join?.message.case).toBe('join');
    await s.close();
    const kp = c.keygen('X-Wing', randomBytes(32));
    const claims = { pqPublicKey: c.b64u(kp.publicKey), pqAlgorithm: 'X-Wing', pqKeyExpiry: Math.floor(Date.now() / 1000) + 600 };
    const token = await env.proxy.token('spec-stale', 'bob', { grant: claims as object });
    const b = await connectV2(await opts('spec-stale', 'bob', { token, skewMs: HOUR, bound: { algorithm: 'X-Wing', ...kp } }));
    expect(b.join?.message.case).toBe('join');
    await b.close();
  });
});

it('v2.5: the same first flight sent twice joins once, then 4409', async () => {
  const f = firstFlight(await opts('spec-replay', 'carol'));
  const s = await finish(f, await Wire.open(f.url, f.protocols));
  expect(s.join?.message.case).toBe('join');
  const again = await closeOf(f.url, f.protocols);
  expect(again.code).toBe(4409);
  await s.close();
});

it('v2.9: a client still using a removed key gets 4421, refetches the document, and joins with the current key', async () => {
  const old = c.keygen('X-Wing', randomBytes(32)).publicKey;
  const removed = { ...env.key, publicKey: old, id: c.v2KeyId('X-Wing', old) };
  const s = await connectV2(await opts('spec-rotate', 'hal', { key: removed, wellKnownFrom: env.proxy.url }));
  expect(s.join?.message.case).toBe('join');
  await s.close();
});

it('v2.2: an upgrade URL path other than the sealed path is refused with 4400', async () => {
  const f = firstFlight(await opts('spec-path', 'dave'));
  expect((await closeOf(f.url.replace('/rtc?', '/rtc/v1?'), f.protocols)).code).toBe(4400);
});

it('v2.2: a URL query with anything besides one volly_early is refused with 4400', async () => {
  const f = firstFlight(await opts('spec-query', 'erin'));
  expect((await closeOf(`${f.url}&room=x`, f.protocols)).code).toBe(4400);
});

it('v2.2: an offer of volly-pq.v2 without the ClientHello value is refused with 4400 after a 101', async () => {
  const f = firstFlight(await opts('spec-nohello', 'frank'));
  expect((await closeOf(f.url, ['volly-pq.v2'])).code).toBe(4400);
});

it('v2.2: an unknown algorithm code in the ClientHello is refused with 4403', async () => {
  const f = firstFlight(await opts('spec-alg', 'gina'));
  const hello = c.fromB64u((f.protocols[1] as string).slice('volly-pq.v2.'.length));
  hello[1] = 0x07;
  expect((await closeOf(f.url, ['volly-pq.v2', `volly-pq.v2.${c.b64u(hello)}`])).code).toBe(4403);
});

describe('v1 URL rules', () => {
  it('token-bound without volly_sid is refused with 4400', async () => {
    const kp = c.keygen('ML-KEM-768', randomBytes(64));
    const claims = { pqPublicKey: c.b64u(kp.publicKey), pqAlgorithm: 'ML-KEM-768', pqKeyExpiry: Math.floor(Date.now() / 1000) + 600 };
    const token = await env.proxy.token('spec-v1', 'hank', { grant: claims as object });
    expect((await closeOf(`${env.proxy.wsUrl}/rtc?access_token=${token}`, ['volly-pq.v1'])).code).toBe(4400);
  });

  it('a URL token without PQ claims is refused with 4400', async () => {
    const token = await env.proxy.token('spec-v1', 'ivy');
    const sid = c.b64u(randomBytes(24));
    expect((await closeOf(`${env.proxy.wsUrl}/rtc?access_token=${token}&volly_sid=${sid}`, ['volly-pq.v1'])).code).toBe(4400);
  });

  it('in-band with any query parameter is refused with 4400', async () => {
    const kp = c.keygen('X-Wing', randomBytes(32));
    const hs = encodeHandshake('X-Wing', kp.publicKey, c.b64u(randomBytes(24)));
    expect((await closeOf(`${env.proxy.wsUrl}/rtc?join_request=x`, ['volly-pq.v1'], hs)).code).toBe(4400);
  });

  it('an algorithm name the server does not know is refused with 4403', async () => {
    const kp = c.keygen('X-Wing', randomBytes(32));
    const hs = encodeHandshake('x-wing', kp.publicKey, c.b64u(randomBytes(24)));
    expect((await closeOf(`${env.proxy.wsUrl}/rtc`, ['volly-pq.v1'], hs)).code).toBe(4403);
  });
});

describe('rules the document first left out (each fixed in PROTOCOL.md)', () => {
  it('v1: an access_token inside connect.query is replaced by the session token, never passed on', async () => {
    const intruder = await env.proxy.token('spec-other', 'intruder');
    const token = await env.proxy.token('spec-v1-query', 'jane');
    const s = await connectV1({ base: env.proxy.wsUrl, path: '/rtc', algorithm: 'X-Wing', token, query: `${QUERY}&access_token=${intruder}` });
    const join = s.join?.message.value as { participant?: { identity: string }; room?: { name: string } };
    expect([join.participant?.identity, join.room?.name]).toEqual(['jane', 'spec-v1-query']);
    await s.close();
  });

  it.each([
    ['an access_token parameter', `${QUERY}&access_token=x`, undefined],
    ['a space', `${QUERY}&x=a b`, undefined],
    ['a #', `${QUERY}#x`, undefined],
    ['a leading ?', `?${QUERY}`, undefined],
    ['an empty token', QUERY, ''],
  ])('v2: an early frame whose fields break v2.2 (%s) is refused 4400 before any ServerHello, and not registered', async (_what, query, token) => {
    const f = firstFlight(await opts('spec-fields', 'kim', { query, ...(token === undefined ? {} : { token }) }));
    const err = await finish(f, await Wire.open(f.url, f.protocols)).catch((e) => e);
    expect(err).toBeInstanceOf(SpecClientError);
    expect(err.code).toBe(4400);
    expect(err.sealed).toBeUndefined();
    // Not registered: the same flight again is refused for the same reason, not as a replay (4409).
    expect((await closeOf(f.url, f.protocols)).code).toBe(4400);
  });

  it('v2: the unsealed close reason is the code name after the ServerHello, a fixed text before it', async () => {
    const stale = await connectV2(await opts('spec-reason', 'lee', { skewMs: -HOUR, clockOffsetMs: 0 })).catch((e) => e);
    expect([stale.code, stale.closeReason]).toEqual([4425, 'StaleClock']);
    const bad = await connectV2(await opts('spec-reason', 'lee', { token: `${await env.proxy.token('spec-reason', 'lee')}x` })).catch((e) => e);
    expect([bad.code, bad.closeReason, bad.sealed?.code]).toEqual([4401, 'Unauthorized', 4401]);
    const noJoin = await env.proxy.token('spec-reason', 'lee', { grant: { roomJoin: false } });
    const up = await connectV2(await opts('spec-reason', 'lee', { token: noJoin })).catch((e) => e);
    expect([up.code, up.closeReason, up.sealed?.code]).toEqual([4502, 'Upstream', 401]);
    const f = firstFlight(await opts('spec-reason', 'lee'));
    await (await finish(f, await Wire.open(f.url, f.protocols))).close();
    expect(await closeOf(f.url, f.protocols)).toEqual({ code: 4409, reason: 'session id already used' });
  });

  it('v2: the document lives at the origin root only; an upgrade offering v1 and v2 is v2', async () => {
    expect((await fetch(`${env.proxy.url}/rtc/.well-known/volly-pq`)).status).toBe(404);
    const f = firstFlight(await opts('spec-both', 'max'));
    const s = await finish(f, await Wire.open(f.url, ['volly-pq.v1', ...f.protocols]));
    expect(s.wire.ws.protocol).toBe('volly-pq.v2');
    await s.close();
  });

  it('a proxy that does not serve v2: document 404, v2-only upgrade HTTP 403, v1+v2 upgrade taken as v1', async () => {
    const v1only = await startTestProxy(env.livekit, {});
    try {
      expect((await fetch(`${v1only.url}/.well-known/volly-pq`)).status).toBe(404);
      const f = firstFlight(await opts('spec-v1only', 'ned', { base: v1only.wsUrl }));
      const refused = await Wire.open(f.url, f.protocols).catch((e) => e);
      expect(refused.code).toBe(403);
      const w = await Wire.open(f.url, ['volly-pq.v1', ...f.protocols]);
      expect(w.ws.protocol).toBe('volly-pq.v1');
      expect(await w.closeCode(5000)).toBe(4400);
    } finally {
      await v1only.close();
    }
  });
});

it('v2 key confirmation: bound waits for it (sealed 4408 at the handshake timeout), unbound relays without it until idle', async () => {
  const p = await startTestProxy(env.livekit, { VOLLY_SERVER_KEYS: env.keyPath, VOLLY_HANDSHAKE_TIMEOUT_MS: '1500', VOLLY_IDLE_TIMEOUT_MS: '4000' });
  try {
    const kp = c.keygen('X-Wing', randomBytes(32));
    const claims = { pqPublicKey: c.b64u(kp.publicKey), pqAlgorithm: 'X-Wing', pqKeyExpiry: Math.floor(Date.now() / 1000) + 600 };
    const token = await p.token('spec-confirm', 'cleo', { grant: claims as object });
    const f = firstFlight({ base: p.wsUrl, path: '/rtc', query: QUERY, token, key: env.key });
    const err = await finish(f, await Wire.open(f.url, f.protocols), { algorithm: 'X-Wing', ...kp }, { confirm: false }).catch((e) => e);
    expect([err.code, err.sealed?.code, err.closeReason]).toEqual([4408, 4408, 'HandshakeTimeout']);
    const g = firstFlight({ base: p.wsUrl, path: '/rtc', query: QUERY, token: await p.token('spec-confirm', 'dora'), key: env.key });
    const s = await finish(g, await Wire.open(g.url, g.protocols), undefined, { confirm: false });
    expect(s.join?.message.case).toBe('join');
    // Past the handshake timeout it is still relayed; only the idle timeout ends it.
    await new Promise((r) => setTimeout(r, 2500));
    expect(s.wire.closed).toBeUndefined();
    expect(await s.wire.closeCode(6000)).toBe(4408);
  } finally {
    await p.close();
  }
});
