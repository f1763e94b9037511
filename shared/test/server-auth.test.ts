/**
 * Server authentication (docs/PROTOCOL.md, "Server authentication"): the
 * known-answer file shared/test-vectors/server-auth-ml-dsa-65.json recomputed
 * on every signature and KEM backend; the client's checks (missing, unknown
 * and invalid signatures, substituted transcripts, rotation) with nothing
 * sealed before they pass; pins as apps give them and as tokens carry them;
 * PqWebSocket and installPqWebSocket with pins over a real loopback socket.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { AccessToken } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import WsWebSocket, { WebSocketServer } from 'ws';
import { fromHex, toBase64Url, toHex, utf8 } from '../src/bytes.js';
import { PqWebSocket, peekTokenPayload, SESSION_ID_PARAM, SUBPROTOCOL } from '../src/client/index.js';
import { type ClientOutput, ClientSession, type ClientSessionOptions } from '../src/client/session.js';
import { CloseCode } from '../src/close-codes.js';
import { KeyFormatError, ProtocolError, ServerAuthError, TokenError } from '../src/errors.js';
import { FrameKind } from '../src/frame.js';
import { clientHandshake, type SealedChannel, sealedChannel, serverHandshake } from '../src/handshake.js';
import { getAead, getKem, getSigner, installPqWebSocket, kemBackends, randomBytes, sigBackends } from '../src/index.js';
import type { Kem, KemAlgorithm } from '../src/kem/types.js';
import { decodeControl, decodeHandshake, decodeResponse, encodeResponse, MAX_RESPONSE_BYTES } from '../src/messages.js';
import {
  SERVER_AUTH_CONTEXT,
  type ServerKeyPin,
  serverKey,
  serverKeyId,
  serverKeyJson,
  serverKeys,
  type TranscriptSigner,
  transcriptSigner,
} from '../src/sig/server-auth.js';
import { addPqClaims, addServerKeys, downgradeClaims, readPqClaims, readServerKeyClaims, withServerKeyClaims } from '../src/token.js';

const aead = getAead();
const signer = getSigner('ML-DSA-65');
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
const QUERY = 'auto_subscribe=1&sdk=js&protocol=16';
const JOIN = Uint8Array.of(0x0a, 0x02, 0x08, 0x01);

/** A server identity: its key pair, the pin a client holds, and the transcript signer the proxy uses. */
function identity(backend = signer.backend) {
  const s = getSigner('ML-DSA-65', backend);
  const pair = s.keygen();
  return { pair, pin: pair.publicKey, keyId: serverKeyId(pair.publicKey), signer: transcriptSigner(s, pair) };
}
const A = identity();
const B = identity();

const sends = (out: ClientOutput[]) => out.flatMap((o) => (o.type === 'send' ? [o.frame] : []));
const failureOf = (out: ClientOutput[]) => {
  expect(out.map((o) => o.type)).toEqual(['failed']);
  return (out[0] as Extract<ClientOutput, { type: 'failed' }>).failure;
};

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

// ---------------------------------------------------------------------------
// Known-answer vectors

interface HandshakeVector {
  algorithm: KemAlgorithm;
  mode: 'in-band' | 'token-bound';
  inputs: { keygen_seed: string; encapsulation_randomness: string; session_id: string; connect: { access_token: string; query: string } };
  outputs: { client_public_key: string; response_frame: string; transcript_hash: string; client_first_frame: string };
}
interface ServerAuthVector {
  protocol: string;
  algorithm: string;
  inputs: { key_seed: string; context: string; signing: string };
  outputs: { public_key: string; key_id: string };
  handshakes: Array<{ handshake: string; transcript_hash: string; signed_message: string; signature: string; response_frame: string }>;
}
const VECTORS = new URL('../test-vectors/', import.meta.url);
const sa = JSON.parse(readFileSync(new URL('server-auth-ml-dsa-65.json', VECTORS), 'utf8')) as ServerAuthVector;
const base = (file: string) => JSON.parse(readFileSync(new URL(file, VECTORS), 'utf8')) as HandshakeVector;

