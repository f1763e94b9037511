/**
 * ClientSession, the transport-free client state machine, against the real
 * server side (serverHandshake + sealedChannel): both handshake flows for both
 * algorithms across KEM backends, failures (sealed VollyError, refused
 * handshake, algorithm substitution, session id mismatch, tampering) and the
 * rule that nothing is sealed before the keys exist.
 */
import { bytesToHex } from '@noble/hashes/utils.js';
import { describe, expect, test } from 'vitest';
import type { Aead } from '../src/aead/types.js';
import { getAead, getKem, kemBackends, randomBytes } from '../src/backend/node.js';
import { toBase64Url, utf8 } from '../src/bytes.js';
import { type ClientOutput, ClientSession, type ClientSessionOptions, failureFromControlError } from '../src/client/session.js';
import { CloseCode } from '../src/close-codes.js';
import { ProtocolError } from '../src/errors.js';
import { FrameKind } from '../src/frame.js';
import { fingerprint, sealedChannel, serverHandshake } from '../src/handshake.js';
import { KEM_ALGORITHMS, type Kem, type KemAlgorithm } from '../src/kem/types.js';
import { decodeControl, decodeHandshake, encodeControl, encodeResponse } from '../src/messages.js';

const aead: Aead = getAead();
const TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJhbGljZSJ9.c2lnbmF0dXJl';
const QUERY = 'auto_subscribe=1&sdk=js&version=2.15.0&protocol=16';
const JOIN = Uint8Array.of(0x0a, 0x03, 0x01, 0x02, 0x03); // stands for a LiveKit SignalResponse{join}

const newSession = (kem: Kem, extra: Partial<ClientSessionOptions> = {}) =>
  new ClientSession({ kem, aead, mode: 'in-band', accessToken: TOKEN, query: QUERY, randomBytes, ...extra });

/** The server's side of a keyed session: the response frame and its sealed channel. */
function serve(kem: Kem, sessionId: string, publicKey: Uint8Array) {
  const { response, result } = serverHandshake(kem, sessionId, publicKey);
  const fp = fingerprint(result);
  return { response, fp, channel: sealedChannel(result, 'server', aead) };
}

const sends = (out: ClientOutput[]) => out.flatMap((o) => (o.type === 'send' ? [o.frame] : []));
const only = <T extends ClientOutput['type']>(out: ClientOutput[], type: T) => {
  expect(out.map((o) => o.type)).toEqual([type]);
  return out[0] as Extract<ClientOutput, { type: T }>;
};

/** Runs an in-band session up to `keyed`; returns the client, the server channel and the opened VollyConnect. */
function keyedInBand(kem: Kem, extra: Partial<ClientSessionOptions> = {}) {
  const client = newSession(kem, extra);
  const [hello] = sends(client.start());
  const h = decodeHandshake(hello as Uint8Array);
  const server = serve(kem, h.sessionId, h.publicKey);
  const out = client.receive(server.response);
  expect(out.map((o) => o.type)).toEqual(['keyed', 'send']);
  const opened = server.channel.opener.open(sends(out)[0] as Uint8Array);
  return { client, server, opened, out };
}

const pairs = kemBackends().flatMap((serverBackend) => kemBackends().map((clientBackend) => ({ serverBackend, clientBackend })));
const cases = KEM_ALGORITHMS.flatMap((algorithm) => pairs.map((p) => ({ algorithm, ...p })));

