// The page of the E2EE browser tests: the real livekit-client through the
// proxy (installPqWebSocket), with @volly/shared's volly-e2ee.v1 on top
// (enablePqE2ee) or without any key provider ("plain"). Publishes a known
// colour and tone, reports what it decodes from everyone else, and can
// capture the encrypted audio frames LiveKit forwards (insertable streams
// on a plain page) or keep the raw keys shared with it (the leaver's view,
// made with the library's own share opener). Driven by test/e2e/e2ee*.test.ts
// through window.ve.

import { e2ee, e2eeV1, enablePqE2ee, fromBase64Url, installPqWebSocket, makeE2eeKeys, type PqE2eeHandle, toHex } from '@volly/shared';
import { BaseKeyProvider, LocalAudioTrack, LocalVideoTrack, type RemoteTrack, Room, RoomEvent, Track } from 'livekit-client';
import { centreColour, colourSource, type Rgb, resumeAudio, toneMeter, toneSource } from './e2ee-media.ts';

export interface E2eeJoin {
  url: string;
  room: string;
  identity: string;
  /** pq: volly-e2ee.v1 with a statement signed by `signer`; plain: no E2EE at all. */
  mode: 'pq' | 'plain';
  signer?: 'app' | 'other';
  appPublicKey: string;
  context: string;
  colour?: Rgb;
  toneHz?: number;
  /** Plain pages: capture the encrypted audio frames of this participant. */
  capture?: string;
  /** Keep the raw media keys shared with this page (what a leaver walks away with). */
  spyKeys?: boolean;
}

export interface RemoteView {
  identity: string;
  colour: Rgb | null;
  framesDecoded: number;
  tone: number;
}

const state = {
  room: undefined as Room | undefined,
  handle: undefined as PqE2eeHandle | undefined,
  events: [] as string[],
  captured: [] as Array<{ t: number; keyIndex: number; hex: string }>,
  spied: [] as Array<{ sender: string; generation: number; key: string; t: number }>,
  videos: new Map<string, HTMLVideoElement>(),
  /** Date.now() of join()'s start and of the first decoded (presented) video frame per remote. */
  joinStarted: 0,
  firstFrame: {} as Record<string, number>,
  meters: new Map<string, ReturnType<typeof toneMeter>>(),
};

async function tokenFor(o: E2eeJoin, request?: unknown): Promise<{ token: string; statement?: string }> {
  const res = await fetch('/e2ee-token', { method: 'POST', body: JSON.stringify({ room: o.room, identity: o.identity, signer: o.signer ?? 'app', request }) });
  if (!res.ok) throw new Error(`token endpoint: HTTP ${res.status}`);
  return res.json();
}

type EncodedReceiver = RTCRtpReceiver & { createEncodedStreams(): { readable: ReadableStream; writable: WritableStream } };

/**
 * With `encodedInsertableStreams` every receiver of the page must pipe its
 * encoded frames (Chromium holds them otherwise): all pass through unchanged,
 * and those of `record` tracks are kept as they arrived, still encrypted.
 */
function passThrough(track: RemoteTrack, record: boolean): void {
  const { readable, writable } = (track.receiver as EncodedReceiver).createEncodedStreams();
  const keep = (frame: { data: ArrayBuffer }) => {
    const d = new Uint8Array(frame.data);
    if (state.captured.length < 5000) state.captured.push({ t: Date.now(), keyIndex: d[d.length - 1] ?? -1, hex: toHex(d) });
  };
  void readable
    .pipeThrough(
      new TransformStream({
        transform(frame, c) {
          if (record) keep(frame);
          c.enqueue(frame);
        },
      }),
    )
    .pipeTo(writable);
}

function spyOnShares(r: Room, keys: ReturnType<typeof makeE2eeKeys>, o: E2eeJoin): void {
  const sigKeys = new Map<string, Uint8Array>();
  r.on(RoomEvent.DataReceived, (payload, p, _k, topic) => {
    if (topic !== e2eeV1.E2EE_TOPIC || !p) return;
    try {
      const msg = e2eeV1.decodeE2eeMessage(payload);
      if (msg.type === 'announce') sigKeys.set(p.identity, e2eeV1.decodeStatement(msg.statement).sigPublicKey);
      else {
        const input = {
          me: o.identity,
          room: o.room,
          kemAlgorithm: keys.kemAlgorithm,
          kemSecretKey: keys.kemSecretKey,
          senderSigPublicKey: sigKeys.get(p.identity),
          lastGeneration: 0,
        };
        const key = e2ee.openKeyShare(msg.bytes, input);
        state.spied.push({ sender: p.identity, generation: e2eeV1.decodeKeyShare(msg.bytes).generation, key: toHex(key), t: Date.now() });
      }
    } catch {
      // not for us
    }
  });
}

