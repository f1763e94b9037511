// Limits and bad input at the edge, against the real LiveKit: each ends with
// its documented close code (or HTTP status before the upgrade), and none of
// it reaches LiveKit.

import { CloseCode, decodeResponse, getKem, SUBPROTOCOL } from '@volly/shared';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricValue } from '../harness/metrics.ts';
import { connectPq } from '../harness/pq-signal.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';

let livekit: LiveKitServer;
let proxy: TestProxy;
/** A proxy with a very short handshake timeout, kept apart so that load on the machine cannot time out the other tests' joins. */
let hasty: TestProxy;
/** One handshake slot and a queue of two. */
let queued: TestProxy;
/** Two handshakes per source address; the first message due within 300 ms. */
let shared: TestProxy;

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit, {
    VOLLY_MAX_HANDSHAKES: '3',
    VOLLY_HANDSHAKE_QUEUE: '0',
    VOLLY_MAX_FRAME_BYTES: '8192',
    VOLLY_IDLE_TIMEOUT_MS: '1500',
  });
  hasty = await startTestProxy(livekit, { VOLLY_HANDSHAKE_TIMEOUT_MS: '400' });
  queued = await startTestProxy(livekit, { VOLLY_MAX_HANDSHAKES: '1', VOLLY_HANDSHAKE_QUEUE: '2', VOLLY_HANDSHAKE_TIMEOUT_MS: '1500' });
  shared = await startTestProxy(livekit, { VOLLY_MAX_HANDSHAKES_PER_SOURCE: '2', VOLLY_FIRST_MESSAGE_TIMEOUT_MS: '300' });
});
afterAll(async () => {
  await proxy?.close();
  await hasty?.close();
  await queued?.close();
  await shared?.close();
  await livekit?.stop();
});

function openPq(
  path = '/rtc',
  p: TestProxy = proxy,
  localAddress?: string,
): Promise<{ ws: WebSocket; closed: Promise<{ code: number; reason: string }>; first: Promise<Buffer> }> {
  const ws = new WebSocket(`${p.wsUrl}${path}`, SUBPROTOCOL, localAddress ? { localAddress } : {});
  ws.on('error', () => {});
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  const first = new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d)));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, closed, first }));
    ws.once('unexpected-response', (_q, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
  });
}

