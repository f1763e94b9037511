// Key hygiene in the running proxy: a session's direction keys are
// overwritten when it ends — after a failed handshake and after a relayed
// session alike. The proxy runs in this process, so the test can find its
// FrameOpener (the one that opened this client's frames: it holds k_c2s) and
// look at its key once the session is over.

import {
  clientHandshake,
  decodeResponse,
  encodeControl,
  encodeHandshake,
  FrameKind,
  FrameOpener,
  getAead,
  getKem,
  randomBytes,
  SUBPROTOCOL,
  sealedChannel,
  splitSignalUrl,
  toBase64Url,
} from '@volly/shared';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { signalUrl } from '../harness/signal.ts';

let livekit: LiveKitServer;
let proxy: TestProxy;
beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit);
});
afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
});

/** Every FrameOpener that opens a frame in this process, with its key as it is at that moment. */
function watchOpeners() {
  const seen: Array<{ opener: FrameOpener; key: Uint8Array }> = [];
  const open = FrameOpener.prototype.open;
  const spy = vi.spyOn(FrameOpener.prototype, 'open').mockImplementation(function (this: FrameOpener, frame: Uint8Array) {
    seen.push({ opener: this, key: (this as unknown as { key: Uint8Array }).key.slice() });
    return open.call(this, frame);
  });
  return { seen, restore: () => spy.mockRestore() };
}

const keyOf = (o: FrameOpener) => (o as unknown as { key: Uint8Array }).key;

/** An in-band session by hand (no ClientSession: nothing on the client side calls destroy). */
async function session(opts: { sendConnect: boolean; token: string }) {
  const kem = getKem('ML-KEM-768');
  const kp = kem.keygen();
  const sid = toBase64Url(randomBytes(18));
  const ws = new WebSocket(`${proxy.wsUrl}/rtc`, SUBPROTOCOL);
  ws.on('error', () => {});
  const messages: Buffer[] = [];
  const next = () => new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d)));
  ws.on('message', (d: Buffer) => messages.push(d));
  const closed = new Promise<number>((r) => ws.on('close', (code) => r(code)));
  await new Promise((r) => ws.once('open', r));
  ws.send(encodeHandshake({ algorithm: 'ML-KEM-768', publicKey: kp.publicKey, sessionId: sid }));
  const result = clientHandshake(kem, kp, decodeResponse(await next()), sid);
  const c2s = result.keys.c2s.slice();
  const ch = sealedChannel(result, 'client', getAead());
  const query = splitSignalUrl(signalUrl(proxy.wsUrl, opts.token), 'in-band').query;
  const joined = next();
  ws.send(
    opts.sendConnect
      ? ch.sealer.seal(FrameKind.Control, encodeControl({ case: 'connect', accessToken: opts.token, query }))
      : ch.sealer.seal(FrameKind.LiveKitBinary, new Uint8Array(8)), // not a VollyConnect: the handshake fails after keys exist
  );
  return { ws, c2s, closed, joined, ch };
}

describe('key hygiene', () => {
  it('a relayed session’s keys are overwritten once it ends', async () => {
    const w = watchOpeners();
    try {
      const token = await proxy.token(`hygiene-${Date.now().toString(36)}`, 'hygiene');
      const s = await session({ sendConnect: true, token });
      await s.joined; // the sealed JoinResponse: the session relays
      const mine = w.seen.find((x) => Buffer.from(x.key).equals(Buffer.from(s.c2s)));
      expect(mine, 'the proxy opened the VollyConnect with k_c2s').toBeDefined();
      s.ws.close(1000);
      await s.closed;
      await expect.poll(() => keyOf(mine!.opener).every((b) => b === 0), { timeout: 5000 }).toBe(true);
    } finally {
      w.restore();
    }
  });

  it('a handshake that fails after keys exist overwrites them too', async () => {
    const w = watchOpeners();
    try {
      const s = await session({ sendConnect: false, token: '' });
      expect(await s.closed).toBe(4400);
      const mine = w.seen.find((x) => Buffer.from(x.key).equals(Buffer.from(s.c2s)));
      expect(mine).toBeDefined();
      expect(keyOf(mine!.opener).every((b) => b === 0)).toBe(true);
    } finally {
      w.restore();
    }
  });
});
