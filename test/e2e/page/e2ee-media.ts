// Known media for the E2EE pages: a canvas video of one solid colour (with a
// small moving square, so the encoder keeps sending) and a sine tone; and on
// the receiving side, the colour at the centre of each decoded remote video
// and the share of each remote audio's energy near the tone's frequency.
// Whatever decodes garbage, or nothing, fails both checks.

export interface Rgb {
  r: number;
  g: number;
  b: number;
}

export function colourSource(colour: Rgb, fps = 15): MediaStreamTrack {
  const canvas = document.createElement('canvas');
  canvas.width = 160;
  canvas.height = 120;
  const ctx = canvas.getContext('2d') as CanvasRenderingContext2D;
  let x = 0;
  const draw = () => {
    ctx.fillStyle = `rgb(${colour.r},${colour.g},${colour.b})`;
    ctx.fillRect(0, 0, 160, 120);
    ctx.fillStyle = '#fff';
    ctx.fillRect(x, 0, 8, 8);
    x = (x + 4) % 152;
  };
  draw();
  setInterval(draw, 1000 / fps);
  return canvas.captureStream(fps).getVideoTracks()[0] as MediaStreamTrack;
}

let audioCtx: AudioContext | undefined;
const ctxOf = () => {
  audioCtx ??= new AudioContext();
  return audioCtx;
};

export function toneSource(hz: number): MediaStreamTrack {
  const ctx = ctxOf();
  const osc = ctx.createOscillator();
  osc.frequency.value = hz;
  const gain = ctx.createGain();
  gain.gain.value = 0.5;
  const dest = ctx.createMediaStreamDestination();
  osc.connect(gain).connect(dest);
  osc.start();
  return dest.stream.getAudioTracks()[0] as MediaStreamTrack;
}

/** The colour at the centre of a playing video element, or null before it has a frame. */
export function centreColour(video: HTMLVideoElement): Rgb | null {
  if (video.videoWidth === 0) return null;
  const c = document.createElement('canvas');
  c.width = video.videoWidth;
  c.height = video.videoHeight;
  const ctx = c.getContext('2d', { willReadFrequently: true }) as CanvasRenderingContext2D;
  ctx.drawImage(video, 0, 0);
  const [r, g, b] = ctx.getImageData(Math.floor(c.width / 2), Math.floor(c.height / 2), 1, 1).data;
  return { r: r ?? 0, g: g ?? 0, b: b ?? 0 };
}

export const colourDistance = (a: Rgb, b: Rgb): number => Math.max(Math.abs(a.r - b.r), Math.abs(a.g - b.g), Math.abs(a.b - b.b));

/** An analyser on a remote audio track; `tone(hz)` is the fraction of spectral energy within ±3 bins of hz. */
export function toneMeter(track: MediaStreamTrack): { tone(hz: number): number; energy(): number } {
  const ctx = ctxOf();
  const src = ctx.createMediaStreamSource(new MediaStream([track]));
  const an = ctx.createAnalyser();
  an.fftSize = 2048;
  src.connect(an);
  const bins = new Float32Array(an.frequencyBinCount);
  const power = () => {
    an.getFloatFrequencyData(bins);
    return Array.from(bins, (db) => (Number.isFinite(db) ? 10 ** (db / 10) : 0));
  };
  return {
    tone(hz) {
      const p = power();
      const at = Math.round((hz / (ctx.sampleRate / 2)) * p.length);
      const total = p.reduce((s, x) => s + x, 0);
      const near = p.slice(Math.max(0, at - 3), at + 4).reduce((s, x) => s + x, 0);
      return total > 0 ? near / total : 0;
    },
    energy: () => power().reduce((s, x) => s + x, 0),
  };
}

export async function resumeAudio(): Promise<void> {
  await ctxOf().resume();
}