describe('limits', () => {
  it('a client that never completes the handshake is closed with 4408', async () => {
    const { closed } = await openPq('/rtc', hasty);
    const t0 = performance.now();
    expect((await closed).code).toBe(CloseCode.HandshakeTimeout);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(300);
  });

  it('handshakes beyond the concurrency limit are refused with HTTP 429, and accepted again once one ends', async () => {
    const open = await Promise.all([openPq(), openPq(), openPq()]);
    const refused = await openPq().catch((e) => e);
    expect(refused.status).toBe(429);
    for (const o of open) o.ws.terminate();
    await Promise.all(open.map((o) => o.closed));
    const again = await openPq();
    again.ws.terminate();
  });

  it('beyond the slots, upgrades wait in the queue and start when a slot frees; a full queue gets 429 at once, a wait past the handshake timeout 429 then', async () => {
    const metric = async (result: string) => metricValue(await queued.metrics(), 'volly_handshake_queue_total', { result });
    const open = await openPq('/rtc', queued);
    // Two more wait (no answer yet), a fourth is refused at once.
    const waiting = [openPq('/rtc', queued), openPq('/rtc', queued)];
    await expect.poll(() => metric('queued'), { timeout: 5_000 }).toBe(2);
    const t0 = performance.now();
    expect((await openPq('/rtc', queued).catch((e) => e)).status).toBe(429);
    expect(performance.now() - t0).toBeLessThan(1_000);
    // The slot frees: the oldest waiter is upgraded, and holds the slot.
    open.ws.terminate();
    const admitted = await waiting[0];
    expect(admitted.ws.protocol).toBe(SUBPROTOCOL);
    expect(await metric('admitted')).toBe(1);
    // The other waits until its handshake timeout, then 429.
    const late = await (waiting[1] as Promise<unknown>).catch((e) => e);
    expect((late as { status: number }).status).toBe(429);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(1_400);
    expect(await metric('expired')).toBe(1);
    admitted.ws.terminate();
  });

  it('one address holds at most its share of handshakes; other addresses are not refused meanwhile', async () => {
    const mine = await Promise.all([openPq('/rtc', shared, '127.0.0.7'), openPq('/rtc', shared, '127.0.0.7')]);
    expect((await openPq('/rtc', shared, '127.0.0.7').catch((e) => e)).status).toBe(429);
    const other = await openPq('/rtc', shared, '127.0.0.8');
    expect(other.ws.protocol).toBe(SUBPROTOCOL);
    expect(metricValue(await shared.metrics(), 'volly_handshake_refusals_total', { reason: 'source' })).toBe(1);
    for (const o of [...mine, other]) o.ws.terminate();
  });

  it('in-band: no pq_handshake within the first-message deadline closes 4408 long before the handshake timeout', async () => {
    const { closed } = await openPq('/rtc', shared);
    const t0 = performance.now();
    expect((await closed).code).toBe(CloseCode.HandshakeTimeout);
    expect(performance.now() - t0).toBeLessThan(shared.config.limits.handshakeTimeoutMs / 2);
  });

  it('an oversized frame closes 1009 before anything is parsed', async () => {
    const { ws, closed } = await openPq();
    ws.send(Buffer.alloc(20_000, 7));
    expect((await closed).code).toBe(CloseCode.TooLarge);
  });

  it('garbage instead of a handshake gets pq_response{success:false} and 4400', async () => {
    const { ws, closed, first } = await openPq();
    ws.send(Buffer.from('this is not protobuf at all \xff\xff\xff'));
    const res = decodeResponse(await first);
    expect(res.success).toBe(false);
    expect(res.error).toMatch(/protobuf|pq_handshake/);
    expect((await closed).code).toBe(CloseCode.Malformed);
  });

  it('a text frame during the handshake closes 4400', async () => {
    const { ws, closed } = await openPq();
    ws.send('hello');
    expect((await closed).code).toBe(CloseCode.Malformed);
  });

  it('a silent session is closed after the idle timeout, and LiveKit lets the participant go', async () => {
    const room = `idle-${Date.now().toString(36)}`;
    const sig = await connectPq(proxy.wsUrl, await proxy.token(room, 'sleepy'));
    // The PqWebSocket sends nothing by itself: LiveKit's client would ping every few seconds.
    const { code, reason } = await sig.closed;
    expect(code).toBe(CloseCode.HandshakeTimeout);
    expect(reason).toMatch(/idle/);
    const svc = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
    await expect.poll(async () => (await svc.listParticipants(room).catch(() => [])).length, { timeout: 20_000, interval: 500 }).toBe(0);
  });

  it('an unknown algorithm is refused with 4403 before any key is made', async () => {
    const { ws, closed, first } = await openPq();
    const { encodeHandshake } = await import('@volly/shared');
    const kp = getKem('ML-KEM-768').keygen();
    const frame = encodeHandshake({ algorithm: 'ML-KEM-768', publicKey: kp.publicKey, sessionId: 'A'.repeat(22) });
    // Rewrite the algorithm name in place to an unknown one of the same length.
    const i = Buffer.from(frame).indexOf('ML-KEM-768');
    const bad = Buffer.from(frame);
    bad.write('ML-KEM-512', i);
    ws.send(bad);
    expect(decodeResponse(await first).success).toBe(false);
    expect((await closed).code).toBe(CloseCode.Refused);
  });
});

describe('drain', () => {
  it('asks a live session to reconnect with a LiveKit leave, fails /readyz, then closes 1001', async () => {
    const other = await startTestProxy(livekit);
    const room = `drain-${Date.now().toString(36)}`;
    const sig = await connectPq(other.wsUrl, await other.token(room, 'leaver'));
    expect((await fetch(`${other.adminUrl}/readyz`)).status).toBe(200);
    const closing = other.proxy.drain(5000);
    const leave = await sig.waitFor('leave');
    expect(leave.canReconnect).toBe(true);
    expect(leave.action).toBe(2); // LeaveRequest_Action.RECONNECT
    expect((await fetch(`${other.adminUrl}/readyz`)).status).toBe(503);
    expect((await sig.closed).code).toBe(CloseCode.GoingAway);
    await closing;
    await other.close();
  });
});
