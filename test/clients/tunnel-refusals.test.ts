// What an unmodified SDK sees through `volly-pq tunnel` when things go wrong
// or change: a bad token gives @livekit/rtc-node the same 401 reason it gets
// from the proxy directly (the tunnel answers the upgrade and the SDK's
// validate request with the refusal the proxy sent sealed); a token bound to
// a PQ key works when the tunnel holds that key and is refused, without being
// sent, when it does not; a dropped tunnel→proxy link is resumed by the SDK
// through a new PQ session, and signaling works after it.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type Participant, Room, RoomEvent } from '@livekit/rtc-node';
import { getKem, toBase64Url } from '@volly/shared';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { until } from '../harness/wait.ts';
import { sumMetric } from '../harness/leaks.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { makeTempDir } from '../harness/process.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { startTunnel, startWireTap, type TestTunnel, v2ProxyEnv } from '../harness/tunnel.ts';

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

const metric = async (t: TestTunnel | TestProxy, name: string, labels = '') => sumMetric(await t.metrics(), name, labels);
const firstFlights = () => metric(proxy, 'volly_v2_first_flights_total');

describe('refusals through volly-pq tunnel', () => {
  it("a token signed with the wrong secret gives the SDK the proxy's 401 reason, read through validate", async () => {
    const forged = new AccessToken(proxy.apiKey, 'not-the-secret-not-the-secret-not-the-secret', { identity: 'mallory' });
    forged.addGrant({ roomJoin: true, room: 'tunnel-refused' });
    const token = await forged.toJwt();
    const validated = await metric(tunnel, 'volly_tunnel_validate_total', 'result="failure"');
    const direct = await connectError(proxy.wsUrl, token);
    const through = await connectError(tunnel.wsUrl, token);
    expect(direct).toContain('401 Unauthorized - token signature invalid');
    expect(through).toBe(direct);
    expect(await metric(tunnel, 'volly_tunnel_validate_total', 'result="failure"')).toBe(validated + 1);
    expect(await metric(tunnel, 'volly_tunnel_failures_total', 'status="401"')).toBeGreaterThanOrEqual(1);
  });
});

describe('token-bound tokens through volly-pq tunnel', () => {
  const pair = getKem('X-Wing').keygen();
  const boundToken = () => proxy.token('tunnel-bound', 'bound-bot', { bind: { algorithm: 'X-Wing', publicKey: pair.publicKey } });

  it('joins when the tunnel holds the bound key (a bound v2 session at the proxy)', async () => {
    const file = join(makeTempDir('tunnel-bind'), 'bound.json');
    writeFileSync(file, JSON.stringify({ algorithm: 'X-Wing', publicKey: toBase64Url(pair.publicKey), secretKey: toBase64Url(pair.secretKey) }), {
      mode: 0o600,
    });
    const holder = await startTunnel(proxy, { args: ['--bind-key', file] });
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

describe('resume through volly-pq tunnel', () => {
  it('a dropped tunnel→proxy link is resumed by the SDK through a new PQ session', async () => {
    const tap = await startWireTap(proxy);
    const tapped = await startTunnel(tap.proxy);
    const [alice, bob] = [new Room(), new Room()];
    try {
      const grant = { canUpdateOwnMetadata: true };
      await alice.connect(tapped.wsUrl, await proxy.token('tunnel-resume', 'alice', { grant }), { autoSubscribe: false });
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
