// Server authentication against the real LiveKit (docs/PROTOCOL.md section
// 10): proxies with ML-DSA-65 identity keys made by `volly-pq keygen`, their
// keys published on the admin listener, pinned joins for both KEMs and both
// handshake flows, key rotation, and a man-in-the-middle relay on loopback
// that terminates the client's handshake with its own encapsulation and runs
// its own handshake to the proxy: with pins the client leaves before any
// token does; without pins the relay reads the token and the join succeeds
// through it, as documented.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Authorizer } from '@volly/proxy';
import {
  addServerKeys,
  aeadBackends,
  CloseCode,
  clientHandshake,
  decodeControl,
  decodeHandshake,
  decodeResponse,
  encodeHandshake,
  FrameKind,
  fromBase64Url,
  getAead,
  getKem,
  getSigner,
  type KemAlgorithm,
  type PqResponse,
  peekTokenPayload,
  randomBytes,
  readPqClaims,
  SESSION_ID_PARAM,
  type SealedChannel,
  type ServerKeyJson,
  type ServerKeyPin,
  SUBPROTOCOL,
  sealedChannel,
  serverHandshake,
  type TranscriptSigner,
  toBase64Url,
  transcriptSigner,
} from '@volly/shared';
import { AccessToken } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { volly } from '../../proxy/test/run-cli.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { connectPq, PqConnectError } from '../harness/pq-signal.ts';
import { makeTempDir } from '../harness/process.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { token } from '../harness/tokens.ts';

const aead = getAead(aeadBackends()[0]);

interface PublishedKeys {
  keys: Array<Required<ServerKeyJson> & { signing: boolean }>;
}

let livekit: LiveKitServer;
/** Signs with key A. */
let proxyA: TestProxy;
/** Rotating: signs with B, still publishes A. */
let rotated: TestProxy;
/** No identity keys: unsigned responses. */
let plain: TestProxy;
let keysA: PublishedKeys;
let keysRotated: PublishedKeys;
let mitm: Mitm;

let dir: string;

async function keygen(file: string): Promise<{ algorithm: string; publicKey: string; keyId: string }> {
  const r = await volly(['keygen', '--algorithm', 'ML-DSA-65', '--out', file]);
  expect(r, r.stderr).toMatchObject({ code: 0 });
  return JSON.parse(r.stdout) as { algorithm: string; publicKey: string; keyId: string };
}

async function published(p: TestProxy): Promise<PublishedKeys> {
  const res = await fetch(`${p.adminUrl}/server-keys`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toBe('application/json');
  return (await res.json()) as PublishedKeys;
}

beforeAll(async () => {
  dir = makeTempDir('volly-server-auth-');
  const a = await keygen(join(dir, 'a.json'));
  const b = await keygen(join(dir, 'b.json'));
  expect([a.algorithm, fromBase64Url(a.publicKey)?.length, a.keyId]).toEqual(['ML-DSA-65', 1952, expect.stringMatching(/^[0-9a-f]{16}$/)]);
  // A public-only file for A on the rotating proxy: it publishes A, it cannot sign with it.
  writeFileSync(join(dir, 'a.pub.json'), JSON.stringify({ algorithm: a.algorithm, publicKey: a.publicKey }));
  livekit = await startLiveKit();
  proxyA = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: join(dir, 'a.json') });
  rotated = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: `${join(dir, 'b.json')},${join(dir, 'a.pub.json')}` });
  plain = await startTestProxy(livekit);
  keysA = await published(proxyA);
  keysRotated = await published(rotated);
  // The key ids keygen printed are the ones the proxies publish (and send on the wire).
  expect([keysA.keys[0]?.keyId, keysRotated.keys[0]?.keyId]).toEqual([a.keyId, b.keyId]);
  mitm = new Mitm(proxyA.wsUrl);
  await new Promise((r) => mitm.wss.once('listening', r));
});

afterAll(async () => {
  await mitm?.close();
  await Promise.all([proxyA?.close(), rotated?.close(), plain?.close()]);
  await livekit?.stop();
});

