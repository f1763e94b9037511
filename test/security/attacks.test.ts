// Attacks on volly-pq.v1 against the real proxy in front of the real LiveKit.
// Each asserts what a user would see — the close code or HTTP status — and
// that nothing reached LiveKit: the proxy's upstream dials and
// client_to_upstream frames, LiveKit's own log ("starting RTC session" per
// identity) and LiveKit's participant list (RoomService, directly).
// docs/THREAT-MODEL.md says what each shows.

import { createHmac } from 'node:crypto';
import { ParticipantInfo_State, SignalRequest, type SignalResponse } from '@livekit/protocol';
import {
  CloseCode,
  clientHandshake,
  decodeControl,
  decodeResponse,
  encodeHandshake,
  FrameKind,
  FrameSealer,
  getAead,
  getKem,
  randomBytes,
  SUBPROTOCOL,
  sealedChannel,
  toBase64Url,
  VollySignalRequest,
  VollySignalResponse,
} from '@volly/shared';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { liveKitSessions, nothingReachesLiveKit as nothingReaches } from '../harness/leaks.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startMitm } from '../harness/mitm.ts';
import { connectPq, PqConnectError } from '../harness/pq-signal.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { openRawPq, type RawPq } from '../harness/raw-pq.ts';
import { connectSignal, type SignalConnection, SignalHttpError } from '../harness/signal.ts';
import { token } from '../harness/tokens.ts';
import { nestedMessages } from './lib/generators.ts';

let livekit: LiveKitServer;
let proxy: TestProxy;
let direct: RoomServiceClient;

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit);
  direct = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
});
afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
});

let n = 0;
const roomName = (what: string) => `atk-${what}-${++n}-${Date.now().toString(36)}`;
const aead = getAead();

/** Runs `attack` and checks that LiveKit got nothing from it (test/harness/leaks.ts). */
const nothingReachesLiveKit = <T>(identity: string, attack: () => Promise<T>, allow: { frames?: number; dials?: number; sessions?: number } = {}) =>
  nothingReaches(proxy, livekit, identity, attack, allow);

/** LiveKit's participant list (identity:metadata), without our hidden observers. */
const participants = async (room: string) =>
  (await direct.listParticipants(room).catch(() => []))
    .filter((p) => p.state !== ParticipantInfo_State.DISCONNECTED && !p.identity.startsWith('observer-'))
    .map((p) => `${p.identity}:${p.metadata}`);

/** Tokens here may update their own metadata: the ordering attacks watch metadata changes. */
const CAN_META = { grant: { canUpdateOwnMetadata: true } };

/** A participant connected to LiveKit directly: it sees every metadata change in the room. */
async function observer(room: string): Promise<{ sig: SignalConnection; metadata: () => string[] }> {
  const sig = await connectSignal(livekit.wsUrl, await token(livekit, room, `observer-${n}`, { grant: { hidden: true } }));
  const metadata = () =>
    sig.received.flatMap((m: SignalResponse) => (m.message.case === 'update' ? m.message.value.participants.map((p) => p.metadata) : [])).filter(Boolean);
  return { sig, metadata };
}

const meta = (metadata: string) => ({ case: 'updateMetadata', value: { metadata } as never }) as SignalRequest['message'];
const sealMeta = (raw: RawPq, metadata: string) => raw.session.seal(new SignalRequest({ message: meta(metadata) }).toBinary());

/** A PQ socket without the client state machine, for hand-built frames. */
function rawSocket(
  pathAndQuery = '/rtc',
): Promise<{ ws: WebSocket; first: Promise<Buffer>; closed: Promise<{ code: number; reason: string }>; received: Buffer[] }> {
  const ws = new WebSocket(`${proxy.wsUrl}${pathAndQuery}`, SUBPROTOCOL);
  ws.on('error', () => {});
  const received: Buffer[] = [];
  const first = new Promise<Buffer>((r) => ws.once('message', (d: Buffer) => r(d)));
  ws.on('message', (d: Buffer) => received.push(d));
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.on('close', (code, reason) => r({ code, reason: reason.toString() })));
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, first, closed, received }));
    ws.once('unexpected-response', (_q, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
  });
}

