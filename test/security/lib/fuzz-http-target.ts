// The plain-HTTP fuzz target: a real LiveKit, and `volly-pq proxy` in front of
// it as a child process (startChildProxy, the launcher the fault tests use),
// with the demo routes on, so a crash is the process exiting. Also mints the
// tokens inputs carry and records honest requests (livekit-server-sdk's
// RoomServiceClient, a validate probe, the demo page) through a TCP tap, as
// seeds for mutation.

import { connect, createServer, type Socket } from 'node:net';
import { addPqClaims, getKem, type KemAlgorithm } from '@volly/shared';
import { AccessToken, RoomServiceClient, type VideoGrant } from 'livekit-server-sdk';
import { type ChildProxy, startChildProxy } from '../../harness/child-proxy.ts';
import { generateApiKeyPair, type LiveKitServer, startLiveKit } from '../../harness/livekit.ts';

/** Identities whose tokens must never get a participant into LiveKit. */
export const MUST_NOT_JOIN = ['fz-http-bound', 'fz-http-bad'] as const;

export interface HttpTokens {
  /** Valid, unbound, Twirp admin grants (no roomJoin). */
  readonly admin: string;
  /** Valid, unbound, roomJoin for fz-http-room (identity fz-http-ok). */
  readonly join: string;
  /** PQ-bound (both KEMs), with roomJoin and admin grants: must never get a 2xx outside a PQ session. */
  readonly bound: readonly string[];
  /** Built to fail: wrong key, expired, alg none, unknown kid (identity fz-http-bad). */
  readonly bad: readonly string[];
}

export interface HttpFuzzTarget {
  readonly livekit: LiveKitServer;
  readonly proxy: ChildProxy;
  readonly host: string;
  readonly port: number;
  readonly adminPort: number;
  readonly url: string;
  readonly tokens: HttpTokens;
  /** Strings no response may contain: the client secret and the upstream secret. */
  readonly secrets: readonly string[];
  /** Raw honest requests recorded through the proxy. */
  readonly seeds: readonly Buffer[];
  close(): Promise<void>;
}

const ADMIN_GRANT: VideoGrant = { roomList: true, roomAdmin: true, roomCreate: true, room: 'fz-http-room' };

async function mint(key: string, secret: string, identity: string, grant: VideoGrant, opts: { ttl?: string; alg?: KemAlgorithm } = {}): Promise<string> {
  const at = new AccessToken(key, secret, { identity, ttl: opts.ttl ?? '4h' });
  at.addGrant(grant);
  if (opts.alg) addPqClaims(at, { algorithm: opts.alg, publicKey: getKem(opts.alg).keygen().publicKey, keyExpiry: Math.floor(Date.now() / 1000) + 4 * 3600 });
  return at.toJwt();
}

const b64 = (o: unknown) => Buffer.from(JSON.stringify(o)).toString('base64url');

async function mintTokens(key: string, secret: string): Promise<HttpTokens> {
  const joinGrant: VideoGrant = { roomJoin: true, room: 'fz-http-room', canPublish: true, canSubscribe: true };
  const other = generateApiKeyPair();
  const now = Math.floor(Date.now() / 1000);
  const noneAlg = `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ iss: key, sub: 'fz-http-bad', exp: now + 3600, video: { ...joinGrant, ...ADMIN_GRANT } })}.`;
  return {
    admin: await mint(key, secret, 'fz-http-admin', ADMIN_GRANT),
    join: await mint(key, secret, 'fz-http-ok', joinGrant),
    bound: await Promise.all((['ML-KEM-768', 'X-Wing'] as const).map((alg) => mint(key, secret, 'fz-http-bound', { ...joinGrant, ...ADMIN_GRANT }, { alg }))),
    bad: [
      await mint(key, other.apiSecret, 'fz-http-bad', { ...joinGrant, ...ADMIN_GRANT }),
      await mint(other.apiKey, other.apiSecret, 'fz-http-bad', { ...joinGrant, ...ADMIN_GRANT }),
      await mint(key, secret, 'fz-http-bad', { ...joinGrant, ...ADMIN_GRANT }, { ttl: '-1h' }),
      noneAlg,
    ],
  };
}

