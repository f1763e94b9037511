// A volly-pq.v2 first flight through Debian's nginx with its default header
// buffers (large_client_header_buffers 4 8k) in front of the proxy
// (PROTOCOL.md v2.2 "Sizes and limits"): a bound X-Wing join — the largest
// ClientHello and token — with a query the size of livekit-client's /rtc/v1
// join with an offer passes nginx and Node's header limit and joins; a flight
// whose request line would pass 8192 bytes is refused by nginx, which is why
// the client refuses to send one.

import { getKem } from '@volly/shared';
import { afterAll, beforeAll, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type BenchNginx, nginxAvailable, startNginx } from '../bench/lib/servers.ts';
import { kemKeyFile } from '../harness/key-files.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { connectV2, flightUrl, newFlight } from '../harness/v2-signal.ts';

const KEY = kemKeyFile();

let livekit: LiveKitServer;
let proxy: TestProxy;
let nginx: BenchNginx;

beforeAll(async () => {
  if (!nginxAvailable()) throw new Error('nginx is needed: apt-get install nginx-light');
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: KEY });
  // startNginx proxies to a LiveKit-shaped target: here the proxy's public listener.
  nginx = await startNginx({ ...livekit, host: '127.0.0.1', port: proxy.proxy.port } as LiveKitServer);
});
afterAll(async () => {
  await nginx?.stop();
  await proxy?.close();
  await livekit?.stop();
});

/** A bound X-Wing token and its key pair. */
async function boundToken(room: string, identity: string) {
  const keyPair = getKem('X-Wing').keygen();
  const token = await proxy.token(room, identity, { bind: { algorithm: 'X-Wing', publicKey: keyPair.publicKey } });
  return { token, bound: { algorithm: 'X-Wing' as const, keyPair } };
}

it('a bound X-Wing join with a join-with-offer sized query passes nginx’s default buffers and joins', async () => {
  const { token, bound } = await boundToken('v2-nginx', 'ursula');
  // livekit-client's /rtc/v1 join with a Chromium offer is about 1805 bytes of query (PROTOCOL.md's table).
  const opts = { bound, extraQuery: { pad: 'x'.repeat(2100) } };
  const { flight } = await newFlight(proxy.wsUrl, token, opts);
  expect(flight.sizes.requestLine).toBeGreaterThan(6100);
  expect(flight.sizes.requestLine).toBeLessThanOrEqual(8192);
  const sig = await connectV2(nginx.wsUrl, token, opts);
  expect(sig.join.participant?.identity).toBe('ursula');
  await sig.close();
});

it('a request line over 8192 bytes: the client refuses to send it, and nginx would refuse it', async () => {
  const { token, bound } = await boundToken('v2-nginx', 'victor');
  const big = { bound, extraQuery: { pad: 'x'.repeat(4000) } };
  await expect(newFlight(proxy.wsUrl, token, big)).rejects.toMatchObject({ code: 'ERR_V2_TOO_LARGE' });
  // Sent anyway (a client with a raised limit): nginx answers before the proxy sees it.
  const { flight, path } = await newFlight(proxy.wsUrl, token, { ...big, maxHeaderLine: 16_384 });
  const ws = new WebSocket(flightUrl(nginx.wsUrl, path, flight), [...flight.protocols]);
  ws.on('error', () => {});
  const status = await new Promise<number>((resolve) => ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0)));
  expect([400, 414]).toContain(status);
});