/** The KEM of a handshake vector with its fixed encapsulation randomness. */
function fixedKem(kem: Kem, randomness: Uint8Array): Kem {
  const noble = kem.algorithm === 'ML-KEM-768' ? ml_kem768 : ml_kem768_x25519;
  return {
    ...kem,
    encapsulate(publicKey) {
      const e = noble.encapsulate(publicKey, randomness);
      return { ciphertext: e.cipherText, sharedSecret: e.sharedSecret };
    },
  };
}

describe('server-auth-ml-dsa-65.json', () => {
  const pk = fromHex(sa.outputs.public_key);
  const seed = fromHex(sa.inputs.key_seed);
  const { secretKey: expanded } = ml_dsa65.keygen(seed);
  /** The vector's deterministic signer (FIPS 204 rnd = 0^32), as make-vectors.mjs signs. */
  const deterministic: TranscriptSigner = {
    keyId: fromHex(sa.outputs.key_id),
    sign: (th) => ml_dsa65.sign(th, expanded, { context: SERVER_AUTH_CONTEXT, extraEntropy: false }),
  };

  test('covers every handshake vector; context is "volly-pq.v1 server-auth"', () => {
    expect(sa.handshakes.map((h) => h.handshake).sort()).toEqual([
      'ml-kem-768-in-band.json',
      'ml-kem-768-token-bound.json',
      'x-wing-in-band.json',
      'x-wing-token-bound.json',
    ]);
    expect([sa.protocol, sa.algorithm, sa.inputs.context]).toEqual(['volly-pq.v1', 'ML-DSA-65', toHex(utf8('volly-pq.v1 server-auth'))]);
    expect(toHex(SERVER_AUTH_CONTEXT)).toBe(sa.inputs.context);
  });

  test.each(sigBackends())('key from the seed and key id on %s', (backend) => {
    expect(toHex(getSigner('ML-DSA-65', backend).keygen(seed).publicKey)).toBe(sa.outputs.public_key);
    expect(toHex(serverKeyId(pk))).toBe(sa.outputs.key_id);
    expect(serverKeyJson(serverKey(pk))).toEqual({ keyId: sa.outputs.key_id, algorithm: 'ML-DSA-65', publicKey: toBase64Url(pk) });
  });

  describe.each(sa.handshakes)('$handshake', (h) => {
    const v = base(h.handshake);
    const th = fromHex(h.transcript_hash);

    test("th is the handshake vector's; the signed bytes are M' = 0x00 ‖ 0x17 ‖ context ‖ th", () => {
      expect(h.transcript_hash).toBe(v.outputs.transcript_hash);
      expect(h.signed_message).toBe(`0017${sa.inputs.context}${h.transcript_hash}`);
      // ML-DSA.Sign_internal over M' is the pure, context-string ML-DSA.Sign over th.
      expect(toHex(ml_dsa65.internal.sign(fromHex(h.signed_message), expanded, { extraEntropy: false }))).toBe(h.signature);
      expect(toHex(deterministic.sign(th))).toBe(h.signature);
    });

    test.each(sigBackends())('the signature verifies on %s (and not over another context or transcript)', (backend) => {
      const s = getSigner('ML-DSA-65', backend);
      expect(s.verify(fromHex(h.signature), th, pk, SERVER_AUTH_CONTEXT)).toBe(true);
      expect(s.verify(fromHex(h.signature), th, pk)).toBe(false);
      expect(s.verify(fromHex(h.signature), fromHex(v.outputs.transcript_hash.replace(/^./, (c) => (c === '0' ? '1' : '0'))), pk, SERVER_AUTH_CONTEXT)).toBe(
        false,
      );
    });

    test('the signed response frame: serverHandshake with the fixed randomness and the deterministic signer', () => {
      const kem = fixedKem(getKem(v.algorithm), fromHex(v.inputs.encapsulation_randomness));
      const { response } = serverHandshake(kem, v.inputs.session_id, fromHex(v.outputs.client_public_key), deterministic);
      expect(toHex(response)).toBe(h.response_frame);
      const r = decodeResponse(response);
      expect([toHex(r.serverKeyId), toHex(r.serverSignature)]).toEqual([sa.outputs.key_id, h.signature]);
      // What server authentication adds on the wire: field 6 (2 + 8 bytes) and field 7 (1 + 2 + 3309 bytes).
      expect(response.length - fromHex(v.outputs.response_frame).length).toBe(3322);
      expect(response.length).toBeLessThanOrEqual(MAX_RESPONSE_BYTES);
      // Without a signer the frame is the handshake vector's, byte for byte.
      expect(toHex(serverHandshake(kem, v.inputs.session_id, fromHex(v.outputs.client_public_key)).response)).toBe(v.outputs.response_frame);
    });

    const clients = kemBackends().flatMap((kemBackend) => sigBackends().map((sigBackend) => ({ kemBackend, sigBackend })));
    test.each(clients)('ClientSession pinning the key, $kemBackend KEM / $sigBackend signer: same keys, same first frame', ({ kemBackend, sigBackend }) => {
      const kem = getKem(v.algorithm, kemBackend);
      const opts: ClientSessionOptions = {
        kem,
        aead,
        mode: v.mode,
        keyPair: kem.keygen(fromHex(v.inputs.keygen_seed)),
        accessToken: v.inputs.connect.access_token,
        query: v.inputs.connect.query,
        randomBytes,
        ...(v.mode === 'in-band' ? { sessionId: v.inputs.session_id } : {}),
      };
      const pinned = new ClientSession({ ...opts, serverKeys: [pk], signer: getSigner('ML-DSA-65', sigBackend) });
      pinned.start();
      expect(sends(pinned.receive(fromHex(h.response_frame))).map(toHex)).toEqual([v.outputs.client_first_frame]);
      expect(toHex(pinned.result?.serverKey?.keyId ?? new Uint8Array())).toBe(sa.outputs.key_id);
      // Pinning another key: refused before anything is sealed.
      const other = new ClientSession({ ...opts, serverKeys: [A.pin], signer: getSigner('ML-DSA-65', sigBackend) });
      other.start();
      expect(failureOf(other.receive(fromHex(h.response_frame)))).toMatchObject({ closeCode: CloseCode.ServerAuth, code: 'ERR_SERVER_AUTH_UNKNOWN_KEY' });
      expect(other.counters.sealed).toBe(0);
      // The unsigned frame while pinning: refused the same way.
      const unsigned = new ClientSession({ ...opts, serverKeys: [pk], signer: getSigner('ML-DSA-65', sigBackend) });
      unsigned.start();
      expect(failureOf(unsigned.receive(fromHex(v.outputs.response_frame)))).toMatchObject({
        closeCode: CloseCode.ServerAuth,
        code: 'ERR_SERVER_AUTH_MISSING',
      });
      // No pins: the signature is ignored and the session is the handshake vector's.
      const plain = new ClientSession(opts);
      plain.start();
      expect(sends(plain.receive(fromHex(h.response_frame))).map(toHex)).toEqual([v.outputs.client_first_frame]);
      expect(plain.result?.serverKey).toBeUndefined();
    });
  });
});

