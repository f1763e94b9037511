// What the attack suites share (test/security/attacks-*.test.ts): the real
// LiveKit and proxy for a file, and the helpers that check what a user would
// see and that nothing reached LiveKit.

import { ParticipantInfo_State, SignalRequest, type SignalResponse } from '@livekit/protocol';
import { getAead, SUBPROTOCOL } from '@volly/shared';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, expect } from 'vitest';
import WebSocket from 'ws';
import { nothingReachesLiveKit as nothingReaches } from '../../harness/leaks.ts';
import { type LiveKitServer, startLiveKit } from '../../harness/livekit.ts';
import { PqConnectError } from '../../harness/pq-signal.ts';
import { startTestProxy, type TestProxy } from '../../harness/proxy.ts';
import type { RawPq } from '../../harness/raw-pq.ts';
import { connectSignal, type SignalConnection } from '../../harness/signal.ts';
import { token } from '../../harness/tokens.ts';

// ESM live bindings: the test files import these and see them once beforeAll has run.
export let livekit: LiveKitServer;
export let proxy: TestProxy;
/** LiveKit's RoomService, directly (not through the proxy). */
export let direct: RoomServiceClient;

/** The real LiveKit and the real proxy in front of it, for one test file. */
export function useAttackServers(): void {
  beforeAll(async () => {
    livekit = await startLiveKit();
    proxy = await startTestProxy(livekit);
    direct = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
  });
  afterAll(async () => {
    await proxy?.close();
    await livekit?.stop();
  });
}

let n = 0;
export const roomName = (what: string) => `atk-${what}-${++n}-${Date.now().toString(36)}`;
export const aead = getAead();

/** Runs `attack` and checks that LiveKit got nothing from it (test/harness/leaks.ts). */
export const nothingReachesLiveKit = <T>(identity: string, attack: () => Promise<T>, allow: { frames?: number; dials?: number; sessions?: number } = {}) =>
  nothingReaches(proxy, livekit, identity, attack, allow);

/** LiveKit's participant list (identity:metadata), without our hidden observers. */
export const participants = async (room: string) =>
  (await direct.listParticipants(room).catch(() => []))
    .filter((p) => p.state !== ParticipantInfo_State.DISCONNECTED && !p.identity.startsWith('observer-'))
    .map((p) => `${p.identity}:${p.metadata}`);

/** Tokens here may update their own metadata: the ordering attacks watch metadata changes. */
export const CAN_META = { grant: { canUpdateOwnMetadata: true } };

/** A participant connected to LiveKit directly: it sees every metadata change in the room. */
export async function observer(room: string): Promise<{ sig: SignalConnection; metadata: () => string[] }> {
  const sig = await connectSignal(livekit.wsUrl, await token(livekit, room, `observer-${n}`, { grant: { hidden: true } }));
  const metadata = () =>
    sig.received.flatMap((m: SignalResponse) => (m.message.case === 'update' ? m.message.value.participants.map((p) => p.metadata) : [])).filter(Boolean);
  return { sig, metadata };
}

export const meta = (metadata: string) => ({ case: 'updateMetadata', value: { metadata } as never }) as SignalRequest['message'];
export const sealMeta = (raw: RawPq, metadata: string) => raw.session.seal(new SignalRequest({ message: meta(metadata) }).toBinary());

/** A PQ socket without the client state machine, for hand-built frames. */
export function rawSocket(
  pathAndQuery = '/rtc',
): Promise<{ ws: WebSocket; first: Promise<Buffer>; closed: Promise<{ code: number; reason: string }>; received: Buffer[] }> {
  const ws = new WebSocket(`${proxy.wsUrl}${pathAndQuery}`, SUBPROTOCOL);
  ws.on('error', () => {});
  const received: Buffer[] = [];
  const first = new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d)));
  ws.on('message', (d: Buffer) => received.push(d));
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, first, closed, received }));
    ws.once('unexpected-response', (_q, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
  });
}

export const failure = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(PqConnectError);
  return e as PqConnectError;
};

// ---- replay -------------------------------------------------------------------