const failure = async (p: Promise<unknown>) => {
  const e = await p.then(
    () => null,
    (err: unknown) => err,
  );
  expect(e).toBeInstanceOf(PqConnectError);
  return e as PqConnectError;
};

// ---- replay -------------------------------------------------------------------

describe('replay of a recorded session', () => {
  it('in-band: the same handshake gets a fresh encapsulation, so the recorded VollyConnect fails to open (4400) and LiveKit sees one join only', async () => {
    const room = roomName('replay');
    const raw = await openRawPq(proxy.wsUrl, await proxy.token(room, 'replay-victim', CAN_META));
    raw.send(meta('original'));
    raw.ws.close(1000);
    await raw.closed;
    expect(liveKitSessions(livekit, 'replay-victim')).toBe(1);
    const { code, responses } = await nothingReachesLiveKit('replay-victim', async () => {
      const s = await rawSocket();
      s.ws.send(raw.sent[0] as Uint8Array); // the recorded pq_handshake: same key, same session id
      await s.first;
      for (const f of raw.sent.slice(1)) s.ws.send(f); // VollyConnect, then the sealed metadata update
      return { code: (await s.closed).code, responses: s.received };
    });
    expect(code).toBe(CloseCode.Malformed);
    // The proxy answered the replayed hello with a new ciphertext: the recorded keys are not the new ones.
    const old = decodeResponse(raw.received[0] as Uint8Array);
    const fresh = decodeResponse(responses[0] as Uint8Array);
    expect(fresh.success && fresh.sessionId === old.sessionId).toBe(true);
    expect(Buffer.from(fresh.ciphertext).equals(Buffer.from(old.ciphertext))).toBe(false);
    expect(await participants(room)).toEqual([]);
  });

  it('token-bound: the recorded URL (token and volly_sid) and frames replayed — 4400, nothing reaches LiveKit', async () => {
    const room = roomName('replay-tb');
    const kp = getKem('X-Wing').keygen();
    const raw = await openRawPq(proxy.wsUrl, await proxy.token(room, 'replay-tb', { ...CAN_META, bind: { algorithm: 'X-Wing', publicKey: kp.publicKey } }), {
      algorithm: 'X-Wing',
      keyPair: kp,
    });
    raw.send(meta('original'));
    const url = new URL(raw.ws.url);
    raw.ws.close(1000);
    await raw.closed;
    const code = await nothingReachesLiveKit('replay-tb', async () => {
      const s = await rawSocket(url.pathname + url.search);
      await s.first;
      for (const f of raw.sent) s.ws.send(f);
      return (await s.closed).code;
    });
    expect(code).toBe(CloseCode.Malformed);
  });

  it('a recorded pq_response replayed to a token-bound client by a relay: the client refuses it (session id) before it seals anything', async () => {
    const room = roomName('replay-client');
    const kp = getKem('ML-KEM-768').keygen();
    const t = await proxy.token(room, 'replay-client', { ...CAN_META, bind: { algorithm: 'ML-KEM-768', publicKey: kp.publicKey } });
    const first = await openRawPq(proxy.wsUrl, t, { keyPair: kp });
    const recorded = Buffer.from(first.received[0] as Uint8Array);
    first.ws.close(1000);
    await first.closed;
    // The relay answers the next connection with the recorded response instead of the proxy's.
    const mitm = await startMitm(proxy.wsUrl, { toClient: (d, i) => (i === 0 ? recorded : d) });
    try {
      const e = await nothingReachesLiveKit('replay-client', () => failure(connectPq(mitm.wsUrl, t, { keyPairs: [kp] })));
      expect(e.code).toBe(CloseCode.Malformed);
      expect(e.failure?.message).toMatch(/another session_id/);
      // the client sent nothing after the (replayed) response: no sealed frame at all
      expect(mitm.seen.toServer).toHaveLength(0);
    } finally {
      await mitm.close();
    }
  });
});

// ---- order ----------------------------------------------------------------------