/** connectPq expecting a refusal; returns the close and the client's failure. */
async function refused(url: string, t: string, opts: Parameters<typeof connectPq>[2] = {}): Promise<PqConnectError> {
  const err = await connectPq(url, t, opts).then(
    async (sig) => {
      await sig.close();
      throw new Error('the client joined');
    },
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PqConnectError);
  return err as PqConnectError;
}

describe('keys and publication', () => {
  it('GET /server-keys lists the public keys, the signing one first; none without VOLLY_SERVER_KEYS', async () => {
    expect(keysA.keys).toEqual([{ keyId: expect.stringMatching(/^[0-9a-f]{16}$/), algorithm: 'ML-DSA-65', publicKey: expect.any(String), signing: true }]);
    expect(keysRotated.keys.map((k) => [k.keyId, k.signing])).toEqual([
      [expect.not.stringMatching(keysA.keys[0]?.keyId as string), true],
      [keysA.keys[0]?.keyId, false],
    ]);
    expect(await published(plain)).toEqual({ keys: [] });
    // Nothing secret is published.
    expect(JSON.stringify(keysA)).not.toMatch(/secret/i);
  });
});

describe('pinned joins through the proxy', () => {
  for (const algorithm of ['ML-KEM-768', 'X-Wing'] as const) {
    it(`${algorithm} in-band, pins from GET /server-keys: joined, authenticated by key A`, async () => {
      const sig = await connectPq(proxyA.wsUrl, await token(proxyA, `auth-${algorithm}`.toLowerCase(), 'alice'), { algorithm, serverKeys: keysA.keys });
      expect(sig.join.participant?.identity).toBe('alice');
      expect(sig.ws.pq).toMatchObject({ mode: 'in-band', algorithm, serverKeysFrom: 'options', serverKeyId: keysA.keys[0]?.keyId });
      await sig.close();
    });

    it(`${algorithm} token-bound, pins in the token (addPqClaims serverKeys): joined, authenticated`, async () => {
      const keyPair = getKem(algorithm).keygen();
      const t = await token(proxyA, `bound-auth-${algorithm}`.toLowerCase(), 'bob', {
        bind: { algorithm, publicKey: keyPair.publicKey, serverKeys: keysA.keys },
      });
      const sig = await connectPq(proxyA.wsUrl, t, { keyPairs: [keyPair] });
      expect(sig.ws.pq).toMatchObject({ mode: 'token-bound', serverKeysFrom: 'token', serverKeyId: keysA.keys[0]?.keyId });
      await sig.close();
    });
  }

  it('pins (in the token) against a proxy that does not sign: 4526 ERR_SERVER_AUTH_MISSING', async () => {
    const t = await token(plain, 'unsigned', 'carol', { extra: (at) => addServerKeys(at, keysA.keys) });
    const err = await refused(plain.wsUrl, t);
    expect([err.code, err.failure?.code]).toEqual([CloseCode.ServerAuth, 'ERR_SERVER_AUTH_MISSING']);
  });
});

describe('rotation: the proxy signs with B and still publishes A', () => {
  it('a client pinning A and B joins, authenticated by B', async () => {
    const sig = await connectPq(rotated.wsUrl, await token(rotated, 'rotation', 'dave'), { serverKeys: [...keysA.keys, ...keysRotated.keys] });
    expect(sig.ws.pq.serverKeyId).toBe(keysRotated.keys[0]?.keyId);
    await sig.close();
  });

  it('a client pinning only A fails: 4526 ERR_SERVER_AUTH_UNKNOWN_KEY', async () => {
    const err = await refused(rotated.wsUrl, await token(rotated, 'rotation', 'erin'), { serverKeys: keysA.keys });
    expect([err.code, err.failure?.code]).toEqual([CloseCode.ServerAuth, 'ERR_SERVER_AUTH_UNKNOWN_KEY']);
  });
});

// ---------------------------------------------------------------------------
// A man in the middle

/** How the relay answers a client: unsigned, with the proxy's key id and signature (over the relay's own transcript), or signed by its own ML-DSA-65 key. */
type Forgery = 'unsigned' | 'forwarded' | 'own key';

interface Intercept {
  /** Sealed frames the client sent after the relay's pq_response. */
  framesAfterResponse: number;
  /** Tokens the relay read from VollyConnect frames it opened. */
  tokens: string[];
  closed: Promise<void>;
}

