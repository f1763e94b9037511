// Input number i of an SDK-side tunnel fuzz run, deterministic per (seed, i):
// the HTTP fuzz's generated requests (fuzz-http-gen.ts) and mutations of
// honest tunnel requests (fuzz-http-mutate.ts), the crash inputs issue 12
// names, WebSocket upgrades with fuzzed paths, queries, subprotocols and
// headers, and a real join followed by fuzzed frames (fuzz-tunnel-frames.ts).

import { isAgentPath, isUpgradePath, isValidatePath } from '@volly/shared';
import fc from 'fast-check';
import { signalUrl } from '../../harness/signal.ts';
import { type HttpInput, type RequestSpec, render, requestSpecArb } from './fuzz-http-gen.ts';
import { KNOWN } from './fuzz-http-inputs.ts';
import { mutateSeed } from './fuzz-http-mutate.ts';
import { type FrameSpec, frameSpec } from './fuzz-tunnel-frames.ts';
import type { TunnelFuzzTarget } from './fuzz-tunnel-target.ts';
import { Prng } from './mutate.ts';

export interface UpgradeInfo {
  readonly path: string;
  /** Carries a signaling token (SigTokens): must never cross the tap in clear. */
  readonly sig: boolean;
  /** A well-formed upgrade to a signaling path: the only kind the tunnel may dial the proxy for. */
  readonly dials: boolean;
  /** LiveKit's agent worker path: the socket opens once the PQ session is keyed (LiveKit says nothing first), a refusal closes it after. */
  readonly agent: boolean;
}

export type SdkInput =
  | { readonly kind: 'known' | 'http' | 'http-mutated'; readonly http: HttpInput }
  | { readonly kind: 'upgrade'; readonly http: HttpInput; readonly upgrade: UpgradeInfo }
  | { readonly kind: 'frames'; readonly frames: FrameSpec; readonly join: 'v1-path' | 'rtc' };

const SIGNAL = ['/rtc', '/rtc/v1', '/rtc/', '//rtc', '/rtc/v1/', '/prefix/rtc', '/rtc//v1', '/agent'];
const OTHER = [
  '/',
  '/rtc/validate',
  '/rtc/v1/validate',
  '/rtcx',
  '/rtc/v2',
  '/twirp/livekit.RoomService/ListRooms',
  '//[',
  '/%zz',
  '/rtc%2fv1',
  '/rtc?',
  '/x'.repeat(3000),
  '/é',
];
const SUBPROTOCOLS = [undefined, 'volly-pq.v1', 'volly-pq.v2', 'volly-pq.v1, volly-pq.v2', ',', '', 'x'.repeat(5000), 'a b', 'é', 'chat, superchat'];
const KEYS = ['dm9sbHktZnV6ei1rZXkxMg==', 'dm9sbHktZnV6ei1rZXkxMg==', '', 'short', 'dm9sbHktZnV6ei1rZXkxMg', '!!!!!!!!!!!!!!!!!!!!!!=='];
const VERSIONS = ['13', '13', '13', '8', '', '13, 13', 'x'];

/** Honest tunnel requests to mutate; the token in them is the HTTP fuzz's (a mutation may send it on in clear). */
function seeds(t: TunnelFuzzTarget): Buffer[] {
  const h = `Host: ${t.host}:${t.port}`;
  const ws = 'Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dm9sbHktZnV6ei1rZXkxMg==\r\nSec-WebSocket-Version: 13';
  return [
    `GET /rtc/validate?access_token=${t.http.join}&protocol=16 HTTP/1.1\r\n${h}\r\n\r\n`,
    `GET /rtc/v1/validate?access_token=${t.http.join} HTTP/1.1\r\n${h}\r\n\r\n`,
    `POST /twirp/livekit.RoomService/ListRooms HTTP/1.1\r\n${h}\r\nAuthorization: Bearer ${t.http.admin}\r\nContent-Type: application/json\r\nContent-Length: 2\r\n\r\n{}`,
    `GET /rtc?access_token=${t.http.join}&protocol=16&sdk=js HTTP/1.1\r\n${h}\r\n${ws}\r\n\r\n`,
    `GET /rtc/v1 HTTP/1.1\r\n${h}\r\nAuthorization: Bearer ${t.http.bad[0]}\r\n${ws}\r\nSec-WebSocket-Protocol: volly-pq.v1\r\n\r\n`,
    `GET / HTTP/1.1\r\n${h}\r\n\r\n`,
  ].map((s) => Buffer.from(s, 'latin1'));
}

/** The path as the tunnel reads it (server.ts pathOf). */
function tunnelPath(target: string): string {
  try {
    return new URL(target, 'http://tunnel.invalid').pathname.replace(/\/{2,}/g, '/');
  } catch {
    return '';
  }
}

