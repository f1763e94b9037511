// volly-pq.v2 for the spec client (PROTOCOL.md v2.1-v2.6): the well-known
// document, the first flight in the upgrade request, the ServerHello, the key
// confirmation, and one retry on a sealed stale-clock reply.

import { randomBytes } from 'node:crypto';
import { SealedSession, SpecClientError, Wire } from './spec-client.ts';
import * as c from './spec-crypto.ts';
import { decodeControlError, encodeConnect } from './spec-proto.ts';

export interface StaticKey {
  id: Uint8Array;
  algorithm: c.Alg;
  publicKey: Uint8Array;
  notAfter: number;
}

/** v2.1's parsing rules, all of them: refuse the whole document on any failure. */
export function parseWellKnown(text: string): StaticKey[] {
  if (c.utf8(text).length > 65536) throw new Error('document over 65536 bytes');
  const doc = JSON.parse(text);
  const exactly = (o: unknown, names: string[]) =>
    typeof o === 'object' && o !== null && !Array.isArray(o) && Object.keys(o).sort().join() === [...names].sort().join();
  if (!exactly(doc, ['protocol', 'keys']) || doc.protocol !== 'volly-pq.v2') throw new Error('not a volly-pq.v2 document');
  if (!Array.isArray(doc.keys) || doc.keys.length < 1 || doc.keys.length > 16) throw new Error('keys: 1 to 16');
  const seen = new Set<string>();
  return doc.keys.map((k: Record<string, unknown>) => {
    if (!exactly(k, ['id', 'algorithm', 'publicKey', 'notAfter'])) throw new Error('key members');
    const algorithm = k.algorithm as c.Alg;
    if (!c.ALGS.includes(algorithm)) throw new Error('algorithm');
    const publicKey = c.fromB64u(String(k.publicKey));
    if (publicKey.length !== c.SIZES[algorithm].pk) throw new Error('public key length');
    if (!Number.isSafeInteger(k.notAfter) || (k.notAfter as number) <= 0) throw new Error('notAfter');
    const id = c.v2KeyId(algorithm, publicKey);
    if (k.id !== c.b64u(id) || seen.has(k.id)) throw new Error('id');
    seen.add(k.id);
    return { id, algorithm, publicKey, notAfter: k.notAfter as number };
  });
}

/** The document as v2.1 prints it (member order as shown there). */
export function encodeWellKnown(keys: StaticKey[]): string {
  const list = keys.map((k) => ({ id: c.b64u(k.id), algorithm: k.algorithm, publicKey: c.b64u(k.publicKey), notAfter: k.notAfter }));
  return JSON.stringify({ protocol: 'volly-pq.v2', keys: list });
}

export async function fetchWellKnown(httpBase: string): Promise<StaticKey[]> {
  const res = await fetch(`${httpBase}/.well-known/volly-pq`);
  if (res.status !== 200) throw new SpecClientError(res.status, 'no volly-pq.v2 document');
  return parseWellKnown(await res.text());
}

/** v2.1 "Choosing a key": the first, in document order, still valid and supported. */
export const chooseKey = (keys: StaticKey[], nowS = Date.now() / 1000) => keys.find((k) => k.notAfter > nowS && c.ALGS.includes(k.algorithm));

export interface V2Options {
  base: string;
  path: string;
  query: string;
  token: string;
  key: StaticKey;
  /** A bound token: the key pair of its PQ claims. */
  bound?: { algorithm: c.Alg } & c.KeyPair;
  /** v2.6: the correction learnt from a stale-clock reply. */
  clockOffsetMs?: number;
  /** How wrong the client's own clock is (to exercise v2.6). */
  skewMs?: number;
  /** http://host:port whose well-known document to refetch on 4421. */
  wellKnownFrom?: string;
  /** Set on the one recovery attempt: no second. */
  retried?: boolean;
}

/**
 * One v2 attempt, and the v2.7 recoveries: on a sealed 4425 one more with the
 * server's offset; on 4421 before the ServerHello (with `wellKnownFrom`), one
 * more after refetching the document.
 */
export async function connectV2(o: V2Options): Promise<SealedSession> {
  try {
    return await attempt(o);
  } catch (e) {
    if (!(e instanceof SpecClientError) || o.retried) throw e;
    if (e.sealed?.code === 4425 && o.clockOffsetMs === undefined) {
      return connectV2({ ...o, retried: true, clockOffsetMs: Number(e.sealed.message) - clock(o) });
    }
    if (e.code === 4421 && !e.sealed && o.wellKnownFrom) {
      const key = chooseKey(await fetchWellKnown(o.wellKnownFrom));
      if (key) return connectV2({ ...o, retried: true, key });
    }
    throw e;
  }
}

