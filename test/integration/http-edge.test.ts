// The proxy's plain-HTTP edge in front of the real LiveKit (issue 12 items
// 2, 4, 5, 15): a PQ-bound token is refused on every HTTP path whatever
// carries it, and LiveKit never sees it; a client token in a query or form is
// re-signed, never forwarded as is; only LiveKit's documented surface is
// forwarded; LiveKit's replies are token-redacted; and every reply the proxy
// writes itself carries the CORS headers LiveKit puts on its own.

import { ParticipantInfo_State } from '@livekit/protocol';
import { getKem } from '@volly/shared';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricSum } from '../harness/metrics.ts';
import { getFreePort } from '../harness/ports.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { WHIP_OFFER } from './whip-offer.ts';

let livekit: LiveKitServer;
let proxy: TestProxy;
/** LiveKit's own RoomService with the upstream key: what LiveKit really has. */
let direct: RoomServiceClient;

beforeAll(async () => {
  livekit = await startLiveKit();
  [proxy, direct] = [await startTestProxy(livekit), new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret)];
});
afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
});

let n = 0;
const roomName = (what: string) => `${what}-${++n}-${Date.now().toString(36)}`;
const ORIGIN = 'http://app.other-origin.test';
const ADMIN = { roomJoin: true, roomAdmin: true, roomList: true, roomCreate: true, canPublish: true, canSubscribe: true };

const joined = async (room: string) =>
  (await direct.listParticipants(room).catch(() => [])).filter((p) => p.state !== ParticipantInfo_State.DISCONNECTED).map((p) => p.identity);

/** volly_http_forwarded_total summed over routes: requests that reached LiveKit. */
async function forwarded(p: TestProxy): Promise<number> {
  return metricSum(await p.metrics(), 'volly_http_forwarded_total');
}

type Carrier = 'bearer' | 'query' | 'form';
/** A request to `path` carrying `token` the way `carrier` says (form: a urlencoded body, as LiveKit's FormValue reads). */
function send(base: string, method: string, path: string, token: string, carrier: Carrier, body?: string, type?: string): Promise<Response> {
  const headers: Record<string, string> = { origin: ORIGIN };
  let url = `${base}${path}`;
  if (carrier === 'bearer') headers.authorization = `Bearer ${token}`;
  if (carrier === 'query') url += `${path.includes('?') ? '&' : '?'}access_token=${token}`;
  if (carrier === 'form') {
    headers['content-type'] = 'application/x-www-form-urlencoded';
    body = new URLSearchParams({ access_token: token }).toString();
  } else if (type) headers['content-type'] = type;
  return fetch(url, { method, headers, body: method === 'GET' ? undefined : body });
}

/** The CORS-relevant headers of a reply, for comparing the proxy with LiveKit. */
const cors = (r: Response) =>
  Object.fromEntries([...r.headers].filter(([k]) => k.startsWith('access-control-') || k === 'vary').map(([k, v]) => [k, k === 'vary' ? v.toLowerCase() : v]));

describe('PQ-bound tokens over plain HTTP', () => {
  it('are refused with 401 on validate, Twirp and WHIP, as Bearer, query or form; nothing reaches LiveKit', async () => {
    const room = roomName('bound-http');
    const kp = getKem('ML-KEM-768').keygen();
    const bound = await proxy.token(room, 'mallory', { bind: { algorithm: 'ML-KEM-768', publicKey: kp.publicKey }, grant: ADMIN });
    const cases: [string, string, Carrier, string?, string?][] = [
      ['GET', '/rtc/validate', 'query'],
      ['GET', '/rtc/v1/validate', 'query'],
      ['GET', '/rtc/v1/validate', 'bearer'],
      ['POST', '/twirp/livekit.RoomService/ListParticipants', 'bearer', JSON.stringify({ room }), 'application/json'],
      ['POST', '/twirp/livekit.RoomService/ListParticipants', 'query', JSON.stringify({ room }), 'application/json'],
      ['POST', '/twirp/livekit.RoomService/ListParticipants', 'form'],
      ['POST', '/whip/v1', 'bearer', WHIP_OFFER, 'application/sdp'],
      ['POST', '/whip/v1', 'query', WHIP_OFFER, 'application/sdp'],
      ['POST', '/whip/v1', 'form'],
      ['DELETE', '/whip/v1/PA_someone', 'bearer'],
    ];
    const before = await forwarded(proxy);
    for (const [method, path, carrier, body, type] of cases) {
      const r = await send(proxy.url, method, path, bound, carrier, body, type);
      const text = await r.text();
      expect(r.status, `${method} ${path} (${carrier}): ${text}`).toBe(401);
      expect(text, `${method} ${path} (${carrier})`).toMatch(/bound to a post-quantum key/);
    }
    expect(await forwarded(proxy)).toBe(before);
    expect(await joined(room)).toEqual([]);
  });

  it('the same WHIP offer with an unbound token is re-signed and joins (the refusal above is the binding, not the request)', async () => {
    const room = roomName('whip-ok');
    const r = await send(proxy.url, 'POST', '/whip/v1', await proxy.token(room, 'walter'), 'bearer', WHIP_OFFER, 'application/sdp');
    expect(r.status, await r.clone().text()).toBe(201);
    expect(await r.text()).toMatch(/^v=0/);
    expect(await joined(room)).toEqual(['walter']);
    await direct.removeParticipant(room, 'walter').catch(() => undefined);
  });
});

