// The page the browser tests drive: the real livekit-client, with or without
// @volly/shared's installPqWebSocket, behind a small `window.vt` API that the
// test calls through page.evaluate. Bundled with esbuild (test/harness/browser.ts).

import { getKem, installPqWebSocket, type KemAlgorithm, type KemKeyPair, type PqSessionInfo, type PqWebSocket, toBase64Url } from '@volly/shared';
import { ConnectionError, ConnectionErrorReason, type Participant, type RemoteTrack, Room, RoomEvent, Track } from 'livekit-client';

export type Mode = 'in-band' | 'token-bound' | 'direct';

export interface JoinOptions {
  /** ws://host:port of the proxy (PQ modes) or of LiveKit (direct). */
  url: string;
  mode: Mode;
  /** In-band and direct: the token to join with. Token-bound: fetched from POST /token. */
  token?: string;
  /** Token-bound: what to ask the token endpoint for. */
  room?: string;
  identity?: string;
  algorithm?: KemAlgorithm;
  /** Token-bound: more fields for the token endpoint's request (e.g. which kind of token to make). */
  tokenRequest?: Record<string, unknown>;
  /** Publish the fake camera and microphone after joining. */
  publish?: boolean;
  /**
   * Which volly-pq the shim speaks (default 'v1', as before). With 'v2' (or 'auto'),
   * 'in-band' means an unbound token and 'token-bound' a bound one; the session
   * algorithm is the proxy's static key's, `algorithm` only picks the bound key's.
   */
  protocol?: 'v1' | 'v2' | 'auto';
  /** v2: the proxy's static keys as well-known document JSON (absent: the page fetches the document). */
  serverKemKeys?: string;
}

export interface ErrorInfo {
  name: string;
  message: string;
  /** ConnectionError only: the numeric reason and its enum name. */
  reason?: number;
  /** ConnectionErrorReason[reason] (Room.connect copies `reason` into its own error but leaves `reasonName` as ServerUnreachable). */
  reasonOf?: string;
  reasonName?: string;
  status?: number;
  isConnectionError: boolean;
}

export type JoinResult = { ok: true; localSid: string; room: string } | { ok: false; error: ErrorInfo };

export interface SocketInfo {
  url: string;
  pq: PqSessionInfo;
  readyState: number;
}

export interface TrackStats {
  from: string;
  kind: string;
  source: string;
  bytesReceived: number;
  packetsReceived: number;
  /** Video: frames decoded. Audio: samples received. */
  decoded: number;
  /** Local and remote address of the selected ICE candidate pair, when the report has it. */
  path?: string;
}

export interface Snapshot {
  events: Array<{ t: number; name: string; detail?: string }>;
  data: Array<{ from: string | undefined; text: string }>;
  sockets: SocketInfo[];
  /** The local participant's sid ('' before joining): a resume keeps it, a full reconnect does not. */
  localSid: string;
  remoteTracks: Array<{ from: string; kind: string; source: string }>;
  state: string;
  errors: string[];
}

const started = performance.now();
const events: Snapshot['events'] = [];
const data: Snapshot['data'] = [];
const errors: string[] = [];
/** Every PqWebSocket the shim opened for livekit-client (installPqWebSocket's onSocket). */
const sockets: PqWebSocket[] = [];
const onSocket = (ws: PqWebSocket) => sockets.push(ws);
let room: Room | undefined;

const log = (name: string, detail?: string) => events.push({ t: Math.round(performance.now() - started), name, ...(detail !== undefined ? { detail } : {}) });

window.addEventListener('error', (e) => errors.push(String(e.message)));
window.addEventListener('unhandledrejection', (e) => errors.push(String((e.reason as Error)?.message ?? e.reason)));

function describe(err: unknown): ErrorInfo {
  const e = err as Partial<ConnectionError> & Error;
  return {
    name: e?.name ?? typeof err,
    message: e?.message ?? String(err),
    isConnectionError: err instanceof ConnectionError,
    ...(err instanceof ConnectionError
      ? {
          reason: err.reason,
          reasonOf: ConnectionErrorReason[err.reason],
          reasonName: err.reasonName,
          ...(err.status !== undefined ? { status: err.status } : {}),
        }
      : {}),
  };
}

async function boundToken(opts: JoinOptions, keyPair: KemKeyPair, algorithm: KemAlgorithm): Promise<string> {
  const res = await fetch('/token', {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ ...opts.tokenRequest, room: opts.room, identity: opts.identity, algorithm, publicKey: toBase64Url(keyPair.publicKey) }),
  });
  if (!res.ok) throw new Error(`token endpoint: HTTP ${res.status} ${await res.text()}`);
  return res.text();
}