describe.each(cases)('$algorithm, server $serverBackend, client $clientBackend', ({ algorithm, serverBackend, clientBackend }) => {
  const serverKem = getKem(algorithm, serverBackend);
  const clientKem = getKem(algorithm, clientBackend);

  test('in-band: handshake, VollyConnect with token and query, then LiveKit frames both ways', () => {
    const client = newSession(clientKem);
    expect(client.state).toBe('new');
    const [hello] = sends(client.start());
    expect(client.state).toBe('handshaking');
    const h = decodeHandshake(hello as Uint8Array);
    expect(h.algorithm).toBe(algorithm);
    expect(h.publicKey).toEqual(client.publicKey);
    expect(h.sessionId).toMatch(/^[A-Za-z0-9_-]{32}$/);

    const server = serve(serverKem, h.sessionId, h.publicKey);
    const out = client.receive(server.response);
    const keyed = out[0] as Extract<ClientOutput, { type: 'keyed' }>;
    expect(keyed.type).toBe('keyed');
    expect([keyed.result.algorithm, keyed.result.sessionId, fingerprint(keyed.result)]).toEqual([algorithm, h.sessionId, server.fp]);
    expect(client.state).toBe('keyed');

    const connect = server.channel.opener.open(sends(out)[0] as Uint8Array);
    expect(connect.kind).toBe(FrameKind.Control);
    expect(decodeControl(connect.payload)).toEqual({ case: 'connect', accessToken: TOKEN, query: QUERY });

    const msg = only(client.receive(server.channel.sealer.seal(FrameKind.LiveKitBinary, JOIN)), 'message');
    expect([msg.kind, bytesToHex(msg.payload)]).toEqual([FrameKind.LiveKitBinary, bytesToHex(JOIN)]);
    expect(client.state).toBe('open');
    const text = only(client.receive(server.channel.sealer.seal(FrameKind.LiveKitText, utf8('{"pong":1}'))), 'message');
    expect([text.kind, new TextDecoder().decode(text.payload)]).toEqual([FrameKind.LiveKitText, '{"pong":1}']);

    expect(server.channel.opener.open(client.seal(Uint8Array.of(9, 8)))).toEqual({ kind: FrameKind.LiveKitBinary, payload: Uint8Array.of(9, 8) });
    expect(server.channel.opener.open(client.seal('{"ping":2}'))).toEqual({ kind: FrameKind.LiveKitText, payload: utf8('{"ping":2}') });
    expect(client.counters).toEqual({ sealed: 3, opened: 2 });
  });

  test('token-bound: client sends nothing first, server picks the session id, connect carries no token', () => {
    const keyPair = clientKem.keygen();
    const client = new ClientSession({ kem: clientKem, aead, mode: 'token-bound', keyPair, query: QUERY, randomBytes });
    expect(client.start()).toEqual([]);
    expect(client.publicKey).toEqual(keyPair.publicKey);
    const sid = toBase64Url(randomBytes(24));
    const server = serve(serverKem, sid, keyPair.publicKey);
    const out = client.receive(server.response);
    expect(out.map((o) => o.type)).toEqual(['keyed', 'send']);
    expect(client.result?.sessionId).toBe(sid);
    const connect = server.channel.opener.open(sends(out)[0] as Uint8Array);
    expect(decodeControl(connect.payload)).toEqual({ case: 'connect', accessToken: '', query: QUERY });
    only(client.receive(server.channel.sealer.seal(FrameKind.LiveKitBinary, JOIN)), 'message');
    expect(client.state).toBe('open');
  });
});