// ---------------------------------------------------------------------------
// The client's checks

/** An in-band client pinning `pins`, its hello sent; `answer` plays the server. */
function pinnedClient(pins: readonly ServerKeyPin[], kem = getKem('ML-KEM-768'), extra: Partial<ClientSessionOptions> = {}) {
  const client = new ClientSession({ kem, aead, mode: 'in-band', accessToken: TOKEN, query: QUERY, randomBytes, serverKeys: pins, signer, ...extra });
  const h = decodeHandshake(sends(client.start())[0] as Uint8Array);
  return { client, h, answer: (auth?: TranscriptSigner) => serverHandshake(kem, h.sessionId, h.publicKey, auth) };
}

describe('the client with pinned keys', () => {
  test('signed by a pinned key: keyed, VollyConnect sealed, the server key recorded', () => {
    const { client, answer } = pinnedClient([A.pin]);
    const out = client.receive(answer(A.signer).response);
    expect(out.map((o) => o.type)).toEqual(['keyed', 'send']);
    expect(client.result?.serverKey?.keyId).toEqual(A.keyId);
  });

  test.each([
    ['no signature', () => undefined, 'ERR_SERVER_AUTH_MISSING'],
    ['a key that is not pinned', () => B.signer, 'ERR_SERVER_AUTH_UNKNOWN_KEY'],
    ["the pinned key id with another key's signature", () => ({ keyId: A.keyId, sign: B.signer.sign }), 'ERR_SERVER_AUTH_INVALID'],
    [
      'a flipped signature bit',
      () => ({ keyId: A.keyId, sign: (th: Uint8Array) => A.signer.sign(th).map((b, i) => (i === 7 ? b ^ 1 : b)) }),
      'ERR_SERVER_AUTH_INVALID',
    ],
    ['a truncated signature', () => ({ keyId: A.keyId, sign: (th: Uint8Array) => A.signer.sign(th).subarray(1) }), 'ERR_SERVER_AUTH_INVALID'],
    ['a key id but an empty signature', () => ({ keyId: A.keyId, sign: () => new Uint8Array(0) }), 'ERR_SERVER_AUTH_MISSING'],
  ] as const)('%s: failed 4526 (%s is the code), nothing sealed, no keys', (_what, auth, code) => {
    const { client, answer } = pinnedClient([A.pin]);
    const failure = failureOf(client.receive(answer(auth()).response));
    expect(failure).toMatchObject({ closeCode: CloseCode.ServerAuth, code });
    expect(failure.message).not.toMatch(/[A-Za-z0-9_-]{40,}/);
    expect([client.state, client.counters.sealed, client.result]).toEqual(['failed', 0, undefined]);
  });

  test('a signature over another session (a relay re-encapsulating with its own KEM) does not verify', () => {
    const kem = getKem('ML-KEM-768');
    const { client, h } = pinnedClient([A.pin], kem);
    // The relay's own session to the real server, signed by A over the relay's transcript…
    const relayKey = kem.keygen();
    const genuine = decodeResponse(serverHandshake(kem, h.sessionId, relayKey.publicKey, A.signer).response);
    // …and its answer to the client: its own encapsulation to the client's key, with A's key id and signature.
    const { ciphertext } = kem.encapsulate(h.publicKey);
    const forged = encodeResponse({
      success: true,
      algorithm: kem.algorithm,
      sessionId: h.sessionId,
      ciphertext,
      serverKeyId: genuine.serverKeyId,
      serverSignature: genuine.serverSignature,
    });
    expect(failureOf(client.receive(forged))).toMatchObject({ closeCode: CloseCode.ServerAuth, code: 'ERR_SERVER_AUTH_INVALID' });
  });

  test('a changed ciphertext or session id under a genuine signature does not verify', () => {
    const kem = getKem('X-Wing');
    const { client, h, answer } = pinnedClient([A.pin], kem);
    const r = decodeResponse(answer(A.signer).response);
    const ct = r.ciphertext.slice();
    ct[0] = (ct[0] as number) ^ 1;
    expect(failureOf(client.receive(encodeResponse({ ...r, ciphertext: ct })))).toMatchObject({ code: 'ERR_SERVER_AUTH_INVALID' });
    // Session id: refused earlier, as a substitution (4400).
    const other = pinnedClient([A.pin], kem);
    const r2 = decodeResponse(other.answer(A.signer).response);
    expect(failureOf(other.client.receive(encodeResponse({ ...r2, sessionId: `${h.sessionId}x` })))).toMatchObject({ closeCode: CloseCode.Malformed });
  });

  test('a ciphertext of the wrong length is refused before the transcript is hashed (4400)', () => {
    const kem = getKem('ML-KEM-768');
    const { client, answer } = pinnedClient([A.pin], kem);
    const r = decodeResponse(answer(A.signer).response);
    expect(failureOf(client.receive(encodeResponse({ ...r, ciphertext: r.ciphertext.subarray(1) })))).toMatchObject({
      closeCode: CloseCode.Malformed,
      code: 'ERR_KEY_FORMAT',
    });
  });

  test('rotation: the server signs with B; pins A and B pass, pins A alone fail (unknown key)', () => {
    const both = pinnedClient([A.pin, B.pin]);
    expect(both.client.receive(both.answer(B.signer).response).map((o) => o.type)).toEqual(['keyed', 'send']);
    expect(both.client.result?.serverKey?.keyId).toEqual(B.keyId);
    const onlyA = pinnedClient([A.pin]);
    expect(failureOf(onlyA.client.receive(onlyA.answer(B.signer).response))).toMatchObject({ code: 'ERR_SERVER_AUTH_UNKNOWN_KEY' });
  });

  test('token-bound: the server speaks first, signed; pinned client accepts it', () => {
    const kem = getKem('X-Wing');
    const keyPair = kem.keygen();
    const client = new ClientSession({ kem, aead, mode: 'token-bound', keyPair, query: QUERY, randomBytes, serverKeys: [A.pin], signer });
    expect(client.start()).toEqual([]);
    const { response } = serverHandshake(kem, toBase64Url(randomBytes(24)), keyPair.publicKey, A.signer);
    expect(client.receive(response).map((o) => o.type)).toEqual(['keyed', 'send']);
  });

  test('clientHandshake throws the typed error', () => {
    const kem = getKem('ML-KEM-768');
    const keyPair = kem.keygen();
    const sid = toBase64Url(randomBytes(24));
    const r = decodeResponse(serverHandshake(kem, sid, keyPair.publicKey, B.signer).response);
    const error = errorOf(() => clientHandshake(kem, keyPair, r, sid, { keys: serverKeys([A.pin]), signer }));
    expect(error).toBeInstanceOf(ServerAuthError);
    expect(error).toMatchObject({ code: 'ERR_SERVER_AUTH_UNKNOWN_KEY', closeCode: 4526 });
  });

  test('without pins the signature is ignored, and an unsigned response is fine (behaviour unchanged)', () => {
    const kem = getKem('ML-KEM-768');
    for (const auth of [undefined, A.signer, { keyId: A.keyId, sign: () => new Uint8Array(5) }]) {
      const client = new ClientSession({ kem, aead, mode: 'in-band', accessToken: TOKEN, query: QUERY, randomBytes });
      const h = decodeHandshake(sends(client.start())[0] as Uint8Array);
      expect(client.receive(serverHandshake(kem, h.sessionId, h.publicKey, auth).response).map((o) => o.type)).toEqual(['keyed', 'send']);
    }
    // An empty list is no pins.
    const empty = pinnedClient([]);
    expect(empty.client.receive(empty.answer().response).map((o) => o.type)).toEqual(['keyed', 'send']);
  });

  test('pins need a signer; a malformed pin is refused at construction', () => {
    const kem = getKem('ML-KEM-768');
    const opts = { kem, aead, mode: 'in-band' as const, query: '', randomBytes };
    expect(errorOf(() => new ClientSession({ ...opts, serverKeys: [A.pin] }))).toBeInstanceOf(ProtocolError);
    expect(errorOf(() => new ClientSession({ ...opts, serverKeys: [A.pin.subarray(1)], signer }))).toBeInstanceOf(KeyFormatError);
  });
});