describe('reordered, dropped, duplicated and spliced sealed frames', () => {
  async function joined(room: string, identity: string) {
    const obs = await observer(room);
    const raw = await openRawPq(proxy.wsUrl, await proxy.token(room, identity, CAN_META));
    return { obs, raw };
  }
  const settle = () => new Promise((r) => setTimeout(r, 1000));

  it('reordered (frame 1 before frame 0): 4400, neither update reaches LiveKit', async () => {
    const room = roomName('reorder');
    const { obs, raw } = await joined(room, 'reorder');
    const code = await nothingReachesLiveKit('reorder', async () => {
      const a = sealMeta(raw, 'reorder-first');
      const b = sealMeta(raw, 'reorder-second');
      raw.sendRaw(b);
      raw.sendRaw(a);
      return (await raw.closed).code;
    });
    expect(code).toBe(CloseCode.Malformed);
    await settle();
    expect(obs.metadata().filter((m) => m.startsWith('reorder'))).toEqual([]);
    await obs.sig.close();
  });

  it('dropped (frame 0 never sent): frame 1 fails to open, 4400, nothing reaches LiveKit', async () => {
    const room = roomName('drop');
    const { obs, raw } = await joined(room, 'drop');
    const code = await nothingReachesLiveKit('drop', async () => {
      sealMeta(raw, 'drop-lost');
      raw.sendRaw(sealMeta(raw, 'drop-next'));
      return (await raw.closed).code;
    });
    expect(code).toBe(CloseCode.Malformed);
    await settle();
    expect(obs.metadata().filter((m) => m.startsWith('drop'))).toEqual([]);
    await obs.sig.close();
  });

  it('duplicated: the first copy is forwarded once, the copy ends the session with 4400', async () => {
    const room = roomName('dup');
    const { obs, raw } = await joined(room, 'dup');
    const code = await nothingReachesLiveKit(
      'dup',
      async () => {
        const a = sealMeta(raw, 'dup-once');
        raw.sendRaw(a);
        raw.sendRaw(a);
        return (await raw.closed).code;
      },
      { frames: 1 },
    );
    expect(code).toBe(CloseCode.Malformed);
    await settle();
    expect(obs.metadata().filter((m) => m === 'dup-once').length).toBeGreaterThanOrEqual(1);
    await obs.sig.close();
  });

  it('a frame of session A spliced into session B: B ends with 4400, A goes on unharmed', async () => {
    const room = roomName('splice');
    const obs = await observer(room);
    const a = await openRawPq(proxy.wsUrl, await proxy.token(room, 'splice-a', CAN_META));
    const b = await openRawPq(proxy.wsUrl, await proxy.token(room, 'splice-b', CAN_META), { algorithm: 'X-Wing' });
    a.send(meta('from-a'));
    const code = await nothingReachesLiveKit('splice-b', async () => {
      b.sendRaw(a.sent[a.sent.length - 1] as Uint8Array); // A's sealed update, at B's next counter
      return (await b.closed).code;
    });
    expect(code).toBe(CloseCode.Malformed);
    a.send({ case: 'ping', value: 42n });
    await a.waitFor((m) => m.message.case === 'pong');
    await settle();
    expect(obs.metadata()).toContain('from-a');
    expect(await participants(room)).toEqual(['splice-a:from-a']);
    a.ws.close(1000);
    await obs.sig.close();
  });

  it('proxy → client: a relay that duplicates or drops a sealed frame makes the client fail the session', async () => {
    const room = roomName('s2c');
    for (const [what, rewrite] of [
      ['duplicate the JoinResponse', (d: Buffer, i: number) => (i === 1 ? [d, d] : d)],
      ['drop the JoinResponse', (d: Buffer, i: number) => (i === 1 ? null : d)],
    ] as const) {
      const mitm = await startMitm(proxy.wsUrl, { toClient: rewrite });
      try {
        const sig = await connectPq(mitm.wsUrl, await proxy.token(room, `s2c-${what.length}`, CAN_META)).catch((e: unknown) => e);
        if (sig instanceof PqConnectError) {
          expect(sig.code, what).toBe(CloseCode.Malformed); // the dropped join: the next frame fails to open
        } else {
          // the first copy opened; the duplicate fails to open and the client closes 4400
          const s = sig as Awaited<ReturnType<typeof connectPq>>;
          expect((await s.closed).code, what).toBe(CloseCode.Malformed);
          expect(s.ws.failure?.message, what).toMatch(/failed authentication/);
        }
      } finally {
        await mitm.close();
      }
    }
  });
});