describe.each(KEM_ALGORITHMS)('%s failures', (algorithm: KemAlgorithm) => {
  const kem = getKem(algorithm);

  test('sealed VollyError with LiveKit HTTP status before the first LiveKit frame: failed, 4502 + status', () => {
    const { client, server } = keyedInBand(kem);
    const err = server.channel.sealer.seal(FrameKind.Control, encodeControl({ case: 'error', code: 401, message: 'no permissions to access the room' }));
    const failed = only(client.receive(err), 'failed');
    expect(failed.failure).toEqual({ closeCode: CloseCode.Upstream, status: 401, message: 'no permissions to access the room' });
    expect(failed.failure).toEqual(failureFromControlError(401, 'no permissions to access the room'));
    expect(client.state).toBe('failed');
    // Nothing more is delivered, nothing can be sealed.
    expect(client.receive(server.channel.sealer.seal(FrameKind.LiveKitBinary, JOIN))).toEqual([]);
    expect(() => client.seal('x')).toThrow(ProtocolError);
  });

  test('sealed VollyError carrying a close code: failed with that code and no status', () => {
    const { client, server } = keyedInBand(kem);
    const failed = only(
      client.receive(
        server.channel.sealer.seal(FrameKind.Control, encodeControl({ case: 'error', code: 4401, message: 'token is bound to another post-quantum key' })),
      ),
      'failed',
    );
    expect(failed.failure).toEqual({ closeCode: 4401, message: 'token is bound to another post-quantum key' });
  });

  test('sealed VollyError after the session opened ends it too', () => {
    const { client, server } = keyedInBand(kem);
    only(client.receive(server.channel.sealer.seal(FrameKind.LiveKitBinary, JOIN)), 'message');
    const failed = only(
      client.receive(server.channel.sealer.seal(FrameKind.Control, encodeControl({ case: 'error', code: CloseCode.GoingAway, message: 'draining' }))),
      'failed',
    );
    expect(failed.failure.closeCode).toBe(1001);
    expect(client.state).toBe('failed');
  });

  test('pq_response with success=false: failed with the server error, nothing sent', () => {
    const client = newSession(kem);
    client.start();
    const failed = only(client.receive(encodeResponse({ success: false, error: 'KEM algorithm X-Wing is not allowed here' })), 'failed');
    expect(failed.failure).toEqual({ closeCode: CloseCode.Malformed, message: 'KEM algorithm X-Wing is not allowed here' });
    expect(client.counters.sealed).toBe(0);
  });

  test('algorithm substitution in the response is refused', () => {
    const other = KEM_ALGORITHMS.find((a) => a !== algorithm) as KemAlgorithm;
    for (const claimed of [other, '', algorithm.toLowerCase()]) {
      const client = newSession(kem);
      const h = decodeHandshake(sends(client.start())[0] as Uint8Array);
      const { ciphertext } = kem.encapsulate(h.publicKey);
      const failed = only(client.receive(encodeResponse({ success: true, algorithm: claimed, sessionId: h.sessionId, ciphertext })), 'failed');
      expect(failed.failure.closeCode).toBe(CloseCode.Malformed);
      expect(client.result).toBeUndefined();
    }
  });

  test('a response for another session id, or a malformed one, is refused', () => {
    for (const sessionId of [toBase64Url(randomBytes(24)), 'short', '']) {
      const client = newSession(kem);
      const h = decodeHandshake(sends(client.start())[0] as Uint8Array);
      const failed = only(client.receive(serve(kem, sessionId, h.publicKey).response), 'failed');
      expect(failed.failure.closeCode).toBe(CloseCode.Malformed);
    }
    // Token-bound accepts the server's id only when well formed.
    const keyPair = kem.keygen();
    const bound = new ClientSession({ kem, aead, mode: 'token-bound', keyPair, query: '', randomBytes });
    bound.start();
    only(bound.receive(serve(kem, 'not a session id', keyPair.publicKey).response), 'failed');
  });

  test('a response keyed to another public key yields different keys: the server cannot open the connect', () => {
    const client = newSession(kem);
    const h = decodeHandshake(sends(client.start())[0] as Uint8Array);
    const server = serve(kem, h.sessionId, kem.keygen().publicKey);
    const out = client.receive(server.response);
    expect(out.map((o) => o.type)).toEqual(['keyed', 'send']);
    expect(() => server.channel.opener.open(sends(out)[0] as Uint8Array)).toThrow(/authentication/);
  });

  test('garbage, a truncated ciphertext, a tampered frame, non-UTF-8 text or a VollyConnect from the server: failed 4400', () => {
    const garbage = newSession(kem);
    garbage.start();
    expect(only(garbage.receive(Uint8Array.of(0xff, 0x01)), 'failed').failure.closeCode).toBe(CloseCode.Malformed);

    const short = newSession(kem);
    const h = decodeHandshake(sends(short.start())[0] as Uint8Array);
    const ct = kem.encapsulate(h.publicKey).ciphertext.subarray(1);
    expect(only(short.receive(encodeResponse({ success: true, algorithm, sessionId: h.sessionId, ciphertext: ct })), 'failed').failure.closeCode).toBe(
      CloseCode.Malformed,
    );

    const tampered = keyedInBand(kem);
    const frame = tampered.server.channel.sealer.seal(FrameKind.LiveKitBinary, JOIN);
    frame[5] = (frame[5] as number) ^ 0x10;
    expect(only(tampered.client.receive(frame), 'failed').failure.closeCode).toBe(CloseCode.Malformed);
    expect(tampered.client.state).toBe('failed');

    const badText = keyedInBand(kem);
    only(badText.client.receive(badText.server.channel.sealer.seal(FrameKind.LiveKitText, utf8('{"ok":1}'))), 'message');
    const invalidUtf8 = badText.server.channel.sealer.seal(FrameKind.LiveKitText, Uint8Array.of(0x7b, 0xff, 0x7d));
    expect(only(badText.client.receive(invalidUtf8), 'failed').failure.closeCode).toBe(CloseCode.Malformed);

    const connect = keyedInBand(kem);
    const reflected = connect.server.channel.sealer.seal(FrameKind.Control, encodeControl({ case: 'connect', accessToken: 'x', query: '' }));
    expect(only(connect.client.receive(reflected), 'failed').failure.closeCode).toBe(CloseCode.Malformed);
  });
});