describe('pins as apps hold them', () => {
  const json = serverKeyJson(serverKey(A.pin));

  test('raw bytes, base64url, the published JSON object, or a ServerKey: the same key', () => {
    const forms: ServerKeyPin[] = [A.pin, toBase64Url(A.pin), json, { publicKey: json.publicKey }, serverKey(A.pin)];
    for (const f of forms) expect(serverKey(f)).toEqual({ algorithm: 'ML-DSA-65', publicKey: A.pin, keyId: A.keyId });
    expect(json.keyId).toMatch(/^[0-9a-f]{16}$/);
    expect(serverKeys([A.pin, toBase64Url(A.pin), B.pin]).map((k) => k.keyId)).toEqual([A.keyId, B.keyId]);
  });

  test.each([
    ['a key id of another key', { ...json, keyId: toHex(B.keyId) }, /key id does not match/],
    ['a key id that is not hex', { ...json, keyId: 'zz' }, /key id does not match/],
    ['another algorithm', { ...json, algorithm: 'Ed25519' }, /algorithm must be ML-DSA-65/],
    ['a short key', A.pin.subarray(1), /1952-byte ML-DSA-65 public key/],
    ['base64 with padding', `${toBase64Url(A.pin)}=`, /1952-byte/],
    ['nothing', null as unknown as ServerKeyPin, /1952-byte/],
  ] as const)('%s -> KeyFormatError', (_what, pin, message) => {
    const error = errorOf(() => serverKey(pin as ServerKeyPin));
    expect(error).toBeInstanceOf(KeyFormatError);
    expect((error as Error).message).toMatch(message);
  });
});

