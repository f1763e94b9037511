// The Chromium page that listens to the Python bot: the real livekit-client
// joins, subscribes to the bot's microphone track, plays it through an audio
// element and feeds the same MediaStream into WebAudio, where an AnalyserNode
// tells how loud the decoded sound is and which frequency dominates it — what
// a user hears, measured. Bundled by test/harness/browser.ts (bundlePage).

import { type RemoteTrack, Room, RoomEvent, Track } from 'livekit-client';

export interface Tone {
  /** RMS of the decoded waveform, full scale = 1 (a half-scale sine is ~0.35). */
  rms: number;
  /** Frequency of the loudest FFT bin, Hz. */
  peakHz: number;
  /** Share of the spectrum's power within ±25 Hz of the peak (a clean tone is near 1). */
  purity: number;
  /** The AudioContext's state and sample rate, for failure messages. */
  context: string;
}

export interface ListenerState {
  state: string;
  /** Identities whose audio track the page subscribed to. */
  subscribed: string[];
  errors: string[];
}

const errors: string[] = [];
const subscribed: string[] = [];
let room: Room | undefined;
let analyser: AnalyserNode | undefined;
let audio: AudioContext | undefined;

window.addEventListener('unhandledrejection', (e) => errors.push(String((e.reason as Error)?.message ?? e.reason)));

function listen(track: RemoteTrack): void {
  // Chromium routes a remote WebRTC stream into WebAudio only while a media
  // element plays it too, so the page plays it, as any app would.
  const el = track.attach();
  document.body.appendChild(el);
  audio = new AudioContext();
  const node = audio.createAnalyser();
  node.fftSize = 8192; // 5.4 Hz bins at 44.1 kHz, 5.9 at 48 kHz
  node.smoothingTimeConstant = 0;
  audio.createMediaStreamSource(new MediaStream([track.mediaStreamTrack])).connect(node);
  analyser = node;
  void audio.resume();
}

async function join(url: string, token: string, from: string): Promise<{ ok: boolean; error?: string }> {
  try {
    const r = new Room({ adaptiveStream: false, dynacast: false });
    room = r;
    r.on(RoomEvent.TrackSubscribed, (track, _pub, participant) => {
      if (track.kind !== Track.Kind.Audio) return;
      subscribed.push(participant.identity);
      if (participant.identity === from) listen(track);
    });
    await r.connect(url, token, { rtcConfig: { iceServers: [] } });
    return { ok: true };
  } catch (err) {
    return { ok: false, error: String((err as Error)?.message ?? err) };
  }
}

/** One analysis of the last fftSize samples (about 180 ms); undefined before the track arrives. */
function measure(): Tone | undefined {
  if (!analyser || !audio) return undefined;
  const wave = new Float32Array(analyser.fftSize);
  analyser.getFloatTimeDomainData(wave);
  let sumSq = 0;
  for (const s of wave) sumSq += s * s;
  const spectrum = new Float32Array(analyser.frequencyBinCount);
  analyser.getFloatFrequencyData(spectrum); // dB
  const binHz = audio.sampleRate / analyser.fftSize;
  let peak = 1; // skip DC
  for (let i = 2; i < spectrum.length; i++) if ((spectrum[i] as number) > (spectrum[peak] as number)) peak = i;
  let total = 0;
  let near = 0;
  for (let i = 1; i < spectrum.length; i++) {
    const power = 10 ** ((spectrum[i] as number) / 10);
    total += power;
    if (Math.abs(i - peak) * binHz <= 25) near += power;
  }
  return {
    rms: Math.sqrt(sumSq / wave.length),
    peakHz: peak * binHz,
    purity: total > 0 ? near / total : 0,
    context: `${audio.state} ${audio.sampleRate} Hz`,
  };
}

const state = (): ListenerState => ({ state: room?.state ?? 'none', subscribed: [...subscribed], errors: [...errors] });

async function leave(): Promise<void> {
  await room?.disconnect();
  await audio?.close();
}

const listener = { join, measure, state, leave, ready: true };
export type Listener = typeof listener;
(globalThis as unknown as { listener: Listener }).listener = listener;