describe('nothing is sealed before the session is keyed', () => {
  const kem = getKem('ML-KEM-768');

  test('in-band: the first frame is the handshake alone, with no token or query in it', () => {
    const client = newSession(kem, { accessToken: 'SECRET-TOKEN-abc', query: 'join_request=SECRET-SDP' });
    const out = client.start();
    expect(out.map((o) => o.type)).toEqual(['send']);
    const hello = Buffer.from(sends(out)[0] as Uint8Array);
    expect(hello.includes('SECRET')).toBe(false);
    expect(Object.keys(decodeHandshake(hello)).sort()).toEqual(['algorithm', 'publicKey', 'sessionId']);
    expect(client.counters.sealed).toBe(0);
  });

  test('seal() refuses before keys and after close; once VollyConnect is sent, early frames are sealed after it', () => {
    const client = newSession(kem);
    expect(() => client.seal('x')).toThrow(ProtocolError); // new
    const h = decodeHandshake(sends(client.start())[0] as Uint8Array);
    expect(() => client.seal(Uint8Array.of(1))).toThrow(ProtocolError); // handshaking
    const server = serve(kem, h.sessionId, h.publicKey);
    const connect = sends(client.receive(server.response))[0] as Uint8Array;
    expect(client.state).toBe('keyed');
    const early = client.seal('x'); // keyed: an early frame, sealed right after the VollyConnect
    expect(server.channel.opener.open(connect).kind).toBe(FrameKind.Control);
    expect(server.channel.opener.open(early)).toMatchObject({ kind: FrameKind.LiveKitText, payload: new TextEncoder().encode('x') });
    expect(client.counters.sealed).toBe(2);
    client.receive(server.channel.sealer.seal(FrameKind.LiveKitBinary, JOIN));
    client.seal('ok');
    client.close();
    expect(client.state).toBe('closed');
    expect(() => client.seal('x')).toThrow(ProtocolError);
    expect(client.receive(server.channel.sealer.seal(FrameKind.LiveKitBinary, JOIN))).toEqual([]);
  });

  test('a sealed frame arriving before the response is not a response', () => {
    const { server } = keyedInBand(kem);
    const client = newSession(kem);
    client.start();
    expect(only(client.receive(server.channel.sealer.seal(FrameKind.LiveKitBinary, JOIN)), 'failed').failure.closeCode).toBe(CloseCode.Malformed);
  });

  test('the handed-out result holds no key material: the channel took the only copy', () => {
    const { out } = keyedInBand(kem);
    const keyed = out[0] as Extract<ClientOutput, { type: 'keyed' }>;
    expect(keyed.result.keys.c2s).toEqual(new Uint8Array(32));
    expect(keyed.result.keys.s2c).toEqual(new Uint8Array(32));
  });

  test('start() twice and token-bound without a key pair are programming errors', () => {
    const client = newSession(kem);
    client.start();
    expect(() => client.start()).toThrow(ProtocolError);
    expect(() => new ClientSession({ kem, aead, mode: 'token-bound', query: '', randomBytes })).toThrow(ProtocolError);
  });

  test('a proposed session id is used as given', () => {
    const sessionId = 'fixed-session-id-0001';
    const { client } = keyedInBand(kem, { sessionId });
    expect(client.result?.sessionId).toBe(sessionId);
  });
});

describe('failureFromControlError', () => {
  test.each([
    [401, { closeCode: CloseCode.Upstream, status: 401, message: 'm' }],
    [404, { closeCode: CloseCode.Upstream, status: 404, message: 'm' }],
    [999, { closeCode: CloseCode.Upstream, status: 999, message: 'm' }],
    [1000, { closeCode: 1000, message: 'm' }],
    [CloseCode.GoingAway, { closeCode: 1001, message: 'm' }],
    [CloseCode.Unauthorized, { closeCode: 4401, message: 'm' }],
    [CloseCode.Upstream, { closeCode: 4502, message: 'm' }],
  ])('code %i', (code, expected) => {
    expect(failureFromControlError(code, 'm')).toEqual(expected);
  });
});