describe('client tokens in queries and forms', () => {
  it('an access_token query on Twirp is verified and re-signed (LiveKit holds only the upstream key)', async () => {
    const room = roomName('query-twirp');
    await direct.createRoom({ name: room });
    const good = await proxy.token(room, 'quinn', { grant: ADMIN });
    const ok = await send(proxy.url, 'POST', '/twirp/livekit.RoomService/ListRooms', good, 'query', '{}', 'application/json');
    expect(ok.status, await ok.clone().text()).toBe(200);
    expect(((await ok.json()) as { rooms: { name: string }[] }).rooms.map((x) => x.name)).toContain(room);
    // The same client token straight at LiveKit is refused: it never had to see it.
    const bypass = await send(livekit.url, 'POST', '/twirp/livekit.RoomService/ListRooms', good, 'query', '{}', 'application/json');
    expect(bypass.status).toBe(401);
    // A forged query token is refused by the proxy, and nothing is forwarded.
    const before = await forwarded(proxy);
    const forged = new AccessToken(proxy.apiKey, 'f'.repeat(40), { identity: 'quinn' });
    forged.addGrant(ADMIN);
    const bad = await send(proxy.url, 'POST', '/twirp/livekit.RoomService/ListRooms', await forged.toJwt(), 'query', '{}', 'application/json');
    expect(bad.status).toBe(401);
    expect(await forwarded(proxy)).toBe(before);
  });

  it('a token in a form body is re-signed too: LiveKit accepts it past authentication', async () => {
    const room = roomName('form-whip');
    // WHIP with a form body: LiveKit's auth middleware (which answers 401 to a client-key token)
    // passes the re-signed one, then the WHIP handler refuses the content type.
    const r = await send(proxy.url, 'POST', '/whip/v1', await proxy.token(room, 'fiona'), 'form');
    expect(r.status, await r.clone().text()).toBe(400);
    expect(await r.text()).toMatch(/unsupported content-type/);
    // Multipart forms (also read by LiveKit's FormValue) are refused outright.
    const before = await forwarded(proxy);
    const mp = await fetch(`${proxy.url}/whip/v1`, {
      method: 'POST',
      body: (() => {
        const f = new FormData();
        f.set('access_token', 'x');
        return f;
      })(),
    });
    expect(mp.status).toBe(415);
    expect(await forwarded(proxy)).toBe(before);
  });
});

