// fast-check generators for raw HTTP/1.x requests to the proxy: request lines
// (odd methods, paths with `//`, `//[`, `%`, `%zz`, unicode, `..`, very long
// ones, absolute-form URLs, `*`, odd versions), headers (duplicated, huge,
// missing Host, odd Content-Length / Transfer-Encoding, Bearer tokens valid,
// bound, bad or mutated, Origin), and bodies (JSON `null`, `[]`, strings,
// prototype keys, form bodies with access_token, protobuf bytes, SDP), on
// every route of the public listener and of the admin one.

import fc from 'fast-check';
import type { HttpTokens } from './fuzz-http-target.ts';

export type Listener = 'public' | 'admin';
/** Which credential the request carries: the bound-token oracle judges `bound` ones. */
export type Cred = 'none' | 'valid' | 'bound' | 'bad';

export interface HttpInput {
  readonly listener: Listener;
  readonly method: string;
  /** The request line's target, as sent. */
  readonly target: string;
  readonly cred: Cred;
  /** Tokens the request carries: none may come back in a response. */
  readonly tokens: readonly string[];
  /** The body is deliberately shorter than its framing says: we half-close after sending. */
  readonly short: boolean;
  readonly bytes: Buffer;
}

const TWIRP = [
  'ListRooms',
  'CreateRoom',
  'DeleteRoom',
  'ListParticipants',
  'GetParticipant',
  'RemoveParticipant',
  'UpdateParticipant',
  'UpdateRoomMetadata',
  'SendData',
  'MutePublishedTrack',
  'Nope',
];
export const PUBLIC_PATHS = [
  '/rtc/validate',
  '/rtc/v1/validate',
  ...TWIRP.map((m) => `/twirp/livekit.RoomService/${m}`),
  '/twirp/livekit.Egress/ListEgress',
  '/twirp/',
  '/whip/v1',
  '/whip/v1/PA_x',
  '/',
  '/demo',
  '/demo/',
  '/demo/index.html',
  '/demo/app.js',
  '/demo/token',
  '/demo/constructor',
  '/demo/__proto__',
  '/demo/toString',
  '/demo/hasOwnProperty',
  '/demo/../demo/app.js',
  '/rtc',
  '/rtc/v1',
  '/favicon.ico',
  '/healthz',
];
export const ADMIN_PATHS = ['/healthz', '/readyz', '/metrics', '/server-keys', '/', '/healthz/', '/metrics?x=1', '/nope'];

const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'CONNECT', 'PROPFIND', 'PRI', 'M-SEARCH', 'get', 'GÉT', 'G ET', ''];
const VERSIONS = ['HTTP/1.1', 'HTTP/1.1', 'HTTP/1.1', 'HTTP/1.0', 'HTTP/0.9', 'HTTP/2.0', 'HTTP/1.2', 'HTTP/9.9', 'http/1.1', 'HTTP/1.1 x', '', 'HTTP/1.1\0'];

