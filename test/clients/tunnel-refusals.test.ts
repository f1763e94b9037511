// What an unmodified SDK sees through `volly-pq tunnel` when things go wrong
// or change: a bad token gives @livekit/rtc-node the same 401 reason it gets
// from the proxy directly (the tunnel answers the upgrade and the SDK's
// validate request with the refusal the proxy sent sealed), and LiveKit's own
// refusals read exactly as from LiveKit directly; a token bound to
// a PQ key works when the tunnel holds that key and is refused, without being
// sent, when it does not; v1 pins (--server-key ML-DSA-65) let only the
// pinned proxy through; a dropped tunnel→proxy link is resumed by the SDK
// through a new PQ session, and signaling works after it.

import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { type Participant, Room, RoomEvent } from '@livekit/rtc-node';
import { getKem } from '@volly/shared';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { volly } from '../../proxy/test/run-cli.js';
import { kemKeyFile } from '../harness/key-files.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricSum } from '../harness/metrics.ts';
import { makeTempDir } from '../harness/process.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { token } from '../harness/tokens.ts';
import { startTunnel, startWireTap, type TestTunnel, v2ProxyEnv } from '../harness/tunnel.ts';
import { until } from '../harness/wait.ts';

let livekit: LiveKitServer;
let proxy: TestProxy;
let tunnel: TestTunnel;

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit, v2ProxyEnv());
  tunnel = await startTunnel(proxy);
});
afterAll(async () => {
  await tunnel?.close();
  await proxy?.close();
  await livekit?.stop();
});

/** The error Room.connect rejects with (fails the test if it connects). */
async function connectError(url: string, token: string): Promise<string> {
  const room = new Room();
  try {
    await room.connect(url, token, { autoSubscribe: false });
  } catch (err) {
    return (err as Error).message;
  } finally {
    await room.disconnect().catch(() => {});
  }
  throw new Error(`connected to ${url}`);
}

/** Status and body of an upgrade the tunnel refuses (as a WebSocket client reads them). */
function refusedUpgrade(url: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url);
    ws.on('open', () => reject(new Error('the upgrade succeeded')));
    ws.on('error', () => {});
    ws.on('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => {
        body += c.toString('utf8');
      });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
  });
}

const metric = async (t: TestTunnel | TestProxy, name: string, labels = '') => metricSum(await t.metrics(), name, labels);
const firstFlights = () => metric(proxy, 'volly_v2_first_flights_total');

describe('refusals through volly-pq tunnel', () => {
  it("a token signed with the wrong secret gives the SDK the proxy's 401 reason, read through validate", async () => {
    const forged = await token({ apiKey: proxy.apiKey, apiSecret: 'not-the-secret-not-the-secret-not-the-secret' }, 'tunnel-refused', 'mallory');
    const validated = await metric(tunnel, 'volly_tunnel_validate_total', 'result="failure"');
    const direct = await connectError(proxy.wsUrl, forged);
    const through = await connectError(tunnel.wsUrl, forged);
    expect(direct).toContain('401 Unauthorized - token signature invalid');
    expect(through).toBe(direct);
    expect(await metric(tunnel, 'volly_tunnel_validate_total', 'result="failure"')).toBe(validated + 1);
    expect(await metric(tunnel, 'volly_tunnel_failures_total', 'status="401"')).toBeGreaterThanOrEqual(1);
    // The upgrade itself is answered 401 with the reason, as LiveKit answers a refused upgrade.
    expect(await refusedUpgrade(`${tunnel.wsUrl}/rtc?access_token=${forged}`)).toEqual({ status: 401, body: 'token signature invalid' });
  });

  it.each([
    ['roomJoin: false', { roomJoin: false }],
    ['no room', { room: '' }],
  ])("LiveKit's own refusal (%s) reaches the SDK exactly as from LiveKit directly", async (_name, grant) => {
    const fromLiveKit = await connectError(livekit.url, await token(livekit, 'tunnel-refused', 'refused', { grant }));
    expect(fromLiveKit).toMatch(/client error: 40\d /);
    expect(await connectError(tunnel.wsUrl, await proxy.token('tunnel-refused', 'refused', { grant }))).toBe(fromLiveKit);
  });
});

