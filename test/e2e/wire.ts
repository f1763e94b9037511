// What a page's Chromium put on the wire, from its own network stack (CDP
// Network events): every HTTP request and WebSocket upgrade with its URL and
// headers, and every WebSocket frame it sent. The browser tests check that
// nothing secret (a token, a join request, an SDP) is in any of it.

import type { Page } from 'playwright-core';
import { expect } from 'vitest';

export interface Wire {
  /** HTTP requests: URL and headers (the renderer's and the network stack's extra ones). */
  readonly requests: Array<{ url: string; headers: Record<string, string> }>;
  /** WebSocket upgrades: URL and the handshake request's headers. */
  readonly sockets: Array<{ url: string; headers: Record<string, string> }>;
  /** Frames the page sent, binary ones decoded as latin1 (so byte strings can be searched for). */
  readonly frames: Array<{ opcode: number; text: string }>;
  /** Every URL and header line (`name: value`) the page sent. */
  all(): string[];
}

export async function recordWire(page: Page): Promise<Wire> {
  const requests: Wire['requests'] = [];
  const sockets: Wire['sockets'] = [];
  const frames: Wire['frames'] = [];
  const socketUrls = new Map<string, string>();
  const session = await page.context().newCDPSession(page);
  session.on('Network.requestWillBeSent', (e) => requests.push({ url: e.request.url, headers: { ...e.request.headers } }));
  session.on('Network.requestWillBeSentExtraInfo', (e) => requests.push({ url: '', headers: { ...e.headers } }));
  session.on('Network.webSocketCreated', (e) => socketUrls.set(e.requestId, e.url));
  session.on('Network.webSocketWillSendHandshakeRequest', (e) =>
    sockets.push({ url: socketUrls.get(e.requestId) ?? '', headers: { ...(e.request.headers as Record<string, string>) } }),
  );
  session.on('Network.webSocketFrameSent', (e) => {
    const { opcode, payloadData } = e.response;
    frames.push({ opcode, text: opcode === 2 ? Buffer.from(payloadData, 'base64').toString('latin1') : payloadData });
  });
  await session.send('Network.enable');
  const lines = (r: { url: string; headers: Record<string, string> }) => [r.url, ...Object.entries(r.headers).map(([k, v]) => `${k}: ${v}`)];
  return { requests, sockets, frames, all: () => [...requests.flatMap(lines), ...sockets.flatMap(lines)] };
}

/** The headers Chromium puts on any WebSocket upgrade (no Cookie or Authorization: nothing the app chose). */
const UPGRADE_HEADERS = new Set([
  'accept-encoding',
  'accept-language',
  'cache-control',
  'connection',
  'host',
  'origin',
  'pragma',
  'sec-websocket-extensions',
  'sec-websocket-key',
  'sec-websocket-protocol',
  'sec-websocket-version',
  'upgrade',
  'user-agent',
]);

/** The v2 upgrades a page made, with everything it sent; checks that none of it carries the token, a LiveKit query or an SDP. */
export function expectNothingInTheClear(wire: Wire, rtcUrl: string, token: string | undefined): number {
  const upgrades = wire.sockets.filter((s) => s.url.startsWith(rtcUrl));
  /** The early frame and the ClientHello as bytes (latin1), so a token inside them in the clear would be found too. */
  const decoded: string[] = [];
  const bytesOf = (b64u: string) => Buffer.from(b64u, 'base64url').toString('latin1');
  for (const s of upgrades) {
    const u = new URL(s.url);
    expect(u.pathname).toMatch(/^\/rtc(\/v1)?$/);
    expect([...u.searchParams.keys()], s.url).toEqual(['volly_early']);
    // Only Chromium's own handshake headers; the subprotocols are the two v2 offers (the second the ClientHello).
    expect(
      Object.keys(s.headers)
        .map((k) => k.toLowerCase())
        .filter((k) => !UPGRADE_HEADERS.has(k)),
      JSON.stringify(s.headers),
    ).toEqual([]);
    const header = (n: string) => Object.entries(s.headers).find(([k]) => k.toLowerCase() === n)?.[1];
    const offers = header('sec-websocket-protocol') ?? '';
    expect(offers).toMatch(/^volly-pq\.v2, ?volly-pq\.v2\.[A-Za-z0-9_-]+$/);
    decoded.push(bytesOf(u.searchParams.get('volly_early') ?? ''), bytesOf(offers.split('volly-pq.v2.')[1] ?? ''));
  }
  const sent = [...wire.all(), ...decoded, ...wire.frames.map((f) => f.text)];
  for (const needle of ['access_token', 'join_request', 'a=ice-ufrag', 'a=fingerprint:', 'v=0\r\n']) {
    expect(
      sent.filter((x) => x.includes(needle)),
      needle,
    ).toEqual([]);
  }
  if (token) for (const part of token.split('.').slice(1)) expect(sent.filter((x) => x.includes(part))).toEqual([]);
  return upgrades.length;
}
