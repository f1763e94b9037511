// `volly-pq tunnel` with an unmodified SDK: @livekit/rtc-node (LiveKit's Rust
// SDK, which no JavaScript shim reaches) joins through the tunnel with v2 and
// with v1, publishes a tone a second rtc-node participant hears, and the
// proxy counts both as PQ sessions of that protocol, never classical. A wire
// tap between tunnel and proxy sees neither token, identity, room name nor
// SDP. A v2 key given with --server-key is used without the document, and a
// key the proxy does not hold fails closed. Twirp goes through unchanged.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  AudioFrame,
  AudioSource,
  AudioStream,
  LocalAudioTrack,
  type RemoteTrack,
  Room,
  RoomEvent,
  TrackKind,
  TrackPublishOptions,
  TrackSource,
} from '@livekit/rtc-node';
import { getKem, toBase64Url } from '@volly/shared';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricSum } from '../harness/metrics.ts';
import { makeTempDir } from '../harness/process.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { startTunnel, startWireTap, tunnelLog, v2ProxyEnv } from '../harness/tunnel.ts';
import { until } from '../harness/wait.ts';

const RATE = 48_000;
const FRAME = RATE / 100;

let livekit: LiveKitServer;
let proxy: TestProxy;

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit, v2ProxyEnv());
});
afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
});

const active = (metrics: string, labels: Record<string, string>) => metricSum(metrics, 'volly_sessions_active', labels);

/** Feeds a 440 Hz half-scale sine until stopped. */
function feedTone(source: AudioSource): () => Promise<void> {
  let on = true;
  const done = (async () => {
    for (let n = 0; on; ) {
      const data = new Int16Array(FRAME);
      for (let i = 0; i < FRAME; i++, n++) data[i] = Math.round(16_000 * Math.sin((2 * Math.PI * 440 * n) / RATE));
      await source.captureFrame(new AudioFrame(data, RATE, 1, FRAME));
    }
  })();
  return async () => {
    on = false;
    await done.catch(() => {});
  };
}

/** RMS of half a second of audio after the first half second (Opus and the jitter buffer settle). */
async function loudness(track: RemoteTrack): Promise<number> {
  const reader = new AudioStream(track, RATE, 1).getReader();
  let seen = 0;
  let n = 0;
  let sumSq = 0;
  const deadline = Date.now() + 20_000;
  while (n < RATE / 2) {
    if (Date.now() > deadline) throw new Error('no audio within 20 s');
    const { value: frame, done } = await reader.read();
    if (done || !frame) throw new Error('the audio stream ended');
    seen += frame.samplesPerChannel;
    if (seen < RATE / 2) continue;
    for (const s of frame.data) {
      sumSq += s * s;
      n++;
    }
  }
  reader.releaseLock();
  return Math.sqrt(sumSq / n);
}