describe('pins in tokens (video.pqServerKeys)', () => {
  const at = () => new AccessToken('APIkey', 's'.repeat(32), { identity: 'alice', ttl: '10m' });

  test('addServerKeys and addPqClaims({serverKeys}) put base64url keys in the video grant, read back by readServerKeyClaims', async () => {
    const t1 = await addServerKeys(at(), [A.pin, serverKeyJson(serverKey(B.pin))]).toJwt();
    const p1 = peekTokenPayload(t1) as Record<string, unknown>;
    expect((p1.video as Record<string, unknown>).pqServerKeys).toEqual([toBase64Url(A.pin), toBase64Url(B.pin)]);
    expect(readServerKeyClaims(p1)?.map((k) => k.keyId)).toEqual([A.keyId, B.keyId]);
    expect(readPqClaims(p1)).toBeNull(); // pins are not a key binding
    const kp = getKem('ML-KEM-768').keygen();
    const t2 = await addPqClaims(at(), { algorithm: 'ML-KEM-768', publicKey: kp.publicKey, serverKeys: [A.pin] }).toJwt();
    const p2 = peekTokenPayload(t2) as Record<string, unknown>;
    expect(readServerKeyClaims(p2)?.map((k) => k.keyId)).toEqual([A.keyId]);
    expect(readPqClaims(p2)?.publicKey).toEqual(kp.publicKey);
    expect(readServerKeyClaims({ video: { room: 'r' } })).toBeNull();
    expect(errorOf(() => addServerKeys(at(), []))).toBeInstanceOf(TokenError);
  });

  test.each([[[]], ['AAAA'], [[1, 2]], [['AAAA']], [[toBase64Url(A.pin), 'not a key!']]])('a malformed claim %j -> TokenError ERR_TOKEN_CLAIMS', (claim) => {
    const error = errorOf(() => readServerKeyClaims({ video: { pqServerKeys: claim } }));
    expect(error).toBeInstanceOf(TokenError);
    expect(error).toMatchObject({ code: 'ERR_TOKEN_CLAIMS' });
  });

  test('LiveKit never sees them (downgradeClaims); the proxy copies them into tokens it rewrites (withServerKeyClaims)', () => {
    const pins = [toBase64Url(A.pin)];
    const session = { sub: 'alice', video: { room: 'r', roomJoin: true, pqServerKeys: pins } };
    expect(downgradeClaims(session)).toEqual({ sub: 'alice', video: { room: 'r', roomJoin: true } });
    const refreshed = { sub: 'alice', video: { room: 'r', roomJoin: true } };
    expect(withServerKeyClaims(refreshed, session)).toEqual(session);
    expect(withServerKeyClaims(refreshed, { sub: 'alice' })).toBe(refreshed);
  });
});