// ---- algorithm and key substitution --------------------------------------------------

/** A pq_response with its algorithm field rewritten, the rest as the proxy sent it. */
function relabelResponse(d: Buffer, algorithm: string): Buffer {
  const r = VollySignalResponse.fromBinary(d);
  if (r.message.case === 'pqResponse') r.message.value.algorithm = algorithm;
  return Buffer.from(r.toBinary());
}

describe('algorithm substitution by a man in the middle', () => {
  it('client asks X-Wing, the relay rewrites the response to say ML-KEM-768: the client refuses before sealing anything', async () => {
    const room = roomName('alg');
    const mitm = await startMitm(proxy.wsUrl, { toClient: (d, i) => (i === 0 ? relabelResponse(d, 'ML-KEM-768') : d) });
    try {
      const err = await nothingReachesLiveKit('alg-x', async () =>
        failure(connectPq(mitm.wsUrl, await proxy.token(room, 'alg-x', CAN_META), { algorithm: 'X-Wing' })),
      );
      expect(err.code).toBe(CloseCode.Malformed);
      expect(err.failure?.message).toMatch(/server answered with "ML-KEM-768", not X-Wing/);
      expect(mitm.seen.toServer).toHaveLength(1); // the handshake; no VollyConnect followed
      expect(await participants(room)).toEqual([]);
    } finally {
      await mitm.close();
    }
  });

  it('a full downgrade — the relay rewrites the hello to ML-KEM-768 with the X-Wing key cut to its ML-KEM part — is refused too, either way it answers', async () => {
    const room = roomName('downgrade');
    const toMlKem = (d: Buffer) => {
      const q = VollySignalRequest.fromBinary(d);
      if (q.message.case === 'pqHandshake') {
        q.message.value.algorithm = 'ML-KEM-768';
        q.message.value.clientPublicKey = q.message.value.clientPublicKey.slice(0, 1184);
      }
      return Buffer.from(q.toBinary());
    };
    for (const relabel of [false, true]) {
      const mitm = await startMitm(proxy.wsUrl, {
        toServer: (d, i) => (i === 0 ? toMlKem(d) : d),
        // relabel: claim X-Wing again so the client's algorithm check passes; the 1088-byte ML-KEM ciphertext cannot be an X-Wing one
        toClient: (d, i) => (i === 0 && relabel ? relabelResponse(d, 'X-Wing') : d),
      });
      try {
        const err = await nothingReachesLiveKit('downgraded', async () =>
          failure(connectPq(mitm.wsUrl, await proxy.token(room, 'downgraded', CAN_META), { algorithm: 'X-Wing' })),
        );
        expect(err.code).toBe(CloseCode.Malformed);
        expect(err.failure?.message).toMatch(relabel ? /X-Wing ciphertext must be 1120 bytes/ : /server answered with "ML-KEM-768", not X-Wing/);
        expect(mitm.seen.toServer).toHaveLength(1);
      } finally {
        await mitm.close();
      }
    }
  });

  it('an algorithm the proxy does not allow is refused (4403), never silently swapped', async () => {
    const mlOnly = await startTestProxy(livekit, { VOLLY_PQ_ALGORITHMS: 'ML-KEM-768' });
    try {
      const e = await failure(connectPq(mlOnly.wsUrl, await mlOnly.token(roomName('policy'), 'xw'), { algorithm: 'X-Wing' }));
      expect(e.code).toBe(CloseCode.Refused);
      expect(e.reason).toMatch(/X-Wing is not allowed/);
    } finally {
      await mlOnly.close();
    }
  });
});