/** The first flight of one attempt (v2.2): what goes into the upgrade request, and what finishing needs. */
export interface Flight {
  path: string;
  url: string;
  protocols: string[];
  alg: c.Alg;
  e: c.KeyPair;
  ssS: Uint8Array;
  th1: Uint8Array;
  early: Uint8Array;
}

/** The client's clock: its own, possibly wrong (`skewMs`), plus the v2.6 correction. */
const clock = (o: V2Options) => Date.now() + (o.skewMs ?? 0);

export function firstFlight(o: V2Options): Flight {
  const alg = o.key.algorithm;
  const e = c.keygen(alg, randomBytes(c.SIZES[alg].seed));
  const sid = new Uint8Array(randomBytes(16));
  const s = c.encapsulate(alg, o.key.publicKey);
  const hello = c.clientHello(alg, o.key.id, sid, s.ct, e.publicKey);
  const th1 = c.sha256(c.th1Input(alg, o.key.publicKey, sid, s.ct, e.publicKey));
  const kEarly = c.earlyKey(s.ss, th1);
  const now = Math.round(clock(o) + (o.clockOffsetMs ?? 0));
  const early = c.seal(kEarly, 0, 0x03, c.earlyPlaintext(now, o.path, o.query, o.token));
  kEarly.fill(0);
  const url = `${o.base}${o.path}?volly_early=${c.b64u(early)}`;
  return { path: o.path, url, protocols: ['volly-pq.v2', `volly-pq.v2.${c.b64u(hello)}`], alg, e, ssS: s.ss, th1, early };
}

async function attempt(o: V2Options): Promise<SealedSession> {
  const f = firstFlight(o);
  return finish(f, await Wire.open(f.url, f.protocols), o.bound);
}

/** From the 101 on: ServerHello, session keys, key confirmation, JoinResponse. */
export async function finish(f: Flight, wire: Wire, boundKey?: V2Options['bound'], opts: { confirm?: boolean } = {}): Promise<SealedSession> {
  if (wire.ws.protocol !== 'volly-pq.v2') throw new SpecClientError(4400, `server selected ${wire.ws.protocol}`);
  // ServerHello = 0x02 ‖ mode ‖ ct_e [‖ ct_b]; nothing trails.
  const sh = await wire.next();
  const mode = sh[1];
  const ctLen = c.SIZES[f.alg].ct;
  const boundLen = boundKey ? c.SIZES[boundKey.algorithm].ct : 0;
  const okLen = mode === 0 ? sh.length === 2 + ctLen : mode === 1 && boundKey !== undefined && sh.length === 2 + ctLen + boundLen;
  if (sh[0] !== 0x02 || !okLen) throw new SpecClientError(4400, 'bad ServerHello');
  const ctE = sh.subarray(2, 2 + ctLen);
  const ssE = c.decapsulate(f.alg, ctE, f.e.secretKey);
  let bound: c.BoundPart | undefined;
  if (mode === 1 && boundKey) {
    const ctB = sh.subarray(2 + ctLen);
    bound = { alg: boundKey.algorithm, pk: boundKey.publicKey, ct: ctB, ss: c.decapsulate(boundKey.algorithm, ctB, boundKey.secretKey) };
  }
  const keys = c.v2Keys(f.ssS, ssE, c.th2Input(f.th1, f.early, ctE, bound), bound?.ss);
  ssE.fill(0);
  bound?.ss.fill(0);
  if (mode === 0 && boundKey) {
    // A bound client accepts only a sealed error from an unbound ServerHello (v2.6).
    const { kind, payload } = c.open(keys.s2c, 0, await wire.next());
    if (kind !== 0x03) throw new SpecClientError(4400, 'LiveKit frame after an unbound ServerHello');
    const err = decodeControlError(payload);
    throw new SpecClientError((await wire.closeCode()) ?? err.code, err.message, err, wire.closed?.reason);
  }
  // Key confirmation: VollyControl{connect{}} at counter 0.
  // (`confirm: false` exists only to test the server's side of a client that never confirms.)
  if (opts.confirm !== false) wire.ws.send(c.seal(keys.c2s, 0, 0x03, encodeConnect('', '')));
  return new SealedSession(wire, keys, opts.confirm === false ? 0 : 1).awaitJoin();
}