// ---------------------------------------------------------------------------
// PqWebSocket and installPqWebSocket with pins, over a loopback socket

/** Plays the proxy: answers every handshake signed by `auth` (when set), records every frame received after its answer. */
class SigningProxy {
  readonly wss = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => (p.has(SUBPROTOCOL) ? SUBPROTOCOL : false) });
  auth: TranscriptSigner | undefined;
  /** Frames each connection sent after the pq_response (a VollyConnect, if the client accepted). */
  readonly afterResponse: Uint8Array[][] = [];
  readonly connects: string[] = [];
  readonly closes: number[] = [];

  constructor() {
    this.wss.on('connection', (ws, req) => {
      const after: Uint8Array[] = [];
      this.afterResponse.push(after);
      ws.on('close', (code) => this.closes.push(code));
      let channel: SealedChannel | undefined;
      const key = (alg: KemAlgorithm, sid: string, pk: Uint8Array) => {
        const { response, result } = serverHandshake(getKem(alg), sid, pk, this.auth);
        channel = sealedChannel(result, 'server', aead);
        ws.send(response);
      };
      const params = new URL(req.url ?? '/', 'http://x').searchParams;
      const payload = peekTokenPayload(params.get('access_token') ?? '');
      const claims = payload ? readPqClaims(payload) : null;
      if (claims) key(claims.algorithm, params.get(SESSION_ID_PARAM) ?? toBase64Url(randomBytes(24)), claims.publicKey);
      ws.on('message', (data: Buffer) => {
        const bytes = new Uint8Array(data);
        if (!channel) {
          const h = decodeHandshake(bytes);
          return key(h.algorithm as KemAlgorithm, h.sessionId, h.publicKey);
        }
        after.push(bytes);
        const c = decodeControl(channel.opener.open(bytes).payload);
        if (c.case === 'connect') {
          this.connects.push(c.accessToken);
          ws.send(channel.sealer.seal(FrameKind.LiveKitBinary, JOIN));
        }
      });
    });
  }
  get url(): string {
    return `ws://127.0.0.1:${(this.wss.address() as AddressInfo).port}/rtc`;
  }
  close(): Promise<void> {
    for (const c of this.wss.clients) c.terminate();
    return new Promise((r) => this.wss.close(() => r()));
  }
}