/**
 * A relay on 127.0.0.1 that looks like the proxy to the client. Each client
 * connection: an in-band handshake of its own to the real proxy (its own KEM
 * key, the client's session id), an encapsulation of its own to the client's
 * key (from the handshake, or from the token's pqPublicKey), and then, if the
 * client seals a VollyConnect, it opens it, notes the token, and relays every
 * frame both ways, re-sealed.
 */
class Mitm {
  readonly wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => (p.has(SUBPROTOCOL) ? SUBPROTOCOL : false) });
  forgery: Forgery = 'unsigned';
  readonly intercepts: Intercept[] = [];
  readonly #ownKey = transcriptSigner(getSigner('ML-DSA-65'), getSigner('ML-DSA-65').keygen());

  constructor(private readonly target: string) {
    this.wss.on('connection', (client, req) => this.#intercept(client, new URL(req.url ?? '/', 'http://relay.invalid')));
  }

  get wsUrl(): string {
    return `ws://127.0.0.1:${(this.wss.address() as { port: number }).port}`;
  }

  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((r) => this.wss.close(() => r()));
  }

  #intercept(client: WebSocket, url: URL): void {
    let done: () => void = () => {};
    const record: Intercept = { framesAfterResponse: 0, tokens: [], closed: new Promise((r) => (done = r)) };
    this.intercepts.push(record);
    let toClient: SealedChannel | undefined;
    let upstream: { ws: WebSocket; channel: SealedChannel } | undefined;
    const queue: Buffer[] = [];
    client.on('close', () => {
      upstream?.ws.close();
      done();
    });
    client.on('error', () => {});

    const answer = async (algorithm: KemAlgorithm, sessionId: string, clientKey: Uint8Array) => {
      const up = await this.#upstream(url.pathname, algorithm, sessionId);
      const signed = up.response;
      const auth: TranscriptSigner | undefined =
        this.forgery === 'unsigned'
          ? undefined
          : this.forgery === 'forwarded'
            ? { keyId: signed.serverKeyId, sign: () => signed.serverSignature }
            : this.#ownKey;
      // The relay's own encapsulation to the client's key: it knows this session's keys.
      const { response, result } = serverHandshake(getKem(algorithm), sessionId, clientKey, auth);
      const down = sealedChannel(result, 'server', aead);
      up.ws.on('message', (data: Buffer) => {
        const { kind, payload } = up.channel.opener.open(new Uint8Array(data));
        if (client.readyState === client.OPEN) client.send(down.sealer.seal(kind, payload));
      });
      up.ws.on('close', () => client.close(1000));
      upstream = up;
      toClient = down;
      client.send(response);
      for (const f of queue.splice(0)) fromClient(f);
    };

    const fromClient = (data: Buffer) => {
      if (!toClient || !upstream) return void queue.push(data);
      record.framesAfterResponse++;
      const { kind, payload } = toClient.opener.open(new Uint8Array(data));
      if (kind === FrameKind.Control) {
        const c = decodeControl(payload);
        if (c.case === 'connect') record.tokens.push(c.accessToken);
      }
      upstream.ws.send(upstream.channel.sealer.seal(kind, payload));
    };

    // Token-bound: the client's key is in the URL's token, and the client waits for us.
    // A capable relay answers with the client's own session id, so only the signature can catch it.
    const claims = readPqClaims(peekTokenPayload(url.searchParams.get('access_token') ?? '') ?? {});
    if (claims) void answer(claims.algorithm, url.searchParams.get(SESSION_ID_PARAM) ?? toBase64Url(randomBytes(24)), claims.publicKey);
    let hello = !claims;
    client.on('message', (data: Buffer) => {
      if (hello) {
        hello = false;
        const h = decodeHandshake(new Uint8Array(data));
        void answer(h.algorithm as KemAlgorithm, h.sessionId, h.publicKey);
        return;
      }
      fromClient(data);
    });
  }

  /** The relay's own in-band handshake to the proxy; resolves keyed, with the proxy's (signed) response. */
  #upstream(path: string, algorithm: KemAlgorithm, sessionId: string): Promise<{ ws: WebSocket; channel: SealedChannel; response: PqResponse }> {
    const kem = getKem(algorithm);
    const keyPair = kem.keygen();
    const ws = new WebSocket(`${this.target}${path}`, SUBPROTOCOL);
    ws.on('error', () => {});
    return new Promise((resolve, reject) => {
      ws.once('open', () => ws.send(encodeHandshake({ algorithm, publicKey: keyPair.publicKey, sessionId })));
      ws.once('message', (data: Buffer) => {
        const response = decodeResponse(new Uint8Array(data));
        const result = clientHandshake(kem, keyPair, response, sessionId);
        resolve({ ws, channel: sealedChannel(result, 'client', aead), response });
      });
      ws.once('close', (code) => reject(new Error(`proxy closed the relay's handshake: ${code}`)));
    });
  }
}