/** Ways to bend a path; `[` right after `//` is what made `new URL` throw. */
const twistArb: fc.Arbitrary<(p: string) => string> = fc.constantFrom<(p: string) => string>(
  (p) => p,
  (p) => p,
  (p) => `/${p}`,
  () => '//[',
  (p) => `//[${p}`,
  () => '//[::1]/x',
  (p) => `${p}%`,
  (p) => `${p}%zz`,
  (p) => `${p}%00`,
  (p) => `${p.replace(/\//g, '%2f')}`,
  (p) => `${p}/..`,
  (p) => `/../..${p}`,
  (p) => `${p}/./`,
  (p) => `${p}é😀\u202e`,
  (p) => `${p}${'a'.repeat(9000)}`,
  (p) => `${p}${'/x'.repeat(40_000)}`,
  (p) => `http://127.0.0.1${p}`,
  (p) => `http://[${p}`,
  () => '*',
  () => '',
  (p) => `${p}?`,
  (p) => `${p}#frag`,
  (p) => p.replace(/\//g, '\\'),
  (p) => `${p} x`,
  (p) => `${p}\t`,
  (p) => p.toUpperCase(),
);

const jsonBodies = [
  'null',
  '[]',
  '"room"',
  '1',
  'true',
  '{}',
  '{"room":"fz-http-room","identity":"fz-demo"}',
  '{"room":"constructor","identity":"__proto__"}',
  '{"__proto__":{"room":"x"},"room":"r","identity":"i"}',
  '{"room":"r","identity":"i","algorithm":"ML-KEM-768","publicKey":"AAAA"}',
  '{"room":"r","identity":"i","algorithm":"toString","publicKey":{}}',
  '{"name":"fz-http-room"}',
  '{"room":"fz-http-room","identity":"fz-http-bound"}',
  '{"room":"fz-http-room","metadata":"x"}',
  `${'['.repeat(5000)}${']'.repeat(5000)}`,
  '{"room":',
  `{"room":"${'x'.repeat(20_000)}"}`,
];

/** A minimal but well-formed WHIP offer, so a token LiveKit accepts would join. */
export const SDP_OFFER = [
  'v=0',
  'o=- 4611731400430051336 2 IN IP4 127.0.0.1',
  's=-',
  't=0 0',
  'a=group:BUNDLE 0',
  'm=audio 9 UDP/TLS/RTP/SAVPF 111',
  'c=IN IP4 0.0.0.0',
  'a=ice-ufrag:fzht',
  'a=ice-pwd:fzhttpfuzzhttpfuzzhttpfu',
  `a=fingerprint:sha-256 ${Array.from({ length: 32 }, (_, i) => (i * 7).toString(16).padStart(2, '0').toUpperCase()).join(':')}`,
  'a=setup:actpass',
  'a=mid:0',
  'a=sendonly',
  'a=rtcp-mux',
  'a=rtpmap:111 opus/48000/2',
  '',
].join('\r\n');

/** A token with its signed part changed (so it cannot verify), or its signature cut or swapped. */
function breakToken(t: string, how: number): string {
  const [h = '', p = '', s = ''] = t.split('.');
  return [`${h}.${p.slice(0, -2)}xy.${s}`, `${h}.${p}.`, `${h}.${p}.${s.split('').reverse().join('')}`, `${t}.extra`, t.slice(0, 40)][how % 5] as string;
}

interface Credential {
  cred: Cred;
  token: string;
  place: 'bearer' | 'query' | 'form' | 'bearer+query' | 'bearer-odd';
}

function credentialArb(t: HttpTokens): fc.Arbitrary<Credential | undefined> {
  const place = fc.constantFrom<Credential['place']>('bearer', 'bearer', 'query', 'query', 'form', 'bearer+query', 'bearer-odd');
  const of = (cred: Cred, tokens: fc.Arbitrary<string>) => fc.record({ cred: fc.constant(cred), token: tokens, place });
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(undefined) },
    { weight: 3, arbitrary: of('valid', fc.constantFrom(t.admin, t.join)) },
    { weight: 4, arbitrary: of('bound', fc.constantFrom(...t.bound)) },
    {
      weight: 3,
      arbitrary: of(
        'bad',
        fc.oneof(
          fc.constantFrom(...t.bad),
          fc.tuple(fc.constantFrom(t.admin, ...t.bound), fc.nat(4)).map(([x, k]) => breakToken(x, k)),
        ),
      ),
    },
  );
}

type Framing = 'cl' | 'cl' | 'none' | 'cl-short' | 'cl-long' | 'chunked' | 'chunked-bad' | 'cl+te' | 'dup-cl' | 'cl-odd';
const FRAMINGS: Framing[] = ['cl', 'cl', 'cl', 'none', 'cl-short', 'cl-long', 'chunked', 'chunked-bad', 'cl+te', 'dup-cl', 'cl-odd'];

