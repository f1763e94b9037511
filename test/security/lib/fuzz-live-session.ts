// One client connection's life in the fuzzer: raw sockets spread over
// 127.0.0.2-127.0.0.250 (so a million short connections never run out of
// ports), honest handshakes up to the genuine VollyConnect, and how an input's
// connection is judged before and after keys exist.

import {
  clientHandshake,
  decodeResponse,
  encodeControl,
  encodeHandshake,
  FrameKind,
  FrameSealer,
  getAead,
  getKem,
  type KemAlgorithm,
  type KemKeyPair,
  randomBytes,
  SESSION_ID_PARAM,
  SUBPROTOCOL,
  sealedChannel,
  toBase64Url,
} from '@volly/shared';
import type { RawPq } from '../../harness/raw-pq.ts';
import { type Dialed, dialRaw, type RawConn } from '../../harness/raw-socket.ts';
import { ALGS, type FuzzTarget, type InputResult, type Keyed, type ProxyEndpoint } from './fuzz-live-types.ts';
import type { Prng } from './mutate.ts';

const aead = getAead();

let addrCounter = 0;
const localAddress = () => `127.0.0.${2 + (addrCounter++ % 249)}`;

export function dial(
  target: ProxyEndpoint,
  path: string,
  protocol: string | undefined,
  opts: { headers?: Record<string, string>; early?: Array<Uint8Array | string> } = {},
): Promise<Dialed> {
  return dialRaw({ host: target.host, port: target.port, localAddress: localAddress(), path, protocol, ...opts });
}

/** Pre-key observation: pq_response(s) then a close. A successful pq_response with nothing more to send: we leave. */
export async function observePre(conn: RawConn): Promise<InputResult> {
  const first = await conn.next(4500);
  if (first) {
    let ok = false;
    try {
      ok = decodeResponse(new Uint8Array(first)).success;
    } catch {
      ok = false;
    }
    if (ok) {
      // give a queued second frame the chance to be judged
      const code = await conn.waitClose(conn.messages.length > 1 ? 1 : 30);
      if (code !== null) return { outcome: `close ${code}` };
      return { outcome: 'keyed' };
    }
  }
  const code = await conn.waitClose(4500);
  return { outcome: code === null ? 'stuck: no close' : `close ${code}` };
}

/** A real handshake on `conn` (in-band), returning the client's channel and the genuine VollyConnect frame. */
export async function handshake(t: FuzzTarget, conn: RawConn, r: Prng, alg: KemAlgorithm = r.pick(ALGS)): Promise<Keyed | InputResult> {
  const kem = getKem(alg);
  const kp = t.bound[alg].keyPair; // reused key (in-band allows any key); the proxy encapsulates afresh
  const sid = toBase64Url(randomBytes(18));
  conn.send(encodeHandshake({ algorithm: alg, publicKey: kp.publicKey, sessionId: sid }));
  return finishHandshake(t, conn, kem.algorithm, kp, sid, t.victimToken, `in-band ${alg}`);
}

async function finishHandshake(
  t: FuzzTarget,
  conn: RawConn,
  alg: KemAlgorithm,
  kp: KemKeyPair,
  sid: string | undefined,
  token: string,
  desc: string,
): Promise<Keyed | InputResult> {
  const first = await conn.next(5000);
  if (!first) {
    const code = await conn.waitClose(100);
    return { outcome: `honest handshake failed: ${code ?? 'no answer'}` };
  }
  const result = clientHandshake(getKem(alg), kp, decodeResponse(new Uint8Array(first)), sid);
  const s2c = result.keys.s2c.slice();
  const c2s = result.keys.c2s.slice();
  const channel = sealedChannel(result, 'client', aead);
  // sealed by a sealer of its own, so channel.sealer still starts at frame 0 for inputs that seal their own first frame
  const genuine = new FrameSealer(c2s, aead).seal(FrameKind.Control, encodeControl({ case: 'connect', accessToken: token, query: t.query }));
  return { conn, channel, s2c, c2s, genuine, desc };
}