function hook(r: Room): void {
  const simple = [
    RoomEvent.Connected,
    RoomEvent.Reconnecting,
    RoomEvent.Reconnected,
    RoomEvent.SignalReconnecting,
    RoomEvent.Disconnected,
    RoomEvent.ConnectionStateChanged,
    RoomEvent.ParticipantConnected,
    RoomEvent.ParticipantDisconnected,
  ] as const;
  for (const name of simple) {
    r.on(name, ((arg: unknown) => {
      const detail = typeof arg === 'string' || typeof arg === 'number' ? String(arg) : (arg as Participant | undefined)?.identity;
      log(name, detail);
    }) as never);
  }
  r.on(RoomEvent.TrackSubscribed, (track: RemoteTrack, _pub, participant) => {
    log(RoomEvent.TrackSubscribed, `${participant.identity}:${track.kind}`);
    // Attached to a media element, so the browser decodes and plays it.
    const el = track.attach();
    el.setAttribute('data-from', participant.identity);
    document.body.appendChild(el);
  });
  r.on(RoomEvent.DataReceived, (payload, participant) => {
    data.push({ from: participant?.identity, text: new TextDecoder().decode(payload) });
  });
}

async function join(opts: JoinOptions): Promise<JoinResult> {
  if (room) throw new Error('already joined');
  try {
    let token = opts.token ?? '';
    if (opts.mode !== 'direct') {
      const algorithm = opts.algorithm ?? 'ML-KEM-768';
      const shim = { protocol: opts.protocol ?? 'v1', onSocket, ...(opts.serverKemKeys ? { serverKemKeys: opts.serverKemKeys } : {}) } as const;
      if (opts.mode === 'token-bound') {
        // The key pair is made here, in the page, with the browser entry's pure-JS KEM.
        const keyPair = getKem(algorithm).keygen();
        token = await boundToken(opts, keyPair, algorithm);
        installPqWebSocket({ ...shim, keyPairs: [keyPair] });
      } else {
        installPqWebSocket({ ...shim, algorithm });
      }
    }
    const r = new Room({ adaptiveStream: false, dynacast: false });
    room = r;
    hook(r);
    // No ICE servers: LiveKit hands out none on loopback, and none is added.
    await r.connect(opts.url, token, { rtcConfig: { iceServers: [] } });
    if (opts.publish) await r.localParticipant.enableCameraAndMicrophone();
    return { ok: true, localSid: r.localParticipant.sid, room: r.name };
  } catch (err) {
    return { ok: false, error: describe(err) };
  }
}

function snapshot(): Snapshot {
  const remoteTracks: Snapshot['remoteTracks'] = [];
  for (const p of room?.remoteParticipants.values() ?? []) {
    for (const pub of p.trackPublications.values()) {
      if (pub.track) remoteTracks.push({ from: p.identity, kind: pub.kind, source: pub.source });
    }
  }
  return {
    events: [...events],
    data: [...data],
    sockets: sockets.map((s) => ({ url: s.url, pq: s.pq, readyState: s.readyState })),
    localSid: room?.localParticipant.sid ?? '',
    remoteTracks,
    state: room?.state ?? 'none',
    errors: [...errors],
  };
}

async function stats(): Promise<TrackStats[]> {
  const out: TrackStats[] = [];
  for (const p of room?.remoteParticipants.values() ?? []) {
    for (const pub of p.trackPublications.values()) {
      const track = pub.track as RemoteTrack | undefined;
      if (!track) continue;
      const report = await track.getRTCStatsReport();
      if (!report) continue;
      const all = [...report.values()] as Array<Record<string, unknown>>;
      const inbound = all.find((s) => s.type === 'inbound-rtp');
      if (!inbound) continue;
      const pair = all.find((s) => s.type === 'candidate-pair' && (s.nominated || s.state === 'succeeded'));
      const local = pair ? all.find((s) => s.id === pair.localCandidateId) : undefined;
      const remote = pair ? all.find((s) => s.id === pair.remoteCandidateId) : undefined;
      out.push({
        from: p.identity,
        kind: track.kind,
        source: pub.source,
        bytesReceived: Number(inbound.bytesReceived ?? 0),
        packetsReceived: Number(inbound.packetsReceived ?? 0),
        decoded: Number(track.kind === Track.Kind.Video ? (inbound.framesDecoded ?? 0) : (inbound.totalSamplesReceived ?? 0)),
        ...(local && remote ? { path: `${local.protocol} ${local.address}:${local.port} -> ${remote.address}:${remote.port}` } : {}),
      });
    }
  }
  return out;
}

async function send(text: string): Promise<void> {
  if (!room) throw new Error('not joined');
  await room.localParticipant.publishData(new TextEncoder().encode(text), { reliable: true });
}

async function leave(): Promise<void> {
  await room?.disconnect();
}

const vt = { join, snapshot, stats, send, leave, ready: true };
export type Vt = typeof vt;
(globalThis as unknown as { vt: Vt }).vt = vt;