describe('key substitution on a token-bound session', () => {
  it('a relay that swaps the token’s pqPublicKey for its own breaks the token’s signature: 4401, nothing dialed', async () => {
    const room = roomName('keyswap');
    const victim = getKem('ML-KEM-768').keygen();
    const attacker = getKem('ML-KEM-768').keygen();
    const t = await proxy.token(room, 'keyswap', { ...CAN_META, bind: { algorithm: 'ML-KEM-768', publicKey: victim.publicKey } });
    const swapped = (() => {
      const [h, p, s] = t.split('.') as [string, string, string];
      const payload = JSON.parse(Buffer.from(p, 'base64url').toString());
      payload.video.pqPublicKey = toBase64Url(attacker.publicKey);
      return `${h}.${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${s}`;
    })();
    const mitm = await startMitm(proxy.wsUrl, { url: (u) => u.replace(encodeURIComponent(t), swapped).replace(t, swapped) });
    try {
      const e = await nothingReachesLiveKit('keyswap', () => failure(connectPq(mitm.wsUrl, t, { keyPairs: [victim] })));
      expect(mitm.dialed[0]).toContain(swapped.slice(-20));
      expect(e.code).toBe(CloseCode.Unauthorized);
      expect(e.reason).toMatch(/signature invalid/);
    } finally {
      await mitm.close();
    }
  });

  it('the proxy encapsulates to the token’s key: a relay (or a client) without its secret key cannot open the session — 4400, nothing dialed', async () => {
    const room = roomName('keymiss');
    const bound = getKem('X-Wing').keygen();
    const other = getKem('X-Wing').keygen();
    const t = await proxy.token(room, 'keymiss', { ...CAN_META, bind: { algorithm: 'X-Wing', publicKey: bound.publicKey } });
    const mitm = await startMitm(proxy.wsUrl);
    try {
      // The client holds another secret key for the token's public key (a swapped token, or a confused app):
      // decapsulation yields an unrelated secret (ML-KEM implicit rejection), the VollyConnect cannot open.
      const e = await nothingReachesLiveKit('keymiss', () =>
        failure(connectPq(mitm.wsUrl, t, { keyPairs: [{ publicKey: bound.publicKey, secretKey: other.secretKey }] })),
      );
      expect(e.code).toBe(CloseCode.Malformed);
      // what the relay saw: the ciphertext to the token's key and one sealed frame it cannot read
      expect(mitm.seen.toClient[0]?.length).toBeGreaterThan(1120);
      expect(mitm.seen.toServer).toHaveLength(1);
      expect(mitm.seen.toServer[0]?.[0]).toBe(FrameKind.Control);
    } finally {
      await mitm.close();
    }
  });

  it('a relay that terminates the handshake with its own key and carries a stolen bound token in-band: 4401, the binding check', async () => {
    const room = roomName('keyterm');
    const holder = getKem('ML-KEM-768').keygen();
    const t = await proxy.token(room, 'keyterm', { ...CAN_META, bind: { algorithm: 'ML-KEM-768', publicKey: holder.publicKey } });
    // The relay's own in-band session to the proxy, carrying the token it stole from the URL.
    const e = await nothingReachesLiveKit('keyterm', () => failure(connectPq(proxy.wsUrl, t)));
    expect(e.code).toBe(CloseCode.Unauthorized);
    expect(e.reason).toMatch(/bound to another post-quantum key/);
  });
});

// ---- token claims ------------------------------------------------------------------

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
const hs = (alg: 'sha256' | 'sha512', secret: string, input: string) => createHmac(alg, secret).update(input).digest('base64url');