describe.each(['v2', 'v1'] as const)('@livekit/rtc-node through volly-pq tunnel (%s)', (protocol) => {
  it('joins, publishes a tone the other participant hears, counted as PQ; the wire shows nothing in clear', async () => {
    const tap = await startWireTap(proxy);
    const tunnel = await startTunnel(tap.proxy, { protocol });
    const roomName = `tunnel-room-${protocol}`;
    const [speaker, listener] = [new Room(), new Room()];
    const source = new AudioSource(RATE, 1);
    let stopTone: (() => Promise<void>) | undefined;
    const speakerToken = await proxy.token(roomName, 'tunnel-speaker');
    try {
      const subscribed = new Promise<RemoteTrack>((resolve) =>
        listener.on(RoomEvent.TrackSubscribed, (track, _pub, p) => p.identity === 'tunnel-speaker' && track.kind === TrackKind.KIND_AUDIO && resolve(track)),
      );
      await listener.connect(tunnel.wsUrl, await proxy.token(roomName, 'tunnel-listener'), { autoSubscribe: true, dynacast: false });
      await speaker.connect(tunnel.wsUrl, speakerToken, { autoSubscribe: true, dynacast: false });
      expect(speaker.name).toBe(roomName);
      await speaker.localParticipant?.publishTrack(
        LocalAudioTrack.createAudioTrack('tone', source),
        new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }),
      );
      stopTone = feedTone(source);
      const track = await Promise.race([subscribed, new Promise<never>((_, no) => setTimeout(() => no(new Error('never subscribed')), 20_000))]);
      expect(await loudness(track)).toBeGreaterThan(2_000);

      // The proxy saw two PQ sessions of this protocol and no classical one.
      const proxyMetrics = await proxy.metrics();
      expect(active(proxyMetrics, { mode: 'pq', protocol })).toBe(2);
      expect(active(proxyMetrics, { mode: 'classical' })).toBe(0);
      expect(metricSum(await tunnel.metrics(), 'volly_tunnel_sessions_active', `protocol="${protocol}"`)).toBe(2);

      // What crossed the wire between tunnel and proxy: sealed, so none of these in clear.
      const wire = tap.captured();
      expect(wire.length).toBeGreaterThan(5_000);
      // The tap does see what is in clear: the upgrade's request line.
      expect(wire).toMatch(/GET \/rtc(\/v1)?[? ]/);
      for (const secret of [speakerToken, speakerToken.split('.')[1] as string, 'tunnel-speaker', 'tunnel-listener', roomName, 'a=ice-ufrag', 'v=0\r\n'])
        expect(wire.includes(secret), `"${secret.slice(0, 24)}" in clear on the wire`).toBe(false);
    } finally {
      await stopTone?.();
      await source.close().catch(() => {});
      await speaker.disconnect().catch(() => {});
      await listener.disconnect().catch(() => {});
    }
    await until('the proxy to end both sessions', async () => active(await proxy.metrics(), { mode: 'pq' }) === 0, 10_000);
    await tunnel.close();
    // One line per session start and end, with the PQ facts, and never a token.
    const lines = tunnelLog(tunnel)
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    const starts = lines.filter((l) => l.event === 'session_start');
    expect(starts.map((l) => [l.protocol, l.reconnect])).toEqual([
      [protocol, false],
      [protocol, false],
    ]);
    expect(lines.filter((l) => l.event === 'session_end')).toHaveLength(2);
    process.stderr.write(`[clients] tunnel ${protocol}: session setup ${starts.map((l) => `${l.setupMs} ms`).join(', ')} (SDK upgrade to JoinResponse)\n`);
    expect(tunnelLog(tunnel)).not.toContain(speakerToken.split('.')[1]);
    await tap.close();
  });
});

describe('v2 server keys given to volly-pq tunnel', () => {
  it("uses the proxy's key from --server-key without fetching the document, and refuses a key the proxy does not hold", async () => {
    const dir = makeTempDir('tunnel-server-key');
    const doc = join(dir, 'proxy-keys.json');
    writeFileSync(doc, await (await fetch(`${proxy.url}/.well-known/volly-pq`)).text());
    const stranger = join(dir, 'stranger.json');
    writeFileSync(stranger, JSON.stringify({ algorithm: 'X-Wing', publicKey: toBase64Url(getKem('X-Wing').keygen().publicKey) }));
    const tap = await startWireTap(proxy);
    const given = await startTunnel(tap.proxy, { args: ['--server-key', doc] });
    const wrong = await startTunnel(proxy, { args: ['--server-key', stranger] });
    const room = new Room();
    try {
      await room.connect(given.wsUrl, await proxy.token('tunnel-given-key', 'given'), { autoSubscribe: false });
      expect(room.name).toBe('tunnel-given-key');
      expect(tap.captured()).not.toContain('/.well-known/volly-pq');
      const failed = new Room();
      await expect(failed.connect(wrong.wsUrl, await proxy.token('tunnel-given-key', 'wrong'), { autoSubscribe: false })).rejects.toThrow();
      await failed.disconnect().catch(() => {});
      expect(metricSum(await wrong.metrics(), 'volly_tunnel_failures_total', 'code="4421"')).toBeGreaterThanOrEqual(1);
    } finally {
      await room.disconnect().catch(() => {});
      await Promise.all([given.close(), wrong.close()]);
      await tap.close();
    }
    const start = tunnelLog(given)
      .split('\n')
      .find((l) => l.includes('"session_start"'));
    expect(JSON.parse(start ?? '{}').serverKeysFrom).toBe('options');
  });
});

describe('HTTP through volly-pq tunnel', () => {
  it('Twirp (RoomService) reaches the proxy and LiveKit unchanged', async () => {
    const tunnel = await startTunnel(proxy);
    try {
      const rooms = new RoomServiceClient(tunnel.url, proxy.apiKey, proxy.apiSecret);
      const room = await rooms.createRoom({ name: 'tunnel-twirp' });
      expect(room.name).toBe('tunnel-twirp');
      expect((await rooms.listRooms(['tunnel-twirp'])).map((r) => r.name)).toEqual(['tunnel-twirp']);
      expect(metricSum(await tunnel.metrics(), 'volly_tunnel_http_requests_total', 'status="200"')).toBeGreaterThanOrEqual(2);
    } finally {
      await tunnel.close();
    }
  });
});