let proxy: SigningProxy;
beforeAll(async () => {
  proxy = new SigningProxy();
  await once(proxy.wss, 'listening');
});
afterAll(() => proxy.close());

/** Opens a PqWebSocket and waits for open or close; returns what happened. */
async function run(url: string, opts: Partial<ConstructorParameters<typeof PqWebSocket>[2]> = {}) {
  const ws = new PqWebSocket(url, undefined, {
    getKem: (a) => getKem(a),
    aead,
    randomBytes,
    WebSocket: WsWebSocket as unknown as typeof WebSocket,
    getSigner: (a) => getSigner(a),
    ...opts,
  });
  const events: string[] = [];
  for (const t of ['open', 'error', 'close']) ws.addEventListener(t, () => events.push(t));
  const [ev] = (await Promise.race([once(ws, 'open'), once(ws, 'close')])) as [Event & { code?: number; reason?: string }];
  const result = { ws, events, code: ev.type === 'close' ? ev.code : undefined, reason: ev.type === 'close' ? ev.reason : undefined };
  if (ev.type === 'open') {
    ws.close();
    await once(ws, 'close');
  }
  return result;
}

const tokenWith = (video: Record<string, unknown>) =>
  `eyJhbGciOiJIUzI1NiJ9.${toBase64Url(utf8(JSON.stringify({ sub: 'alice', video: { room: 'r', ...video } })))}.c2ln`;

