// Found by the long live-fuzz run: a close reason is cut to 120 UTF-16 code
// units, but RFC 6455 allows 123 UTF-8 *bytes*. An unknown algorithm name is
// quoted in the refusal with JSON.stringify, which turns control characters
// into 6-byte \uXXXX escapes, while invalid UTF-8 becomes 3-byte U+FFFD: 32
// characters of that fit in 120 units but not in 123 bytes. ws.close() then
// threw inside the handshake's error path — an unhandled rejection, which
// `volly-pq proxy` treats as a crash (exit 1): one unauthenticated message
// took the proxy down. Now the refusal arrives and the proxy keeps serving.

import { CloseCode, decodeResponse, encodeHandshake, getKem, SUBPROTOCOL } from '@volly/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { connectPq } from '../harness/pq-signal.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';

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

function hello(algorithm: string): Promise<{ response: ReturnType<typeof decodeResponse>; code: number; reason: string }> {
  const ws = new WebSocket(`${proxy.wsUrl}/rtc`, SUBPROTOCOL);
  ws.on('error', () => {});
  const first = new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d)));
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  ws.once('open', () =>
    ws.send(encodeHandshake({ algorithm: algorithm as 'X-Wing', publicKey: getKem('X-Wing').keygen().publicKey, sessionId: 'A'.repeat(22) })),
  );
  const timeout = new Promise<never>((_, rej) => setTimeout(() => rej(new Error('no close from the proxy within 5 s')), 5000));
  return Promise.race([Promise.all([first, closed]).then(([f, c]) => ({ response: decodeResponse(f), ...c })), timeout]);
}

describe('close reasons longer than 123 UTF-8 bytes', () => {
  it('an unknown algorithm name of control characters and invalid UTF-8 is refused with 4403, and the proxy keeps serving', async () => {
    const algorithm = '\u0007'.repeat(12) + '\uFFFD'.repeat(20); // 156 UTF-8 bytes once quoted in the refusal
    const { response, code, reason } = await hello(algorithm);
    expect(response.success).toBe(false);
    expect(response.error).toMatch(/^unknown KEM algorithm/);
    expect(code).toBe(CloseCode.Refused);
    expect(Buffer.byteLength(reason)).toBeLessThanOrEqual(123);
    expect(reason).toMatch(/^unknown KEM algorithm/);
    const honest = await connectPq(proxy.wsUrl, await proxy.token(`after-${Date.now().toString(36)}`, 'honest'));
    expect(honest.join.participant?.identity).toBe('honest');
    await honest.close();
  });
});
