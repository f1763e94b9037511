// The drop-in URL swap: the unmodified livekit-client (no installPqWebSocket)
// pointed at the proxy instead of LiveKit, under the default `prefer` policy.
// One page publishes the fake camera and microphone, a second page (also
// without the shim) receives and decodes them, and the proxy's /metrics count
// both as classical sessions. Then livekit-server-sdk's RoomServiceClient,
// pointed at the proxy's HTTP URL with the client key, manages the room those
// pages are in: createRoom, listRooms, listParticipants, mutePublishedTrack,
// deleteRoom (which disconnects the pages).

import { RoomServiceClient, TrackType } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricSum } from '../harness/metrics.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { type E2E, startE2E, type TestPage } from '../harness/test-page.ts';
import { until } from '../harness/wait.ts';
import type { TrackStats } from './page/app.ts';

let livekit: LiveKitServer;
let proxy: TestProxy;
let e2e: E2E;
const suiteStarted = Date.now();

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit);
  e2e = await startE2E();
});

afterAll(async () => {
  await e2e?.close();
  await proxy?.close();
  await livekit?.stop();
  process.stderr.write(`[e2e] plain-client suite took ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s\n`);
});

async function receiving(page: TestPage, from: string): Promise<Record<string, TrackStats> | undefined> {
  const out: Record<string, TrackStats> = {};
  for (const s of await page.stats()) if (s.from === from) out[s.kind] = s;
  return out.audio && out.video && out.video.decoded > 0 && out.audio.bytesReceived > 0 ? out : undefined;
}

describe('unmodified livekit-client and livekit-server-sdk through the proxy (prefer)', () => {
  const room = 'plain-room';
  let pub: TestPage;
  let sub: TestPage;

  it('two pages without the shim meet through the proxy: media flows and the proxy counts classical sessions', async () => {
    const t0 = Date.now();
    const before = await proxy.metrics();
    pub = await e2e.open('pub');
    sub = await e2e.open('sub');
    const [jp, js] = await Promise.all([
      pub.join({ url: proxy.wsUrl, mode: 'direct', token: await proxy.token(room, 'pub'), publish: true }),
      sub.join({ url: proxy.wsUrl, mode: 'direct', token: await proxy.token(room, 'sub') }),
    ]);
    expect(jp, pub.console.join('\n')).toMatchObject({ ok: true, room });
    expect(js, sub.console.join('\n')).toMatchObject({ ok: true, room });

    // No shim: nothing went through PqWebSocket; the signaling socket went to the proxy.
    for (const p of [pub, sub]) {
      expect((await p.snapshot()).sockets).toHaveLength(0);
      expect(p.net.websockets.some((u) => u.startsWith(`${proxy.wsUrl}/rtc`))).toBe(true);
    }

    const got = await until('sub to decode audio and video from pub', () => receiving(sub, 'pub'), 30_000);
    await until(
      'the media to keep flowing',
      async () => {
        const r = await receiving(sub, 'pub');
        return r && (r.video?.decoded ?? 0) > (got.video?.decoded ?? 0) && (r.audio?.bytesReceived ?? 0) > (got.audio?.bytesReceived ?? 0);
      },
      20_000,
    );

    const during = await proxy.metrics();
    const active = (t: string) => metricSum(t, 'volly_sessions_active', { mode: 'classical' });
    expect(active(during) - active(before)).toBe(2);
    expect(metricSum(during, 'volly_sessions_active', { mode: 'pq' })).toBe(0);
    process.stderr.write(`[e2e] plain-client: media flowing through the proxy in ${Date.now() - t0} ms\n`);
  });

  it('RoomServiceClient through the proxy: createRoom, listRooms, listParticipants, mutePublishedTrack, deleteRoom', async () => {
    expect(pub, 'needs the previous test').toBeDefined();
    const t0 = Date.now();
    const svc = new RoomServiceClient(proxy.url, proxy.apiKey, proxy.apiSecret);

    const created = await svc.createRoom({ name: 'svc-made', emptyTimeout: 60 });
    expect(created.name).toBe('svc-made');
    const rooms = (await svc.listRooms()).map((r) => r.name);
    expect(rooms).toEqual(expect.arrayContaining(['svc-made', room]));

    const parts = await svc.listParticipants(room);
    expect(parts.map((p) => p.identity).sort()).toEqual(['pub', 'sub']);
    const video = parts.find((p) => p.identity === 'pub')?.tracks.find((t) => t.type === TrackType.VIDEO);
    expect(video?.sid).toBeTruthy();
    expect(video?.muted).toBe(false);

    const muted = await svc.mutePublishedTrack(room, 'pub', video?.sid as string, true);
    expect(muted.muted).toBe(true);
    await until(
      "pub's video to show as muted in the room",
      async () => (await svc.getParticipant(room, 'pub')).tracks.find((t) => t.sid === video?.sid)?.muted === true,
      10_000,
    );

    // A key the proxy does not know is refused.
    await expect(new RoomServiceClient(proxy.url, 'APIunknown', 'x'.repeat(32)).listRooms()).rejects.toThrow();

    await svc.deleteRoom(room);
    await svc.deleteRoom('svc-made');
    for (const p of [pub, sub]) {
      await until(`${p.name} to be disconnected by deleteRoom`, async () => (await p.snapshot()).state === 'disconnected', 15_000);
    }
    expect((await svc.listRooms()).map((r) => r.name)).not.toContain(room);

    const after = await until(
      'the classical sessions to end',
      async () => {
        const t = await proxy.metrics();
        return metricSum(t, 'volly_sessions_active', { mode: 'classical' }) === 0 ? t : undefined;
      },
      10_000,
    );
    expect(metricSum(after, 'volly_sessions_total', { mode: 'classical' })).toBeGreaterThanOrEqual(2);
    expect(metricSum(after, 'volly_sessions_total', { mode: 'pq' })).toBe(0);
    process.stderr.write(`[e2e] plain-client: room service calls done in ${Date.now() - t0} ms\n`);
  });
});
