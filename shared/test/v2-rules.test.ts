/**
 * The replay and clock rules of volly-pq.v2 as pure functions, the in-memory
 * register, and the size arithmetic of the first flight with a real
 * livekit-server-sdk token and a livekit-client-shaped /rtc/v1 join_request:
 * every request and header line must fit nginx's default 8 KB buffer.
 */
import { AccessToken } from 'livekit-server-sdk';
import { describe, expect, test } from 'vitest';
import { addPqClaims, getKem, KEM_ALGORITHMS, randomBytes, v2 } from '../src/index.js';
import { client, livekitJoinQuery, serverKeyPair } from './v2-helpers.js';

describe('timestamp window', () => {
  test('±120 s inclusive is fresh, one millisecond more is stale', () => {
    const now = 1_767_225_600_000;
    for (const d of [0, 120_000, -120_000]) expect(v2.checkTimestamp(now + d, now)).toBe('fresh');
    for (const d of [120_001, -120_001]) expect(v2.checkTimestamp(now + d, now)).toBe('stale');
    expect(v2.checkTimestamp(now + 5_000, now, 1_000)).toBe('stale');
  });

  test('the register keeps an id until its timestamp leaves the window', () => {
    const ts = 1_000_000;
    expect(v2.registerExpiry(ts)).toBe(ts + 120_001);
    expect(v2.checkTimestamp(ts, v2.registerExpiry(ts))).toBe('stale');
    expect(v2.checkTimestamp(ts, v2.registerExpiry(ts) - 1)).toBe('fresh');
    expect(v2.clockOffset(10_000, 7_000)).toBe(3_000);
  });
});

describe('MemorySessionRegister', () => {
  test('claims once, forgets after expiry, fails closed when full', () => {
    let now = 0;
    const register = new v2.MemorySessionRegister(() => now, 2);
    const a = randomBytes(16);
    expect(register.claim(a, 1_000)).toBe(true);
    expect(register.claim(a.slice(), 1_000)).toBe(false);
    expect(register.claim(randomBytes(16), 1_000)).toBe(true);
    expect(() => register.claim(randomBytes(16), 1_000)).toThrow(v2.V2Error);
    now = 1_000;
    expect(register.claim(a, 2_000)).toBe(true);
    expect(register.size).toBe(1);
  });
});

/** A realistic LiveKit token: identity, name, metadata, room grant, as the server SDK makes it. */
async function token(bound?: { algorithm: 'X-Wing' | 'ML-KEM-768' }): Promise<string> {
  const at = new AccessToken('APIvolly0000001', 'secret-secret-secret-secret-secret-0000', {
    identity: 'participant-6c1f0a2e-4b7d-4e19-9a55-0d3c8b2f7e11',
    name: 'Alice Example',
    metadata: JSON.stringify({ role: 'speaker', avatar: 'https://cdn.example.com/a/6c1f0a2e.png' }),
    ttl: '10m',
  });
  at.addGrant({ room: 'standup-2026-11-29-engineering', roomJoin: true, canPublish: true, canSubscribe: true, canPublishData: true });
  if (bound) addPqClaims(at, { algorithm: bound.algorithm, publicKey: getKem(bound.algorithm).keygen().publicKey });
  return at.toJwt();
}

describe.each(KEM_ALGORITHMS)('first flight sizes, %s', (algorithm) => {
  const pair = serverKeyPair(algorithm);
  const cases = [
    { name: 'unbound token, join with publisher offer', bound: false, offer: true },
    { name: 'unbound token, join without offer', bound: false, offer: false },
    { name: 'bound token, join with publisher offer', bound: true, offer: true },
  ];

  test.each(cases)('$name: the arithmetic matches the real flight and both lines fit 8 KB', async ({ bound, offer }) => {
    const accessToken = await token(bound ? { algorithm } : undefined);
    const query = livekitJoinQuery(offer);
    const c = client(pair.key, Date.now, { connect: { path: '/rtc/v1', query, accessToken } });
    const flight = c.start();
    const requestLine = `GET /rtc/v1?${flight.query} HTTP/1.1\r\n`;
    const protocolLine = `Sec-WebSocket-Protocol: ${flight.protocols.join(', ')}\r\n`;
    expect(flight.sizes).toEqual({
      clientHello: v2.clientHelloLength(algorithm),
      earlyFrame: v2.readFirstFlight(flight.protocols, flight.query).earlyFrame.length,
      protocolLine: protocolLine.length,
      requestLine: requestLine.length,
    });
    expect(flight.sizes.earlyFrame).toBe(17 + 8 + 6 + '/rtc/v1'.length + query.length + accessToken.length);
    expect(requestLine.length).toBeLessThanOrEqual(v2.MAX_HEADER_LINE);
    expect(protocolLine.length).toBeLessThanOrEqual(v2.MAX_HEADER_LINE);
    // The numbers docs/PROTOCOL.md quotes (printed for the record).
    console.log(
      `${algorithm} ${bound ? 'bound' : 'unbound'} offer=${offer}: token ${accessToken.length} B, query ${query.length} B, early frame ${flight.sizes.earlyFrame} B, request line ${requestLine.length} B, protocol line ${protocolLine.length} B`,
    );
  });

  test('over the limit: the client refuses before anything is sent (ERR_V2_TOO_LARGE, 1009)', async () => {
    const accessToken = await token();
    const fits = v2.firstFlightSizes(algorithm, '/rtc/v1', 8 + 6 + 7 + accessToken.length);
    // The largest query that still fits, and one byte more.
    const room = Math.floor(((v2.MAX_HEADER_LINE - fits.requestLine + v2.base64UrlLength(fits.earlyFrame)) * 3) / 4) - fits.earlyFrame;
    const at = (n: number) => client(pair.key, Date.now, { connect: { path: '/rtc/v1', query: `x=${'a'.repeat(n - 2)}`, accessToken } });
    expect(at(room).start().sizes.requestLine).toBeLessThanOrEqual(v2.MAX_HEADER_LINE);
    const over = at(room + 1);
    let caught: unknown;
    try {
      over.start();
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'ERR_V2_TOO_LARGE', closeCode: 1009 });
    expect(over.state).toBe('failed');
  });
});

test('base64url length arithmetic', () => {
  for (let n = 0; n < 40; n++) expect(v2.base64UrlLength(n)).toBe(Buffer.from(new Uint8Array(n)).toString('base64url').length);
});