describe('tokens', () => {
  it('an expired pqKeyExpiry: token-bound refused before the handshake (4401), in-band after it (sealed 4401); nothing dialed', async () => {
    const room = roomName('pqexp');
    const kp = getKem('ML-KEM-768').keygen();
    const t = await proxy.token(room, 'pqexp', {
      ...CAN_META,
      bind: { algorithm: 'ML-KEM-768', publicKey: kp.publicKey, keyExpiry: Math.floor(Date.now() / 1000) - 1 },
    });
    const [bound, inBand] = await nothingReachesLiveKit('pqexp', async () => [
      await failure(connectPq(proxy.wsUrl, t, { keyPairs: [kp] })),
      await failure(connectPq(proxy.wsUrl, t)),
    ]);
    for (const e of [bound, inBand]) {
      expect(e?.code).toBe(CloseCode.Unauthorized);
      expect(e?.reason).toMatch(/pqKeyExpiry has passed/);
    }
  });

  it('alg:none, HS512, RS256 keyed with the HMAC secret, LiveKit’s own key, kid/iss games: every one 4401 (PQ) and 401 (classical), nothing dialed', async () => {
    const room = roomName('forged');
    const now = Math.floor(Date.now() / 1000);
    const claims = { sub: 'forger', iss: proxy.apiKey, exp: now + 600, nbf: now - 10, video: { roomJoin: true, room } };
    const forged: Array<[string, string, RegExp]> = [];
    const add = (what: string, header: object, payload: object, sign: (input: string) => string, reason: RegExp) => {
      const input = `${b64(header)}.${b64(payload)}`;
      forged.push([what, `${input}.${sign(input)}`, reason]);
    };
    add('alg none', { alg: 'none', typ: 'JWT' }, claims, () => '', /algorithm none is not HS256/);
    add('alg none with a signature', { alg: 'none' }, claims, (i) => hs('sha256', proxy.apiSecret, i), /algorithm none is not HS256/);
    add('HS512 with the right secret', { alg: 'HS512', typ: 'JWT' }, claims, (i) => hs('sha512', proxy.apiSecret, i), /algorithm HS512 is not HS256/);
    add(
      'RS256 "verified" with the HMAC secret as public key',
      { alg: 'RS256', typ: 'JWT' },
      claims,
      (i) => hs('sha256', proxy.apiSecret, i),
      /algorithm RS256 is not HS256/,
    );
    add(
      'signed with LiveKit’s upstream key',
      { alg: 'HS256' },
      { ...claims, iss: livekit.apiKey },
      (i) => hs('sha256', livekit.apiSecret, i),
      /unknown API key/,
    );
    add('iss of the client key, signed with the upstream secret', { alg: 'HS256' }, claims, (i) => hs('sha256', livekit.apiSecret, i), /signature invalid/);
    add(
      'kid names the client key, iss another',
      { alg: 'HS256', kid: proxy.apiKey },
      { ...claims, iss: 'APIother' },
      (i) => hs('sha256', proxy.apiSecret, i),
      /unknown API key/,
    );
    add('no iss', { alg: 'HS256' }, { ...claims, iss: undefined }, (i) => hs('sha256', proxy.apiSecret, i), /unknown API key/);
    add('iss as an array', { alg: 'HS256' }, { ...claims, iss: [proxy.apiKey] }, (i) => hs('sha256', proxy.apiSecret, i), /unknown API key/);
    add('crit header', { alg: 'HS256', crit: ['x-volly'], 'x-volly': 1 }, claims, (i) => hs('sha256', proxy.apiSecret, i), /signature invalid|not a JWT/);
    add('exp in the past', { alg: 'HS256' }, { ...claims, exp: now - 3600 }, (i) => hs('sha256', proxy.apiSecret, i), /token expired/);
    add('nbf in the future', { alg: 'HS256' }, { ...claims, nbf: now + 3600 }, (i) => hs('sha256', proxy.apiSecret, i), /claim nbf invalid/);
    await nothingReachesLiveKit('forger', async () => {
      for (const [what, t, reason] of forged) {
        const e = await failure(connectPq(proxy.wsUrl, t));
        expect(e.code, what).toBe(CloseCode.Unauthorized);
        expect(e.reason, what).toMatch(reason);
        const c = await connectSignal(proxy.wsUrl, t).catch((err: unknown) => err);
        expect(c, what).toBeInstanceOf(SignalHttpError);
        expect((c as SignalHttpError).status, what).toBe(401);
      }
    });
    expect(await participants(room)).toEqual([]);
  });

  it('oversized tokens: over 16 KiB in VollyConnect is 4401; a 64 KiB URL is refused with HTTP 431 before any upgrade', async () => {
    const room = roomName('bigjwt');
    const big = await proxy.token(room, 'bigjwt', { grant: { roomJoin: true, room, metadata: 'x'.repeat(17_000) } as never });
    const e = await nothingReachesLiveKit('bigjwt', () => failure(connectPq(proxy.wsUrl, big)));
    expect(e.code).toBe(CloseCode.Unauthorized);
    expect(e.reason).toMatch(/too large/);
    const huge = `eyJhbGciOiJIUzI1NiJ9.${'A'.repeat(64 * 1024)}.sig`;
    const status = await nothingReachesLiveKit('bigjwt', () =>
      rawSocket(`/rtc?access_token=${huge}`).then(
        () => 101,
        (err: { status?: number }) => err.status,
      ),
    );
    expect(status).toBe(431);
  });

  it('a classical connection with a PQ-claimed token is refused — query or Bearer, /rtc or /rtc/v1, complete or partial claims, and on validate', async () => {
    const room = roomName('classical');
    const kp = getKem('X-Wing').keygen();
    const bound = await proxy.token(room, 'classic-pq', { ...CAN_META, bind: { algorithm: 'X-Wing', publicKey: kp.publicKey } });
    const partial = new AccessToken(proxy.apiKey, proxy.apiSecret, { identity: 'classic-pq', ttl: '5m' });
    partial.addGrant({ roomJoin: true, room, pqAlgorithm: 'X-Wing' } as never);
    const partialToken = await partial.toJwt();
    await nothingReachesLiveKit('classic-pq', async () => {
      for (const [what, t, opts] of [
        ['query, /rtc', bound, {}],
        ['Bearer header', bound, { tokenInHeader: true }],
        ['/rtc/v1', bound, { path: '/rtc/v1' }],
        ['only pqAlgorithm', partialToken, {}],
      ] as const) {
        const e = await connectSignal(proxy.wsUrl, t, undefined, opts).catch((err: unknown) => err);
        expect(e, what).toBeInstanceOf(SignalHttpError);
        expect((e as SignalHttpError).status, what).toBe(401);
        expect((e as SignalHttpError).body, what).toMatch(/post-quantum|pqPublicKey|pqKeyExpiry/);
      }
      const v = await fetch(`${proxy.url}/rtc/validate?access_token=${bound}`);
      expect(v.status).toBe(401);
    });
    expect(await participants(room)).toEqual([]);
  });
});