/** The status of a raw upgrade request to the tunnel (no WebSocket client: headers as given). */
function upgradeStatus(path: string, headers: Record<string, string>): Promise<number> {
  return new Promise((resolve, reject) => {
    const r = request(`${tunnel.url}${path}`, { headers: { connection: 'Upgrade', upgrade: 'websocket', ...headers } });
    r.on('response', (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    r.on('upgrade', (_res, socket) => {
      socket.destroy();
      resolve(101);
    });
    r.on('error', reject);
    r.end();
  });
}

describe('upgrades the tunnel does not carry', () => {
  it('answers a malformed upgrade 400, a non-signaling path 404 and a plain GET /rtc 426, without a session to the proxy', async () => {
    const before = await firstFlights();
    const jwt = await proxy.token('tunnel-raw', 'raw');
    const key = { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };
    expect(await upgradeStatus(`/rtc?access_token=${jwt}`, {})).toBe(400);
    expect(await upgradeStatus(`/rtc?access_token=${jwt}`, { ...key, 'sec-websocket-version': '8' })).toBe(400);
    expect(await upgradeStatus(`/not-rtc?access_token=${jwt}`, key)).toBe(404);
    // Nor is a plain GET of a signaling URL forwarded: it would carry the token outside PQ.
    expect((await fetch(`${tunnel.url}/rtc?access_token=${jwt}`)).status).toBe(426);
    expect(await firstFlights()).toBe(before);
  });
});

describe('an SDK that goes away', () => {
  it('while its upgrade is held leaves no session at the tunnel, the proxy or LiveKit', async () => {
    const jwt = await proxy.token('tunnel-gone', 'gone');
    const key = { 'sec-websocket-key': 'dGhlIHNhbXBsZSBub25jZQ==', 'sec-websocket-version': '13' };
    const r = request(`${tunnel.url}/rtc?access_token=${jwt}`, { headers: { connection: 'Upgrade', upgrade: 'websocket', ...key } });
    r.on('error', () => {});
    r.end();
    // Gone as soon as the request is out: the PQ session is still being set up.
    await new Promise((resolve) => r.on('socket', (s) => s.on('connect', () => setTimeout(resolve, 5))));
    r.destroy();
    // Past the session's setup (tens of ms): a session left behind would be open by now, and stay for the proxy's 30 s timeout.
    await new Promise((resolve) => setTimeout(resolve, 3_000));
    const rooms = new RoomServiceClient(proxy.url, proxy.apiKey, proxy.apiSecret);
    await until(
      'no session left anywhere',
      async () =>
        (await metric(tunnel, 'volly_tunnel_sessions_active')) === 0 &&
        (await metric(proxy, 'volly_sessions_active')) === 0 &&
        (await rooms.listParticipants('tunnel-gone').catch(() => [])).length === 0,
      10_000,
    );
  });
});

describe('token-bound tokens through volly-pq tunnel', () => {
  const pair = getKem('X-Wing').keygen();
  const boundToken = () => proxy.token('tunnel-bound', 'bound-bot', { bind: { algorithm: 'X-Wing', publicKey: pair.publicKey } });

  it('joins when the tunnel holds the bound key (a bound v2 session at the proxy)', async () => {
    const holder = await startTunnel(proxy, { args: ['--bind-key', kemKeyFile('X-Wing', pair)] });
    const room = new Room();
    try {
      await room.connect(holder.wsUrl, await boundToken(), { autoSubscribe: false });
      expect(room.name).toBe('tunnel-bound');
      expect(await metric(holder, 'volly_tunnel_sessions_active', 'mode="bound"')).toBe(1);
      expect(await metric(proxy, 'volly_sessions_active', 'protocol="v2"')).toBe(1);
    } finally {
      await room.disconnect().catch(() => {});
      await holder.close();
    }
  });

  it('is refused with 401 before anything is sent when the tunnel does not hold the key', async () => {
    const before = await firstFlights();
    const message = await connectError(tunnel.wsUrl, await boundToken());
    expect(message).toContain('401 Unauthorized - the token is bound to a key this client does not hold');
    expect(await firstFlights()).toBe(before);
  });
});

describe('v1 server pins through volly-pq tunnel', () => {
  /** An ML-DSA-65 identity key made by `volly-pq keygen`; returns the full file and one with only the public key. */
  async function identityKey(dir: string, name: string): Promise<{ full: string; pin: string }> {
    const full = join(dir, `${name}.json`);
    expect((await volly(['keygen', '--algorithm', 'ML-DSA-65', '--out', full])).code).toBe(0);
    const { algorithm, publicKey } = JSON.parse(readFileSync(full, 'utf8')) as { algorithm: string; publicKey: string };
    const pin = join(dir, `${name}.pub.json`);
    writeFileSync(pin, JSON.stringify({ algorithm, publicKey }));
    return { full, pin };
  }

  it('joins v1 when the proxy signs with the pinned key, and refuses (4526, never the token) when it does not', async () => {
    const dir = makeTempDir('tunnel-pins');
    const [signing, other] = [await identityKey(dir, 'signing'), await identityKey(dir, 'other')];
    const signed = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: signing.full });
    const pinned = await startTunnel(signed, { protocol: 'v1', args: ['--server-key', signing.pin] });
    const wrong = await startTunnel(signed, { protocol: 'v1', args: ['--server-key', other.pin] });
    const room = new Room();
    try {
      await room.connect(pinned.wsUrl, await signed.token('tunnel-pinned', 'pinned'), { autoSubscribe: false });
      expect(room.name).toBe('tunnel-pinned');
      expect(await connectError(wrong.wsUrl, await signed.token('tunnel-pinned', 'unpinned'))).toMatch(/unknown|not pinned|server key/i);
      // The SDK retries on its own; every attempt failed the pin check, before the token was sealed.
      expect(await metric(wrong, 'volly_tunnel_failures_total', 'code="4526"')).toBeGreaterThanOrEqual(1);
      const rooms = new RoomServiceClient(signed.url, signed.apiKey, signed.apiSecret);
      expect((await rooms.listParticipants('tunnel-pinned')).map((p) => p.identity)).toEqual(['pinned']);
    } finally {
      await room.disconnect().catch(() => {});
      await Promise.all([pinned.close(), wrong.close()]);
      await signed.close();
    }
  });
});

