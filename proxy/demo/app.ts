// The demo page: joins a room through the proxy with the real livekit-client
// and the volly-pq shim (v2 when the proxy serves static keys, else v1), shows local and remote video, and a panel with the
// PQ session (algorithm, session id, key fingerprint, frames sealed/opened).
// Tokens come from the proxy's demo-only endpoint (POST /demo/token). With
// "E2EE" on, media is end-to-end encrypted with volly-e2ee.v1 keys
// (docs/E2EE.md); the panel shows its state and the button turns it off/on.

import {
  e2eeV1,
  enablePqE2ee,
  fromBase64Url,
  getKem,
  installPqWebSocket,
  type KemAlgorithm,
  type KemKeyPair,
  makeE2eeKeys,
  type PqE2eeHandle,
  type PqWebSocket,
  toBase64Url,
} from '@volly/shared';
import { BaseKeyProvider, Room, RoomEvent, type Track } from 'livekit-client';

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;
const sockets: PqWebSocket[] = [];
let keyPairs: KemKeyPair[] = [];
let uninstall: (() => void) | undefined;
let e2ee: PqE2eeHandle | undefined;
const keyProvider = new BaseKeyProvider(e2eeV1.PQ_KEY_PROVIDER_OPTIONS);

async function fetchToken(room: string, identity: string, extra: Record<string, unknown>) {
  const res = await fetch('./token', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ room, identity, ...extra }) });
  if (!res.ok) throw new Error(`token endpoint: HTTP ${res.status} ${await res.text()}`);
  return (await res.json()) as { token: string; e2ee?: { statement: string; verificationKey: string; context: string } };
}

/** Fresh participant keys, a statement from the demo's token endpoint, and volly-e2ee.v1 on the room. */
async function startE2ee(lk: Room): Promise<void> {
  const keys = makeE2eeKeys('X-Wing');
  const { e2ee: st } = await fetchToken(lk.name, lk.localParticipant.identity, { e2ee: e2eeV1.statementRequest(keys) });
  if (!st) throw new Error('token endpoint gave no E2EE statement');
  const b = (s: string) => fromBase64Url(s) as Uint8Array;
  e2ee = await enablePqE2ee(lk as never, {
    statement: b(st.statement),
    secrets: keys,
    verificationKeys: [b(st.verificationKey)],
    context: st.context,
    keyProvider,
  });
}

function install(algorithm: KemAlgorithm): void {
  uninstall?.();
  uninstall = installPqWebSocket({ algorithm, keyPairs, onSocket: (ws) => sockets.push(ws) });
}

function attach(track: Track, label: string): void {
  if (track.kind !== 'video' && track.kind !== 'audio') return;
  const el = track.attach();
  if (track.kind === 'audio') return void document.body.append(el);
  const fig = document.createElement('figure');
  fig.dataset.sid = track.sid ?? '';
  const cap = document.createElement('figcaption');
  cap.textContent = label;
  fig.append(el, cap);
  $('videos').append(fig);
}

function renderPanel(room: Room): void {
  const ws = sockets.at(-1);
  const pq = ws?.pq;
  $('pq-protocol').textContent = pq?.protocol ?? '—';
  $('pq-mode').textContent = pq?.mode ?? '—';
  $('pq-algorithm').textContent = pq?.algorithm ?? '—';
  $('pq-session').textContent = pq?.sessionId ?? '—';
  $('pq-fingerprint').textContent = pq?.fingerprint ?? '—';
  $('pq-sealed').textContent = String(pq?.framesSealed ?? 0);
  $('pq-opened').textContent = String(pq?.framesOpened ?? 0);
  let remote = 0;
  for (const p of room.remoteParticipants.values()) remote += p.trackPublications.size;
  $('remote-tracks').textContent = String(remote);
  const m = e2ee?.metrics;
  $('e2ee-state').textContent = e2ee ? `on, key generation ${e2ee.generation}` : 'off';
  $('e2ee-state').className = e2ee ? 'ok' : 'bad';
  $('e2ee-peers').textContent = e2ee ? `${e2ee.verified().length} verified, ${m?.statementsRejected ?? 0} rejected` : '—';
  $('e2ee-rotated').textContent = String(m?.keysRotated ?? 0);
}

async function join(): Promise<void> {
  const algorithm = $<HTMLSelectElement>('algorithm').value as KemAlgorithm;
  const mode = $<HTMLSelectElement>('mode').value;
  const room = $<HTMLInputElement>('room').value || 'demo';
  const identity = $<HTMLInputElement>('identity').value || `guest-${Math.random().toString(36).slice(2, 7)}`;
  keyPairs = mode === 'token-bound' ? [getKem(algorithm).keygen()] : [];
  install(algorithm);
  const { token } = await fetchToken(room, identity, keyPairs[0] ? { algorithm, publicKey: toBase64Url(keyPairs[0].publicKey) } : {});
  // The key provider is always there (livekit-client takes it only at construction); E2EE starts when asked.
  const lk = new Room({ adaptiveStream: true, dynacast: true, e2ee: { keyProvider, worker: new Worker('./e2ee-worker.js', { type: 'module' }) } });
  lk.on(RoomEvent.TrackSubscribed, (track, _pub, participant) => attach(track, participant.identity));
  lk.on(RoomEvent.TrackUnsubscribed, (track) => {
    for (const el of track.detach()) (el.closest('figure') ?? el).remove();
  });
  lk.on(RoomEvent.Disconnected, () => ($('status').textContent = 'disconnected'));
  lk.on(RoomEvent.Reconnecting, () => ($('status').textContent = 'reconnecting…'));
  lk.on(RoomEvent.Reconnected, () => ($('status').textContent = `connected to ${lk.name} as ${identity}`));
  const url = `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}`;
  await lk.connect(url, token);
  $('status').textContent = `connected to ${lk.name} as ${identity}`;
  $('status').className = 'ok';
  if ($<HTMLInputElement>('e2ee').checked) await startE2ee(lk);
  $('e2ee-toggle').hidden = false;
  $('e2ee-toggle').onclick = () => {
    const was = e2ee;
    e2ee = undefined;
    (was ? was.disable() : startE2ee(lk)).catch((err: Error) => ($('status').textContent = `E2EE: ${err.message}`));
  };
  await lk.localParticipant.enableCameraAndMicrophone();
  for (const pub of lk.localParticipant.trackPublications.values()) if (pub.track) attach(pub.track, `${identity} (you)`);
  setInterval(() => renderPanel(lk), 500);
  Object.assign(window, { vollyDemo: { room: lk, sockets } });
}

$('join').addEventListener('click', () => {
  $<HTMLButtonElement>('join').disabled = true;
  join().catch((err: Error) => {
    $('status').textContent = `failed: ${err.message}`;
    $('status').className = 'bad';
    $<HTMLButtonElement>('join').disabled = false;
  });
});