// ---- huge and hostile messages ----------------------------------------------------

describe('huge frames and hostile protobuf', () => {
  it('in the handshake: a frame over the limit closes 1009; 10,000 fields and deep nesting close 4400 before any key is made', async () => {
    const tenThousand = Buffer.alloc(20_000);
    for (let i = 0; i < 10_000; i++) {
      tenThousand[2 * i] = 0x08 + 8 * (i % 15);
      tenThousand[2 * i + 1] = i & 0x7f;
    }
    const cases: Array<[string, Buffer, number]> = [
      ['frame over the 1 MiB limit', Buffer.alloc(proxy.config.limits.maxFrameBytes + 1, 0x0a), CloseCode.TooLarge],
      ['10,000 fields', tenThousand, CloseCode.Malformed],
      ['2,000 nested messages in 4 KiB', Buffer.from(nestedMessages(1300)), CloseCode.Malformed],
      ['2,000 nested groups', Buffer.concat([Buffer.alloc(2000, 0x0b), Buffer.alloc(2000, 0x0c)]), CloseCode.Malformed],
      [
        'a real handshake with 1,500 unknown fields appended (over 4 KiB)',
        Buffer.concat([
          Buffer.from(encodeHandshake({ algorithm: 'ML-KEM-768', publicKey: getKem('ML-KEM-768').keygen().publicKey, sessionId: 'A'.repeat(22) })),
          tenThousand.subarray(0, 3000),
        ]),
        CloseCode.Malformed,
      ],
    ];
    await nothingReachesLiveKit('-', async () => {
      for (const [what, frame, code] of cases) {
        const s = await rawSocket();
        s.ws.send(frame);
        expect((await s.closed).code, what).toBe(code);
      }
    });
  });

  it('sealed as the first frame: a 10,000-field or deeply nested VollyControl opens but carries no usable VollyConnect — 4401/4400, nothing dialed, the reason only sealed', async () => {
    const kem = getKem('ML-KEM-768');
    const kp = kem.keygen();
    for (const [plaintext, code, reason] of [
      // 10,000 varint fields: field 1 is VollyConnect, a message, so a varint there does not parse
      [hugeFields(10_000), CloseCode.Malformed, /not valid protobuf/],
      // 5,000 nested field-1 messages: a VollyConnect whose access_token is the nested bytes — not a token
      [nestedMessages(5000), CloseCode.Unauthorized, /not a JWT|too large|invalid/],
      [Buffer.concat([Buffer.alloc(20_000, 0x0b), Buffer.alloc(20_000, 0x0c)]), CloseCode.Malformed, /not valid protobuf/],
    ] as const) {
      const closed = await nothingReachesLiveKit('-', async () => {
        const s = await rawSocket();
        const sid = toBase64Url(randomBytes(18));
        s.ws.send(encodeHandshake({ algorithm: 'ML-KEM-768', publicKey: kp.publicKey, sessionId: sid }));
        const res = decodeResponse(await s.first);
        const ch = sealedChannel(clientHandshake(kem, kp, res, sid), 'client', aead);
        s.ws.send(ch.sealer.seal(FrameKind.Control, plaintext));
        const c = await s.closed;
        // The detail comes sealed (a VollyError after the pq_response); the unsealed close reason names only the code.
        const sealed = decodeControl(ch.opener.open(s.received[1] as Buffer).payload);
        return { ...c, sealed };
      });
      expect(closed.code).toBe(code);
      expect(closed.reason).toBe(code === CloseCode.Malformed ? 'Malformed' : 'Unauthorized');
      expect(closed.sealed).toMatchObject({ case: 'error', code });
      expect(closed.sealed.case === 'error' && closed.sealed.message).toMatch(reason);
    }
  });

  it('after the join: a frame over the limit closes 1009 and is not forwarded', async () => {
    const room = roomName('huge');
    const raw = await openRawPq(proxy.wsUrl, await proxy.token(room, 'huge', CAN_META));
    const code = await nothingReachesLiveKit('huge', async () => {
      raw.sendRaw(new FrameSealer(randomBytes(32), aead).seal(FrameKind.LiveKitBinary, new Uint8Array(proxy.config.limits.maxFrameBytes)));
      return (await raw.closed).code;
    });
    expect(code).toBe(CloseCode.TooLarge);
  });

  it('after the join: sealed but hostile LiveKit messages (10,000 fields, 5,000-deep nesting, 20,000 groups) are forwarded only because they open; LiveKit judges them and survives', async () => {
    const room = roomName('hostile');
    const hostile = [hugeFields(10_000), nestedMessages(5000), Buffer.concat([Buffer.alloc(20_000, 0x0b), Buffer.alloc(20_000, 0x0c)])];
    const outcomes: string[] = [];
    for (const [i, m] of hostile.entries()) {
      const raw = await openRawPq(proxy.wsUrl, await proxy.token(room, `hostile-${i}`, CAN_META));
      await nothingReachesLiveKit(
        `hostile-${i}`,
        async () => {
          raw.sendRaw(raw.session.seal(m));
          const closed = await Promise.race([raw.closed, new Promise<null>((r) => setTimeout(() => r(null), 1500))]);
          outcomes.push(closed ? `LiveKit closed ${closed.code}` : 'still open');
          if (!closed) raw.ws.close(1000);
          await raw.closed;
        },
        { frames: 1 },
      );
    }
    expect(outcomes).toHaveLength(3);
    // LiveKit is alive and serves a fresh, honest participant in the same room
    expect((await fetch(`${livekit.url}/`)).status).toBe(200);
    const after = await connectPq(proxy.wsUrl, await proxy.token(room, 'after-hostile', CAN_META));
    expect(after.join.participant?.identity).toBe('after-hostile');
    await after.close();
  });
});

function hugeFields(count: number): Buffer {
  const b = Buffer.alloc(count * 2);
  for (let i = 0; i < count; i++) {
    b[2 * i] = 0x08 + 8 * (i % 15);
    b[2 * i + 1] = i & 0x7f;
  }
  return b;
}