const extraHeaderArb: fc.Arbitrary<[string, string]> = fc.oneof(
  fc.constantFrom<[string, string]>(
    ['Origin', 'https://evil.example'],
    ['Origin', 'null'],
    ['X-Forwarded-For', '1.2.3.4, 10.0.0.1'],
    ['X-Real-IP', '8.8.8.8'],
    ['Connection', 'keep-alive'],
    ['Connection', 'Upgrade'],
    ['Upgrade', 'websocket'],
    ['Expect', '100-continue'],
    ['Accept-Encoding', 'gzip, br'],
    ['Cookie', 'a=b'],
    ['Authorization', 'Basic Zm9vOmJhcg=='],
    ['Authorization', 'Bearer'],
    ['Authorization', ''],
    ['X-Huge', 'h'.repeat(20_000)],
    ['X-Big', 'b'.repeat(70_000)],
    ['Bad Name', 'x'],
    ['X-Ctl', 'a\x01b'],
    ['X-Utf8', 'é😀'],
    ['X-Folded', 'a\r\n b'],
  ),
  fc.tuple(fc.stringMatching(/^[A-Za-z-]{1,12}$/), fc.string({ maxLength: 40 })).map(([k, v]) => [k, v.replace(/[\r\n]/g, '')] as [string, string]),
);

export interface RequestSpec {
  listener: Listener;
  method: string;
  path: string;
  adminPath: string;
  twist: (p: string) => string;
  version: string;
  host: 'normal' | 'missing' | 'dup' | 'odd';
  contentType: string | undefined;
  body: string;
  framing: Framing;
  cred: Credential | undefined;
  extra: Array<[string, string]>;
  manyHeaders: boolean;
  pipelined: boolean;
  /** Most requests are well framed (the bugs live in the handlers behind the parser): only the target and tokens vary. */
  wellFramed: boolean;
}

export function requestSpecArb(t: HttpTokens): fc.Arbitrary<RequestSpec> {
  return fc.record({
    listener: fc.constantFrom<Listener>('public', 'public', 'public', 'public', 'public', 'public', 'admin'),
    method: fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom('GET', 'POST') },
      { weight: 3, arbitrary: fc.constantFrom(...METHODS) },
      fc.string({ maxLength: 10 }),
    ),
    path: fc.oneof(
      { weight: 9, arbitrary: fc.constantFrom(...PUBLIC_PATHS) },
      fc.webPath(),
      fc.string({ maxLength: 30 }).map((s) => `/${s}`),
    ),
    adminPath: fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...ADMIN_PATHS) }, fc.webPath()),
    twist: twistArb,
    version: fc.constantFrom(...VERSIONS),
    host: fc.constantFrom<RequestSpec['host']>('normal', 'normal', 'normal', 'normal', 'missing', 'dup', 'odd'),
    contentType: fc.constantFrom(undefined, 'application/json', 'application/x-www-form-urlencoded', 'application/protobuf', 'application/sdp', 'text/plain'),
    body: fc.oneof(
      { weight: 3, arbitrary: fc.constant('') },
      { weight: 4, arbitrary: fc.constantFrom(...jsonBodies) },
      fc.constant(SDP_OFFER),
      fc.string({ maxLength: 200 }),
      fc.uint8Array({ maxLength: 64 }).map((b) => Buffer.from(b).toString('latin1')),
      fc.json({ maxDepth: 3 }),
    ),
    framing: fc.constantFrom(...FRAMINGS),
    cred: credentialArb(t),
    extra: fc.array(extraHeaderArb, { maxLength: 4 }),
    manyHeaders: fc.nat(9).map((n) => n === 0),
    pipelined: fc.nat(19).map((n) => n === 0),
    wellFramed: fc.nat(9).map((n) => n < 6),
  });
}

/** The bytes on the wire for a spec. */
/** Header lines Node's parser refuses (400 or 431 before any handler runs). */
const BREAKS_PARSER = /^(Bad Name|X-Ctl|X-Folded|X-Big|X-Huge)$/;

