// @livekit/rtc-node (LiveKit's Rust SDK through its prebuilt N-API binary)
// through the proxy, unmodified, under the default `prefer` policy: one
// participant publishes a microphone track fed with a 440 Hz sine from an
// AudioSource, a second rtc-node participant subscribes and reads it back
// through an AudioStream. The tone must arrive (loud, and at about 440 Hz by
// zero crossings after Opus), and the proxy must have counted both signaling
// connections as classical sessions.

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
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { until } from '../harness/wait.ts';

const SAMPLE_RATE = 48_000;
const TONE_HZ = 440;
const FRAME_SAMPLES = SAMPLE_RATE / 100; // 10 ms

let livekit: LiveKitServer;
let proxy: TestProxy;
const suiteStarted = Date.now();

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit);
});

afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
  process.stderr.write(`[clients] rtc-node suite took ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s\n`);
});

function activeClassical(metrics: string): number {
  let n = 0;
  for (const m of metrics.matchAll(/^volly_sessions_active\{([^}]*)\} (\S+)$/gm)) if ((m[1] as string).includes('mode="classical"')) n += Number(m[2]);
  return n;
}

describe('@livekit/rtc-node through the proxy', () => {
  it('publishes a sine-wave audio track that a second rtc-node participant receives', async () => {
    const t0 = Date.now();
    const roomName = 'rtc-node-room';
    const speaker = new Room();
    const listener = new Room();
    const source = new AudioSource(SAMPLE_RATE, 1);
    let feeding = true;
    let feeder: Promise<void> | undefined;
    try {
      // The listener waits for the track before the speaker joins.
      const subscribed = new Promise<RemoteTrack>((resolve) => {
        listener.on(RoomEvent.TrackSubscribed, (track, _pub, participant) => {
          if (participant.identity === 'speaker' && track.kind === TrackKind.KIND_AUDIO) resolve(track);
        });
      });
      await listener.connect(proxy.wsUrl, await proxy.token(roomName, 'listener'), { autoSubscribe: true, dynacast: false });
      await speaker.connect(proxy.wsUrl, await proxy.token(roomName, 'speaker'), { autoSubscribe: true, dynacast: false });
      expect(speaker.name).toBe(roomName);

      const track = LocalAudioTrack.createAudioTrack('sine', source);
      const pub = await speaker.localParticipant?.publishTrack(track, new TrackPublishOptions({ source: TrackSource.SOURCE_MICROPHONE }));
      expect(pub?.sid).toBeTruthy();

      // 10 ms frames of a 440 Hz sine at half scale, paced by captureFrame's queue.
      feeder = (async () => {
        let n = 0;
        while (feeding) {
          const data = new Int16Array(FRAME_SAMPLES);
          for (let i = 0; i < FRAME_SAMPLES; i++, n++) data[i] = Math.round(16_000 * Math.sin((2 * Math.PI * TONE_HZ * n) / SAMPLE_RATE));
          await source.captureFrame(new AudioFrame(data, SAMPLE_RATE, 1, FRAME_SAMPLES));
        }
      })();

      const remote = await Promise.race([
        subscribed,
        new Promise<never>((_, reject) => setTimeout(() => reject(new Error('listener never subscribed to the speaker')), 20_000)),
      ]);
      const stream = new AudioStream(remote, SAMPLE_RATE, 1);
      const reader = stream.getReader();
      // Skip the first half second (Opus and the jitter buffer settle), then measure one second.
      let skipped = 0;
      let samples = 0;
      let sumSq = 0;
      let crossings = 0;
      let prev = 0;
      const readDeadline = Date.now() + 20_000;
      while (samples < SAMPLE_RATE) {
        if (Date.now() > readDeadline) throw new Error(`only ${samples} loud samples read in 20 s`);
        const { value: frame, done } = await reader.read();
        if (done || !frame) throw new Error('the audio stream ended');
        expect(frame.sampleRate).toBe(SAMPLE_RATE);
        if (skipped < SAMPLE_RATE / 2) {
          skipped += frame.samplesPerChannel;
          continue;
        }
        for (const s of frame.data) {
          sumSq += s * s;
          if ((prev < 0 && s >= 0) || (prev >= 0 && s < 0)) crossings++;
          prev = s;
          samples++;
        }
      }
      reader.releaseLock();
      await stream.cancel().catch(() => {});
      const rms = Math.sqrt(sumSq / samples);
      const hz = crossings / 2 / (samples / SAMPLE_RATE);
      // A half-scale sine has RMS 16000/√2 ≈ 11300; Opus and gain control may move it, silence is ~0.
      expect(rms).toBeGreaterThan(2_000);
      expect(hz).toBeGreaterThan(TONE_HZ * 0.9);
      expect(hz).toBeLessThan(TONE_HZ * 1.1);

      expect(activeClassical(await proxy.metrics())).toBe(2);
      process.stderr.write(`[clients] rtc-node: tone received at ${hz.toFixed(1)} Hz, RMS ${rms.toFixed(0)}, ${Date.now() - t0} ms after start\n`);
    } finally {
      feeding = false;
      await feeder?.catch(() => {});
      await source.close().catch(() => {});
      await speaker.disconnect().catch(() => {});
      await listener.disconnect().catch(() => {});
    }
    await until('both classical sessions to end', async () => activeClassical(await proxy.metrics()) === 0, 10_000);
  });
});