describe('resume through volly-pq tunnel', () => {
  it('a dropped tunnel→proxy link is resumed by the SDK through a new PQ session', async () => {
    const tap = await startWireTap(proxy);
    const tapped = await startTunnel(tap.proxy);
    const [alice, bob] = [new Room(), new Room()];
    try {
      const grant = { canUpdateOwnMetadata: true };
      const refreshed = await metric(proxy, 'volly_token_rewrites_total', 'refresh_token');
      await alice.connect(tapped.wsUrl, await proxy.token('tunnel-resume', 'alice', { grant }), { autoSubscribe: false });
      // LiveKit refreshes alice's token right after her join: it reaches the SDK sealed, re-signed by the proxy.
      await until('a refreshed token for alice', async () => (await metric(proxy, 'volly_token_rewrites_total', 'refresh_token')) > refreshed, 10_000);
      await bob.connect(proxy.wsUrl, await proxy.token('tunnel-resume', 'bob'), { autoSubscribe: false });
      const sid = alice.localParticipant?.sid;
      const links = tap.connections;
      const ended = await metric(tapped, 'volly_tunnel_sessions_total');
      expect(await metric(tapped, 'volly_tunnel_reconnects_total')).toBe(0);

      tap.cut();
      await until(
        'the SDK to come back through a new PQ session',
        async () => tap.connections > links && (await metric(tapped, 'volly_tunnel_sessions_active')) === 1,
        30_000,
      );
      expect(await metric(tapped, 'volly_tunnel_sessions_total')).toBe(ended + 1);
      expect(await metric(tapped, 'volly_tunnel_reconnects_total')).toBe(1);

      // The same participant (a resume, not a new join), and signaling works: a metadata update reaches bob.
      const rooms = new RoomServiceClient(proxy.url, proxy.apiKey, proxy.apiSecret);
      expect((await rooms.listParticipants('tunnel-resume')).find((p) => p.identity === 'alice')?.sid).toBe(sid);
      const seen = new Promise<string>((resolve) =>
        bob.on(RoomEvent.ParticipantMetadataChanged, (metadata: string | undefined, p: Participant) => p.identity === 'alice' && resolve(metadata ?? '')),
      );
      await alice.localParticipant?.updateMetadata('resumed');
      expect(await Promise.race([seen, new Promise((_, no) => setTimeout(() => no(new Error('no metadata update after the resume')), 10_000))])).toBe(
        'resumed',
      );
    } finally {
      await alice.disconnect().catch(() => {});
      await bob.disconnect().catch(() => {});
      await tapped.close();
      await tap.close();
    }
  });
});