/** The spec with framing an HTTP/1.1 parser accepts, when `wellFramed`. */
function framed(s: RequestSpec): RequestSpec {
  if (!s.wellFramed) return s;
  return {
    ...s,
    method: /^[A-Z-]+$/.test(s.method) && s.method !== 'PRI' ? s.method : 'GET',
    version: 'HTTP/1.1',
    host: s.host === 'odd' ? 'normal' : s.host,
    framing: s.framing === 'chunked' || s.framing === 'none' ? s.framing : 'cl',
    extra: s.extra.filter(([k]) => !BREAKS_PARSER.test(k) && /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/.test(k)),
    manyHeaders: false,
  };
}

export function render(spec: RequestSpec, hostPort: string): HttpInput {
  const s = framed(spec);
  const path = s.listener === 'admin' ? s.adminPath : s.path;
  const headers: Array<[string, string]> = [];
  if (s.host === 'normal') headers.push(['Host', hostPort]);
  else if (s.host === 'dup') headers.push(['Host', hostPort], ['Host', 'evil.example']);
  else if (s.host === 'odd') headers.push(['Host', '[']);
  let target = s.twist(path);
  let body = s.body;
  const c = s.cred;
  if (c) {
    if (c.place.startsWith('bearer')) headers.push(['Authorization', c.place === 'bearer-odd' ? `bearer   ${c.token}` : `Bearer ${c.token}`]);
    if (c.place === 'query' || c.place === 'bearer+query') target += `${target.includes('?') ? '&' : '?'}access_token=${c.token}`;
    if (c.place === 'form') body = `access_token=${c.token}&room=fz-http-room`;
  }
  if (c?.place === 'form') headers.push(['Content-Type', 'application/x-www-form-urlencoded']);
  else if (s.contentType) headers.push(['Content-Type', s.contentType]);
  const payload = Buffer.from(body, 'utf8');
  let wire = payload;
  let short = false;
  switch (s.framing) {
    case 'cl':
      if (payload.length || s.method === 'POST') headers.push(['Content-Length', String(payload.length)]);
      break;
    case 'cl-short':
      headers.push(['Content-Length', String(payload.length + 10)]);
      short = true;
      break;
    case 'cl-long':
      headers.push(['Content-Length', String(Math.max(0, payload.length - 3))]);
      break;
    case 'chunked':
      headers.push(['Transfer-Encoding', 'chunked']);
      wire = Buffer.concat([
        Buffer.from(payload.length ? `${payload.length.toString(16)}\r\n` : ''),
        payload,
        Buffer.from(payload.length ? '\r\n0\r\n\r\n' : '0\r\n\r\n'),
      ]);
      break;
    case 'chunked-bad':
      headers.push(['Transfer-Encoding', 'chunked']);
      wire = Buffer.concat([Buffer.from('zz\r\n'), payload]);
      break;
    case 'cl+te':
      headers.push(['Content-Length', String(payload.length)], ['Transfer-Encoding', 'chunked, identity']);
      break;
    case 'dup-cl':
      headers.push(['Content-Length', String(payload.length)], ['Content-Length', String(payload.length + 1)]);
      break;
    case 'cl-odd':
      headers.push(['Content-Length', ['-1', 'abc', '1,1', ` ${payload.length}`, '0x10', '99999999999999999999'][payload.length % 6] as string]);
      break;
  }
  headers.push(...s.extra);
  if (s.manyHeaders) for (let i = 0; i < 300; i++) headers.push([`X-H${i}`, 'v']);
  const head = `${s.method} ${target} ${s.version}\r\n${headers.map(([k, v]) => `${k}: ${v}`).join('\r\n')}\r\n\r\n`;
  const one = Buffer.concat([Buffer.from(head, 'utf8'), wire]);
  const bytes = s.pipelined ? Buffer.concat([one, Buffer.from(`GET /demo/constructor HTTP/1.1\r\nHost: ${hostPort}\r\n\r\n`)]) : one;
  return { listener: s.listener, method: s.method, target, cred: c?.cred ?? 'none', tokens: c ? [c.token] : [], short, bytes };
}
