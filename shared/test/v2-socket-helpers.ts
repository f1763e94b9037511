/** Helpers of the pq-websocket-v2*.test.ts files: a fake proxy per test, tokens, socket options, and a socket's outcome. */
import { afterEach } from 'vitest';
import WsWebSocket from 'ws';
import { getAead, getKem, type KemBackendName, type PqWebSocket, type PqWebSocketOptions, randomBytes, ServerKeyCache, toBase64Url } from '../src/index.js';
import { FakeV2Proxy } from './v2-fake-proxy.js';

const proxies: FakeV2Proxy[] = [];
afterEach(async () => {
  await Promise.all(proxies.splice(0).map((p) => p.close()));
});

export async function start(algorithm: 'X-Wing' | 'ML-KEM-768' = 'X-Wing', backend?: KemBackendName): Promise<FakeV2Proxy> {
  const p = await new FakeV2Proxy(algorithm, backend).listen();
  proxies.push(p);
  return p;
}

/** A JWT-shaped token whose payload the client can read (the fake proxy does not verify it). */
export function token(video: Record<string, unknown> = { roomJoin: true, room: 'r' }): string {
  const payload = toBase64Url(new TextEncoder().encode(JSON.stringify({ sub: 'alice', video })));
  return `eyJhbGciOiJIUzI1NiJ9.${payload}.${'s'.repeat(43)}`;
}

/** A video grant built with the token helpers, as an app's token server would. */
export function grant(build: (t: { addGrant(g: object): void }) => void): Record<string, unknown> {
  const video: Record<string, unknown> = { roomJoin: true, room: 'r' };
  build({ addGrant: (g) => Object.assign(video, g) });
  return video;
}

export function options(extra: Partial<PqWebSocketOptions> = {}, backend?: KemBackendName): PqWebSocketOptions {
  return {
    protocol: 'auto',
    getKem: (a) => getKem(a, backend),
    aead: getAead(),
    randomBytes,
    WebSocket: WsWebSocket as unknown as typeof globalThis.WebSocket,
    keyCache: new ServerKeyCache(),
    ...extra,
  };
}

export type Outcome = { opened: true; data: unknown; events: string[] } | { opened: false; code: number; reason: string; events: string[] };

/** Runs a socket to its first message (joined) or its close (refused), recording the events in order. */
export function outcome(ws: PqWebSocket): Promise<Outcome> {
  const events: string[] = [];
  ws.binaryType = 'arraybuffer';
  return new Promise((resolve) => {
    ws.onopen = () => events.push('open');
    ws.onerror = () => events.push('error');
    ws.onmessage = (ev) => {
      events.push('message');
      resolve({ opened: true, data: (ev as MessageEvent).data, events });
    };
    ws.onclose = (ev) => {
      events.push('close');
      const { code, reason } = ev as CloseEvent;
      resolve({ opened: false, code, reason, events });
    };
  });
}

export const signalUrl = (p: FakeV2Proxy, t = token(), path = '/rtc/v1') => `ws://${p.origin}${path}?access_token=${t}&auto_subscribe=1&sdk=js`;