async function join(o: E2eeJoin): Promise<{ ok: boolean; error?: string }> {
  state.joinStarted = Date.now();
  try {
    await resumeAudio();
    installPqWebSocket({ protocol: 'v1', algorithm: 'X-Wing' });
    const keys = o.mode === 'pq' ? makeE2eeKeys('X-Wing') : undefined;
    const { token, statement } = await tokenFor(o, keys ? e2eeV1.statementRequest(keys) : undefined);
    const keyProvider = new BaseKeyProvider(e2eeV1.PQ_KEY_PROVIDER_OPTIONS);
    const e2eeOpts = keys ? { e2ee: { keyProvider, worker: new Worker('/e2ee-worker.js', { type: 'module' }) } } : {};
    const r = new Room({ adaptiveStream: false, dynacast: false, ...e2eeOpts });
    state.room = r;
    r.on(RoomEvent.TrackSubscribed, (track: RemoteTrack, _pub, p) => {
      if (o.capture) passThrough(track, o.capture === p.identity && track.kind === Track.Kind.Audio);
      const el = track.attach();
      document.body.appendChild(el);
      if (track.kind === Track.Kind.Video) {
        state.videos.set(p.identity, el as HTMLVideoElement);
        (el as HTMLVideoElement).requestVideoFrameCallback(() => {
          state.firstFrame[p.identity] ??= Date.now();
        });
      }
      if (track.kind === Track.Kind.Audio) {
        (el as HTMLAudioElement).muted = true; // Chromium feeds WebAudio from remote tracks only while an element plays them
        state.meters.set(p.identity, toneMeter(track.mediaStreamTrack));
      }
    });
    r.on(RoomEvent.EncryptionError, (err) => state.events.push(`encryption-error ${String((err as Error).message).slice(0, 80)}`));
    if (keys && o.spyKeys) spyOnShares(r, keys, o);
    // A capturing page sees the encoded frames LiveKit forwards (Chromium's insertable streams).
    const rtcConfig = { iceServers: [], ...(o.capture ? { encodedInsertableStreams: true } : {}) } as RTCConfiguration;
    await r.connect(o.url, token, { rtcConfig });
    if (keys && statement) {
      const handle = await enablePqE2ee(r, {
        statement: fromBase64Url(statement) as Uint8Array,
        secrets: keys,
        verificationKeys: [fromBase64Url(o.appPublicKey) as Uint8Array],
        context: o.context,
        keyProvider,
      });
      state.handle = handle;
      for (const name of ['key-rotated', 'key-received', 'statement-verified', 'statement-rejected', 'unprotected'] as const) {
        handle.on(name, (e) => state.events.push(`${name} ${JSON.stringify({ ...e, t: Date.now() })}`));
      }
    }
    if (o.colour)
      await r.localParticipant.publishTrack(new LocalVideoTrack(colourSource(o.colour)), {
        simulcast: false,
        videoEncoding: { maxBitrate: 150_000, maxFramerate: 15 },
      });
    if (o.toneHz) await r.localParticipant.publishTrack(new LocalAudioTrack(toneSource(o.toneHz)), { dtx: false, red: false });
    return { ok: true };
  } catch (err) {
    return { ok: false, error: String((err as Error)?.stack ?? err) };
  }
}

async function view(toneHz = 440): Promise<RemoteView[]> {
  const out: RemoteView[] = [];
  for (const p of state.room?.remoteParticipants.values() ?? []) {
    let framesDecoded = 0;
    for (const pub of p.trackPublications.values()) {
      const t = pub.track as RemoteTrack | undefined;
      if (t?.kind !== Track.Kind.Video) continue;
      const report = await t.getRTCStatsReport();
      const inbound = [...(report?.values() ?? [])].find((s) => s.type === 'inbound-rtp');
      framesDecoded = Number(inbound?.framesDecoded ?? 0);
    }
    const video = state.videos.get(p.identity);
    out.push({ identity: p.identity, colour: video ? centreColour(video) : null, framesDecoded, tone: state.meters.get(p.identity)?.tone(toneHz) ?? 0 });
  }
  return out;
}

const ve = {
  ready: true,
  join,
  view,
  events: () => [...state.events],
  metrics: () => ({ ...(state.handle?.metrics ?? {}), generation: state.handle?.generation ?? 0, verified: state.handle?.verified() ?? [] }),
  captured: (since = 0) => state.captured.filter((c) => c.t >= since),
  spied: () => [...state.spied],
  leave: async () => {
    await state.room?.disconnect();
  },
  now: () => Date.now(),
  timing: () => ({ joinStarted: state.joinStarted, firstFrame: { ...state.firstFrame } }),
};
export type Ve = typeof ve;
(globalThis as unknown as { ve: Ve }).ve = ve;