/** A TCP tap in front of the proxy that keeps what clients sent, split into requests. */
async function recordThrough(port: number, run: (url: string) => Promise<void>): Promise<Buffer[]> {
  const chunks: Buffer[][] = [];
  const sockets = new Set<Socket>();
  const tap = createServer((c) => {
    const mine: Buffer[] = [];
    chunks.push(mine);
    const up = connect(port, '127.0.0.1');
    sockets.add(c).add(up);
    c.on('data', (d) => {
      mine.push(d);
      up.write(d);
    });
    up.pipe(c);
    const end = () => {
      c.destroy();
      up.destroy();
    };
    c.on('close', end).on('error', end);
    up.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => tap.listen(0, '127.0.0.1', r));
  const tapPort = (tap.address() as { port: number }).port;
  try {
    await run(`http://127.0.0.1:${tapPort}`);
  } finally {
    for (const s of sockets) s.destroy();
    await new Promise((r) => tap.close(r));
  }
  return chunks.flatMap((c) => splitRequests(Buffer.concat(c)));
}

/** Keep-alive streams cut into single requests by their Content-Length (what undici sends). */
export function splitRequests(stream: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let rest = stream;
  while (rest.length) {
    const end = rest.indexOf('\r\n\r\n');
    if (end < 0) break;
    const len = Number(/\r\ncontent-length: *(\d+)/i.exec(rest.subarray(0, end).toString('latin1'))?.[1] ?? 0);
    out.push(rest.subarray(0, end + 4 + len));
    rest = rest.subarray(end + 4 + len);
  }
  return out;
}

async function recordSeeds(port: number, key: string, secret: string, tokens: HttpTokens): Promise<Buffer[]> {
  return recordThrough(port, async (url) => {
    const rs = new RoomServiceClient(url, key, secret);
    await rs.createRoom({ name: 'fz-http-seed', emptyTimeout: 60 });
    await rs.listRooms();
    await rs.listRooms(['fz-http-seed']);
    await rs.listParticipants('fz-http-seed');
    await rs.updateRoomMetadata('fz-http-seed', 'seed').catch(() => undefined);
    await rs.getParticipant('fz-http-seed', 'nobody').catch(() => undefined);
    await rs.deleteRoom('fz-http-seed');
    const get = (path: string, init: RequestInit = {}) => fetch(`${url}${path}`, init).then((r) => r.arrayBuffer());
    await get(`/rtc/validate?access_token=${tokens.join}`);
    await get(`/rtc/v1/validate?access_token=${tokens.join}`);
    await get('/');
    await get('/demo/');
    await get('/demo/token', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ room: 'fz-http-room', identity: 'fz-demo' }),
    });
    await get('/whip/v1', { method: 'POST', headers: { 'content-type': 'application/sdp', authorization: `Bearer ${tokens.bad[0]}` }, body: 'v=0\r\n' });
  });
}

export async function startHttpFuzzTarget(opts: { env?: Record<string, string> } = {}): Promise<HttpFuzzTarget> {
  const livekit = await startLiveKit({ logLevel: 'info' });
  // demo routes live on the loopback public listener; the log at warn keeps the child's log file small
  const proxy = await startChildProxy(livekit, { inspect: false, env: { VOLLY_DEMO: '1', VOLLY_LOG_LEVEL: 'warn', ...opts.env } });
  const tokens = await mintTokens(proxy.apiKey, proxy.apiSecret);
  const seeds = await recordSeeds(proxy.port, proxy.apiKey, proxy.apiSecret, tokens);
  return {
    livekit,
    proxy,
    host: '127.0.0.1',
    port: proxy.port,
    adminPort: Number(new URL(proxy.adminUrl).port),
    url: `http://127.0.0.1:${proxy.port}`,
    tokens,
    secrets: [proxy.apiSecret, livekit.apiSecret],
    seeds,
    async close() {
      await proxy.stop();
      await livekit.stop();
    },
  };
}