function upgradeInput(t: TunnelFuzzTarget, r: Prng, query: string): SdkInput {
  const signal = r.chance(0.7);
  const path = signal ? r.pick(SIGNAL) : r.pick(OTHER);
  const method = r.chance(0.9) ? 'GET' : r.pick(['POST', 'HEAD', 'PUT', 'get']);
  const tok = r.int(10);
  let token = tok < 4 ? t.sig.bad : tok < 6 ? r.pick(t.http.bound) : tok < 7 ? r.pick(t.http.bad) : tok < 8 ? 'eyJ.garbage' : '';
  // the signaling token only where the tunnel seals it or answers itself (a plain request elsewhere is forwarded, by design)
  const local = isUpgradePath(tunnelPath(path)) || (isValidatePath(tunnelPath(path)) && (method === 'GET' || method === 'HEAD'));
  if (token === t.sig.bad && !local) token = t.http.bad[0] as string;
  const sig = token === t.sig.bad;
  const inHeader = r.chance(0.2);
  const q = [query, !inHeader && token ? `access_token=${token}` : ''].filter(Boolean).join('&');
  const key = r.pick(KEYS);
  const version = r.pick(VERSIONS);
  const upgradeHeader = r.chance(0.9) ? 'websocket' : r.pick(['WebSocket', 'h2c', '', 'websocket, x']);
  const proto = r.pick(SUBPROTOCOLS);
  const lines = [
    `${method} ${path}${q ? `?${q}` : ''} HTTP/1.1`,
    `Host: ${t.host}:${t.port}`,
    `Upgrade: ${upgradeHeader}`,
    `Connection: ${r.chance(0.9) ? 'Upgrade' : r.pick(['keep-alive', 'close', 'upgrade, keep-alive'])}`,
    ...(key ? [`Sec-WebSocket-Key: ${key}`] : []),
    ...(version ? [`Sec-WebSocket-Version: ${version}`] : []),
    ...(proto !== undefined ? [`Sec-WebSocket-Protocol: ${proto}`] : []),
    ...(inHeader && token ? [`Authorization: ${r.pick(['Bearer', 'bearer', 'Basic'])} ${token}`] : []),
    ...(r.chance(0.2) ? [`Origin: ${r.pick(['https://evil.example', 'null', 'http://127.0.0.1'])}`] : []),
    ...(r.chance(0.1) ? ['Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits'] : []),
    ...(r.chance(0.05) ? [`X-Big: ${'b'.repeat(20_000)}`] : []),
  ];
  const bytes = Buffer.from(`${lines.join('\r\n')}\r\n\r\n`, 'utf8');
  // What the tunnel's own checks let through to a dial (signal.ts badUpgrade, server.ts isUpgradePath).
  const dials = isUpgradePath(tunnelPath(path)) && method === 'GET' && /^websocket$/i.test(upgradeHeader) && key === KEYS[0] && version === '13';
  const http: HttpInput = { listener: 'public', method, target: path, cred: sig ? 'bad' : 'none', tokens: token ? [token] : [], short: false, bytes };
  return { kind: 'upgrade', http, upgrade: { path, sig, dials, agent: isAgentPath(tunnelPath(path)) } };
}

export class SdkInputs {
  readonly #buf = new Map<number, RequestSpec[]>();
  readonly #query = new Map<number, string[]>();
  readonly #arb: fc.Arbitrary<RequestSpec>;
  readonly #seeds: Buffer[];
  private readonly t: TunnelFuzzTarget;
  private readonly seed: number;
  constructor(t: TunnelFuzzTarget, seed: number) {
    this.t = t;
    this.seed = seed;
    this.#arb = requestSpecArb(t.http);
    this.#seeds = seeds(t);
  }

  /** fast-check samples in batches of 64, deterministic per (seed, batch). */
  #sample<T>(cache: Map<number, T[]>, arb: fc.Arbitrary<T>, i: number): T {
    const batch = Math.floor(i / 64);
    let b = cache.get(batch);
    if (!b) {
      if (cache.size > 64) cache.clear();
      b = fc.sample(arb, { seed: this.seed + 7919 * batch, numRuns: 64 });
      cache.set(batch, b);
    }
    return b[i % 64] as T;
  }

  at(i: number, queryArb: fc.Arbitrary<string>): SdkInput {
    const r = new Prng((this.seed * 2654435761 + i * 40503) >>> 0);
    const k = r.int(100);
    if (k < 2) {
      const bytes = Buffer.from(r.pick(KNOWN));
      const [method = '', target = ''] = bytes.toString('latin1').split(/ +/);
      return { kind: 'known', http: { listener: 'public', method, target, cred: 'none', tokens: [], short: false, bytes } };
    }
    if (k < 22) return { kind: 'http-mutated', http: mutateSeed(r.pick(this.#seeds), this.#seeds, this.t.http, r) };
    if (k < 50) {
      const spec = this.#sample(this.#buf, this.#arb, i);
      // the tunnel has no admin listener of its own to fuzz: everything goes to the SDK-facing one
      return { kind: 'http', http: render({ ...spec, listener: 'public' }, `${this.t.host}:${this.t.port}`) };
    }
    if (k < 94) return upgradeInput(this.t, r, this.#sample(this.#query, queryArb, i));
    return { kind: 'frames', frames: frameSpec(r), join: r.chance(0.5) ? 'v1-path' : 'rtc' };
  }
}

/** The path and query of a real join for `token` (the raw signal harness's URL). */
export function joinPath(token: string, kind: 'v1-path' | 'rtc'): string {
  const u = new URL(signalUrl('ws://127.0.0.1:1', token, undefined, { path: kind === 'rtc' ? '/rtc' : '/rtc/v1' }));
  return `${u.pathname}${u.search}`;
}