describe('PqWebSocket with pins', () => {
  test('explicit pins, signed by a pinned key: open, the token sealed, pq.serverKeyId set', async () => {
    proxy.auth = A.signer;
    const before = proxy.connects.length;
    const r = await run(`${proxy.url}?access_token=${TOKEN}`, { serverKeys: [B.pin, A.pin] });
    expect(r.events[0]).toBe('open');
    expect(proxy.connects.slice(before)).toEqual([TOKEN]);
    expect(r.ws.pq).toMatchObject({ serverKeysFrom: 'options', serverKeyId: toHex(A.keyId) });
  });

  test('explicit pins, proxy unsigned or signing with another key: error then close 4526, no VollyConnect sent', async () => {
    for (const auth of [undefined, B.signer]) {
      proxy.auth = auth;
      const n = proxy.afterResponse.length;
      const r = await run(`${proxy.url}?access_token=${TOKEN}`, { serverKeys: [A.pin] });
      expect(r.events).toEqual(['error', 'close']);
      expect(r.code).toBe(CloseCode.ServerAuth);
      expect(r.ws.failure).toMatchObject({ closeCode: 4526, code: auth ? 'ERR_SERVER_AUTH_UNKNOWN_KEY' : 'ERR_SERVER_AUTH_MISSING' });
      expect(proxy.afterResponse[n]).toEqual([]);
    }
  });

  test('pins from the token (in-band and token-bound) when the app gives none', async () => {
    proxy.auth = A.signer;
    const inBand = await run(`${proxy.url}?access_token=${tokenWith({ pqServerKeys: [toBase64Url(A.pin)] })}`);
    expect(inBand.events[0]).toBe('open');
    expect(inBand.ws.pq).toMatchObject({ mode: 'in-band', serverKeysFrom: 'token', serverKeyId: toHex(A.keyId) });
    const kp = getKem('ML-KEM-768').keygen();
    const bound = tokenWith({
      pqPublicKey: toBase64Url(kp.publicKey),
      pqAlgorithm: 'ML-KEM-768',
      pqKeyExpiry: 4_000_000_000,
      pqServerKeys: [toBase64Url(B.pin)],
    });
    const n = proxy.afterResponse.length;
    const tb = await run(`${proxy.url}?access_token=${bound}`, { keyPairs: [kp] });
    expect([tb.ws.pq.mode, tb.code]).toEqual(['token-bound', CloseCode.ServerAuth]);
    expect(proxy.afterResponse[n]).toEqual([]);
  });

  test("explicit pins win over the token's", async () => {
    proxy.auth = A.signer;
    const r = await run(`${proxy.url}?access_token=${tokenWith({ pqServerKeys: [toBase64Url(B.pin)] })}`, { serverKeys: [A.pin] });
    expect(r.events[0]).toBe('open');
    expect(r.ws.pq.serverKeysFrom).toBe('options');
  });

  test('malformed pins in the token, or pins without a signer: close 4526 before anything is sent', async () => {
    proxy.auth = A.signer;
    for (const [token, extra] of [
      [tokenWith({ pqServerKeys: ['AAAA'] }), {}],
      [tokenWith({ pqServerKeys: [toBase64Url(A.pin)] }), { getSigner: undefined }],
    ] as const) {
      const n = proxy.afterResponse.length;
      const r = await run(`${proxy.url}?access_token=${token}`, extra);
      expect([r.events, r.code]).toEqual([['error', 'close'], CloseCode.ServerAuth]);
      // In-band: not even the handshake went out.
      await new Promise((res) => setTimeout(res, 50));
      expect(proxy.afterResponse.length === n || proxy.afterResponse[n]?.length === 0).toBe(true);
    }
  });

  test('explicit malformed pins or pins without getSigner: the constructor throws (an app bug)', () => {
    const opts = { getKem: (a: KemAlgorithm) => getKem(a), aead, randomBytes, WebSocket: WsWebSocket as unknown as typeof WebSocket };
    expect(errorOf(() => new PqWebSocket(proxy.url, undefined, { ...opts, serverKeys: ['AAAA'], getSigner: (a) => getSigner(a) }))).toBeInstanceOf(
      KeyFormatError,
    );
    expect(errorOf(() => new PqWebSocket(proxy.url, undefined, { ...opts, serverKeys: [A.pin] }))).toBeInstanceOf(TypeError);
  });

  test('no pins anywhere: unsigned and signed proxies both open (behaviour unchanged)', async () => {
    for (const auth of [undefined, B.signer]) {
      proxy.auth = auth;
      const r = await run(`${proxy.url}?access_token=${TOKEN}`);
      expect(r.events[0]).toBe('open');
      expect(r.ws.pq).toMatchObject({ serverKeysFrom: 'none', serverKeyId: undefined });
    }
  });
});

describe('installPqWebSocket({serverKeys})', () => {
  test('pins every PQ socket; the validate probe after a 4526 is answered 526 in the page, never sent', async () => {
    let fetched = 0;
    const target = {
      WebSocket: WsWebSocket as unknown as typeof WebSocket,
      fetch: (async () => {
        fetched++;
        return new Response('sent');
      }) as typeof fetch,
    };
    const uninstall = installPqWebSocket({ target, serverKeys: [serverKeyJson(serverKey(A.pin))] });
    try {
      proxy.auth = B.signer;
      const ws = new target.WebSocket(`${proxy.url}?access_token=${TOKEN}&join_request=abc`) as unknown as PqWebSocket;
      const [ev] = (await once(ws, 'close')) as [CloseEvent];
      expect(ev.code).toBe(CloseCode.ServerAuth);
      const res = await target.fetch(`${proxy.url.replace('ws:', 'http:')}/validate?access_token=${TOKEN}&join_request=abc`);
      expect(res.status).toBe(526);
      expect(await res.text()).toMatch(/not pinned/);
      expect(fetched).toBe(0);
      proxy.auth = A.signer;
      const ok = new target.WebSocket(`${proxy.url}?access_token=${TOKEN}`) as unknown as PqWebSocket;
      await once(ok, 'open');
      expect(ok.pq.serverKeyId).toBe(toHex(A.keyId));
      ok.close();
    } finally {
      uninstall();
    }
    expect(errorOf(() => installPqWebSocket({ target, serverKeys: ['not a key'] }))).toBeInstanceOf(KeyFormatError);
  });
});