describe('a man-in-the-middle relay on loopback', () => {
  it('without pins: NOT detected — the relay opens VollyConnect, reads the token, and the join succeeds through it', async () => {
    mitm.forgery = 'unsigned';
    const t = await token(proxyA, 'relayed', 'frank');
    const sig = await connectPq(mitm.wsUrl, t);
    expect(sig.join.participant?.identity).toBe('frank');
    const seen = mitm.intercepts.at(-1) as Intercept;
    expect(seen.tokens).toEqual([t]);
    expect(sig.ws.pq).toMatchObject({ serverKeysFrom: 'none', serverKeyId: undefined });
    await sig.close();
  });

  for (const forgery of ['unsigned', 'forwarded', 'own key'] as const) {
    it(`with pins, relay ${forgery}: detected — 4526 before any token leaves the client; the relay opens no frame`, async () => {
      mitm.forgery = forgery;
      const t = await token(proxyA, 'relayed', 'grace');
      const err = await refused(mitm.wsUrl, t, { serverKeys: keysA.keys });
      const seen = mitm.intercepts.at(-1) as Intercept;
      await seen.closed;
      expect(err.code).toBe(CloseCode.ServerAuth);
      expect(err.failure?.code).toBe(
        { unsigned: 'ERR_SERVER_AUTH_MISSING', forwarded: 'ERR_SERVER_AUTH_INVALID', 'own key': 'ERR_SERVER_AUTH_UNKNOWN_KEY' }[forgery],
      );
      expect(seen).toMatchObject({ framesAfterResponse: 0, tokens: [] });
    });
  }

  it('with pins in a token-bound token: detected before the client seals anything', async () => {
    mitm.forgery = 'forwarded';
    const keyPair = getKem('ML-KEM-768').keygen();
    const t = await token(proxyA, 'relayed', 'heidi', {
      bind: { algorithm: 'ML-KEM-768', publicKey: keyPair.publicKey, serverKeys: keysA.keys },
    });
    const err = await refused(mitm.wsUrl, t, { keyPairs: [keyPair] });
    const seen = mitm.intercepts.at(-1) as Intercept;
    await seen.closed;
    expect([err.code, err.failure?.code]).toEqual([CloseCode.ServerAuth, 'ERR_SERVER_AUTH_INVALID']);
    expect(seen).toMatchObject({ framesAfterResponse: 0, tokens: [] });
  });
});

describe('tokens the proxy rewrites keep the pins', () => {
  it('a refreshed token from LiveKit comes back with the session token’s pqServerKeys', async () => {
    const auth = new Authorizer(proxyA.config);
    const pins: ServerKeyPin[] = keysA.keys;
    const grant = await auth.verify(await token(proxyA, 'refresh', 'ivan', { extra: (at) => addServerKeys(at, pins) }));
    // What LiveKit hands out: signed with the upstream key, no PQ claims.
    const upstream = new AccessToken(livekit.apiKey, livekit.apiSecret, { identity: 'ivan', ttl: '10m' });
    upstream.addGrant({ roomJoin: true, room: 'refresh' });
    const rewritten = await auth.clientFacing(await upstream.toJwt(), grant);
    const video = (peekTokenPayload(rewritten as string) as { video: Record<string, unknown> }).video;
    expect(video.pqServerKeys).toEqual(keysA.keys.map((k) => k.publicKey));
    // And LiveKit never sees them.
    const down = peekTokenPayload(await auth.downgrade(grant)) as { video: Record<string, unknown> };
    expect(down.video).not.toHaveProperty('pqServerKeys');
  });
});