/** In-band or token-bound, either algorithm, up to the genuine (unsent) VollyConnect. */
export async function keyedSession(t: FuzzTarget, r: Prng, open = false): Promise<Keyed | InputResult> {
  const alg = r.pick(ALGS);
  if (r.chance(0.7)) {
    const kp = t.bound[alg].keyPair; // reused key (in-band allows any key); the proxy encapsulates afresh
    const sid = toBase64Url(randomBytes(18));
    const hello = encodeHandshake({ algorithm: alg, publicKey: kp.publicKey, sessionId: sid });
    const o = await dial(t.proxy, r.pick(['/rtc', '/rtc/v1']), SUBPROTOCOL, { early: [hello] });
    if (!o.ok) return { outcome: `honest dial failed: ${o.outcome}` };
    return finishHandshake(t, o.conn, alg, kp, sid, t.victimToken, `in-band ${alg}`);
  }
  const b = t.bound[alg];
  // The client's volly_sid (its replay guard) beside the token: the proxy must answer with it.
  const sid = toBase64Url(randomBytes(18));
  const o = await dial(t.proxy, `/rtc?access_token=${open ? t.openBound[alg] : b.token}&${SESSION_ID_PARAM}=${sid}`, SUBPROTOCOL);
  if (!o.ok) return { outcome: `honest dial failed: ${o.outcome}` };
  const k = await finishHandshake(t, o.conn, alg, b.keyPair, sid, '', `token-bound ${alg}`);
  return 'outcome' in k ? k : { ...k, urlToken: true };
}

/**
 * After keys exist. `mayOpen`: the frame sent was sealed correctly, so the proxy may
 * open it and dial LiveKit (counted as expected). Otherwise any sign of a dial is a leak.
 */
export async function observeSealed(h: Keyed, mayOpen: boolean): Promise<InputResult> {
  const msg = await h.conn.next(5000);
  let dialed = false;
  let outcome: string | undefined;
  if (msg) {
    try {
      const f = h.channel.opener.open(new Uint8Array(msg));
      if (f.kind === FrameKind.Control) {
        const code = new Uint8Array(f.payload);
        // VollyControl{error{code}}: a code below 1000 is LiveKit's HTTP status
        const c = decodeErrorCode(code);
        if (c !== null && c < 1000) {
          dialed = true;
          outcome = `upstream refused ${c}`;
        }
      } else {
        dialed = true;
        outcome = 'joined';
      }
    } catch {
      // a frame we cannot open: not ours to judge
    }
  }
  if (outcome === 'joined') h.conn.destroy();
  const code = outcome === 'joined' ? null : await h.conn.waitClose(4500);
  if (code === 4502) dialed = true;
  h.channel.destroy();
  outcome ??= code === null ? 'stuck: no close' : `close ${code}`;
  if (dialed && !mayOpen) return { outcome, leak: 'LiveKit was dialed for a frame that must not open' };
  return { outcome, dialed };
}

function decodeErrorCode(b: Uint8Array): number | null {
  // VollyControl: field 2 (error) { field 1 code varint }
  if (b[0] !== 0x12) return null;
  let i = 2;
  while (i < b.length && (b[i - 1] as number) & 0x80) i++;
  if (b[i] !== 0x08) return 0;
  let v = 0;
  let mul = 1;
  for (let k = i + 1; k < b.length; k++) {
    const x = b[k] as number;
    v += (x & 0x7f) * mul;
    mul *= 128;
    if (!(x & 0x80)) break;
  }
  return v;
}

export async function waitClosed(raw: RawPq, ms: number): Promise<number | null> {
  let t: ReturnType<typeof setTimeout> | undefined;
  const r = await Promise.race([raw.closed.then((c) => c.code), new Promise<null>((res) => (t = setTimeout(() => res(null), ms)))]);
  clearTimeout(t);
  if (r === null && ms >= 5000) raw.ws.terminate();
  return r;
}

export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<T>((_, rej) => (t = setTimeout(() => rej(new Error(`input took over ${ms} ms`)), ms)))]).finally(() => clearTimeout(t));
}