describe('the forwarded surface', () => {
  it('only LiveKit’s documented routes reach LiveKit; the rest is 404 from the proxy', async () => {
    const before = await forwarded(proxy);
    const t = await proxy.token('any', 'una', { grant: ADMIN });
    for (const [method, path] of [
      ['GET', '/debug/rooms'],
      ['GET', '/rtc'],
      ['GET', '/rtc/v1'],
      ['GET', '/agent'],
      ['GET', '/metrics'],
      ['POST', '/twirp/other.Service/Method'],
      ['GET', '/twirp/livekit.RoomService/ListRooms'],
      ['POST', '/whip/v2'],
      ['PUT', '/whip/v1'],
      ['GET', '/rtc/validate/'],
      ['GET', '/x/../debug/rooms'],
      ['GET', '/%2e%2e/debug'],
    ]) {
      const r = await fetch(`${proxy.url}${path}`, { method, headers: { authorization: `Bearer ${t}`, origin: ORIGIN } });
      expect(r.status, `${method} ${path}`).toBe(404);
    }
    expect(await forwarded(proxy)).toBe(before);
    // LiveKit's health reply and a CORS preflight go through, exactly as LiveKit answers them.
    const health = await fetch(`${proxy.url}/`);
    expect([health.status, await health.text()]).toEqual([200, 'OK']);
    const preflight = {
      method: 'OPTIONS',
      headers: { origin: ORIGIN, 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization,content-type' },
    };
    const viaProxy = await fetch(`${proxy.url}/twirp/livekit.RoomService/ListRooms`, preflight);
    const atLiveKit = await fetch(`${livekit.url}/twirp/livekit.RoomService/ListRooms`, preflight);
    expect(viaProxy.status).toBe(atLiveKit.status);
    expect(cors(viaProxy)).toEqual(cors(atLiveKit));
    expect(await forwarded(proxy)).toBe(before + 2);
  });

  it('LiveKit’s replies on Twirp and WHIP are token-redacted, not only validate’s', async () => {
    // LiveKit does not hold this proxy's upstream secret: its 401 quotes the re-signed token it got.
    const wrong = await startTestProxy(livekit, { VOLLY_UPSTREAM_SECRET: 'w'.repeat(43) });
    try {
      const t = await wrong.token(roomName('redact'), 'rita', { grant: ADMIN });
      const atLiveKit = await send(livekit.url, 'POST', '/twirp/livekit.RoomService/ListRooms', t, 'bearer', '{}', 'application/json');
      expect(await atLiveKit.text()).toMatch(/invalid (token|API key)/);
      for (const [method, path, body, type] of [
        ['POST', '/twirp/livekit.RoomService/ListRooms', '{}', 'application/json'],
        ['POST', '/whip/v1', WHIP_OFFER, 'application/sdp'],
      ] as const) {
        const r = await send(wrong.url, method, path, t, 'bearer', body, type);
        const text = await r.text();
        expect(r.status, text).toBe(401);
        expect(text).toMatch(/invalid token: \[token\]/);
        expect(text).not.toMatch(/eyJ/);
      }
    } finally {
      await wrong.close();
    }
  });
});

describe('CORS on the proxy’s own replies', () => {
  it('each refusal carries the same CORS headers as LiveKit’s refusal of the same request', async () => {
    const strict = await startTestProxy(livekit, { VOLLY_PQ_POLICY: 'require' });
    const room = roomName('cors');
    const kp = getKem('X-Wing').keygen();
    const bound = await proxy.token(room, 'cora', { bind: { algorithm: 'X-Wing', publicKey: kp.publicKey } });
    const forged = new AccessToken(proxy.apiKey, 'z'.repeat(40), { identity: 'cora' });
    forged.addGrant({ roomJoin: true, room });
    const bad = await forged.toJwt();
    const h = { origin: ORIGIN };
    const cases: [string, string, RequestInit, number][] = [
      ['policy require (validate)', `/rtc/v1/validate?access_token=${await strict.token(room, 'cora')}`, { headers: h }, 403],
      ['bad token (validate)', `/rtc/v1/validate?access_token=${bad}`, { headers: h }, 401],
      ['bound token (validate)', `/rtc/v1/validate?access_token=${bound}`, { headers: h }, 401],
      [
        'bad token (Twirp)',
        '/twirp/livekit.RoomService/ListRooms',
        { method: 'POST', headers: { ...h, authorization: `Bearer ${bad}`, 'content-type': 'application/json' }, body: '{}' },
        401,
      ],
      ['unknown path', '/nothing/here', { headers: h }, 404],
    ];
    for (const [what, path, init, status] of cases) {
      const base = what.startsWith('policy') ? strict.url : proxy.url;
      const viaProxy = await fetch(`${base}${path}`, init);
      const atLiveKit = await fetch(`${livekit.url}${path}`, init);
      expect(viaProxy.status, what).toBe(status);
      expect(atLiveKit.status, what).toBeGreaterThanOrEqual(400);
      expect(cors(viaProxy), what).toEqual(cors(atLiveKit));
      expect(viaProxy.headers.get('access-control-allow-origin'), what).toBeTruthy();
    }
    await strict.close();
  });

  it('a 502 (LiveKit unreachable) carries them too, `*` on validate as LiveKit would', async () => {
    const gone = await startTestProxy(livekit, { VOLLY_UPSTREAM_URL: `http://127.0.0.1:${await getFreePort()}` });
    try {
      const v = await fetch(`${gone.url}/rtc/v1/validate?access_token=${await gone.token('r', 'gus')}`, { headers: { origin: ORIGIN } });
      expect(v.status).toBe(502);
      expect(cors(v)).toEqual({ 'access-control-allow-origin': '*', 'access-control-expose-headers': '*', vary: 'origin' });
      const t = await fetch(`${gone.url}/`, { headers: { origin: ORIGIN } });
      expect(t.status).toBe(502);
      expect(t.headers.get('access-control-allow-origin')).toBe(ORIGIN);
    } finally {
      await gone.close();
    }
  });
});
