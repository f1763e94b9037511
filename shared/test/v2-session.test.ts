/**
 * volly-pq.v2 session rules beyond the happy path: bound clients and the
 * unbound refusal path, the server's key-confirmation rule, a substituted
 * early frame under a leaked static key, and arbitrary changes to a flight.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { encodeControl, FrameKind, FrameSealer, getAead, getKem, randomBytes, sealedChannel, v2 } from '../src/index.js';
import { CONNECT, client, clock, input, JOIN_RESPONSE, serverKeyPair, serverOptions, T0 } from './v2-helpers.js';

describe('bound clients and the server session rules', () => {
  const pair = serverKeyPair('X-Wing');
  const boundKem = getKem('ML-KEM-768');
  const boundPair = boundKem.keygen();
  const bound = { kem: boundKem, keyPair: boundPair };

  test('an unsealed 4425 close (a relay forging it) gives no clock retry', () => {
    const c = client(pair.key, clock());
    c.start();
    const [out] = c.closed(4425, '1767225600000');
    expect(out).toMatchObject({ type: 'failed', failure: { closeCode: 4425 } });
    expect((out as { failure: v2.ClientV2Failure }).failure.retry).toBeUndefined();
  });

  test('a bound client reads the unbound stale reply and retries with the sealed time', async () => {
    const c = client(pair.key, clock(T0 - 600_000), { bound });
    const d = await v2.acceptFirstFlight(serverOptions([pair], clock()), new v2.MemorySessionRegister(clock()), input(c.start()));
    if (d.type !== 'stale') throw new Error(d.type);
    // No key confirmation from a bound client to an unbound ServerHello.
    expect(c.receive(d.frames[0] as Uint8Array).map((o) => o.type)).toEqual(['keyed']);
    expect(c.receive(d.frames[1] as Uint8Array)).toMatchObject([{ type: 'failed', failure: { retry: { kind: 'clock', clockOffsetMs: 600_000 } } }]);
  });

  test('a bound client never accepts LiveKit frames from an unbound ServerHello', async () => {
    const c = client(pair.key, clock(), { bound });
    const d = await v2.acceptFirstFlight(serverOptions([pair], clock()), new v2.MemorySessionRegister(clock()), input(c.start()));
    if (d.type !== 'fresh') throw new Error(d.type);
    const { serverHello, session } = d.flight.accept();
    c.receive(serverHello);
    expect(c.receive(session.seal(FrameKind.LiveKitBinary, JOIN_RESPONSE))).toMatchObject([{ type: 'failed', failure: { code: 'ERR_V2_PROTOCOL' } }]);
    expect(c.state).toBe('failed');
  });

  test('the server insists on the key confirmation first, then LiveKit frames only', () => {
    const session = (bound: boolean) => {
      const c2s = randomBytes(32);
      const keys = { c2s: c2s.slice(), s2c: randomBytes(32) };
      const channel = sealedChannel({ algorithm: 'X-Wing', sessionId: '', transcriptHash: new Uint8Array(32), keys }, 'server', getAead());
      return { server: new v2.ServerSessionV2(channel, new Uint8Array(32), bound), client: new FrameSealer(c2s, getAead()) };
    };
    const confirm = encodeControl({ case: 'connect', accessToken: '', query: '' });
    const refused = [
      ['a LiveKit frame first', FrameKind.LiveKitBinary, JOIN_RESPONSE],
      ['a connect carrying a token', FrameKind.Control, encodeControl({ case: 'connect', accessToken: 'x', query: '' })],
      ['an error frame', FrameKind.Control, encodeControl({ case: 'error', code: 4400, message: 'x' })],
    ] as const;
    for (const [, kind, payload] of refused) {
      const { server, client } = session(true);
      expect(() => server.open(client.seal(kind, payload))).toThrow(v2.V2Error);
      expect(server.mayDial).toBe(false);
    }
    const { server, client } = session(true);
    expect(server.mayDial).toBe(false);
    expect(server.open(client.seal(FrameKind.Control, confirm))).toEqual({ type: 'confirmed' });
    expect(server.mayDial).toBe(true);
    expect(server.open(client.seal(FrameKind.LiveKitBinary, JOIN_RESPONSE))).toMatchObject({ type: 'message', kind: FrameKind.LiveKitBinary });
    expect(() => server.open(client.seal(FrameKind.Control, confirm))).toThrow(v2.V2Error);
    const text = session(false);
    text.server.open(text.client.seal(FrameKind.Control, confirm));
    expect(() => text.server.open(text.client.seal(FrameKind.LiveKitText, Uint8Array.of(0xff)))).toThrow(v2.V2Error);
  });

  test('a flight answers once', async () => {
    const c = client(pair.key, clock());
    const d = await v2.acceptFirstFlight(serverOptions([pair], clock()), new v2.MemorySessionRegister(clock()), input(c.start()));
    if (d.type !== 'fresh') throw new Error(d.type);
    d.flight.accept();
    expect(() => d.flight.accept()).toThrow(v2.V2Error);
  });
});

test('with a leaked static key, a substituted early frame is accepted by the server but the join fails (th2 binds the frame)', async () => {
  const pair = serverKeyPair('X-Wing');
  const c = client(pair.key, clock());
  const flight = c.start();
  // The attacker holds sk_S: it opens the client's early frame and seals its own request under the same ClientHello.
  const hello = v2.decodeClientHello(v2.readFirstFlight(flight.protocols, flight.query).clientHello);
  const kEarly = v2.deriveEarlyKey(getKem('X-Wing').decapsulate(hello.ctS, pair.secretKey), v2.transcriptHash1(hello, pair.key.publicKey));
  const forged = new FrameSealer(kEarly, getAead()).seal(FrameKind.Control, v2.encodeEarlyConnect({ ...CONNECT, query: 'room=elsewhere', timestampMs: T0 }));
  const d = await v2.acceptFirstFlight(serverOptions([pair], clock()), new v2.MemorySessionRegister(clock()), {
    ...input(flight),
    query: `volly_early=${Buffer.from(forged).toString('base64url')}`,
  });
  if (d.type !== 'fresh') throw new Error(d.type);
  expect(d.flight.connect.query).toBe('room=elsewhere');
  const { serverHello, session } = d.flight.accept();
  const out = c.receive(serverHello);
  expect(() => session.open((out[1] as { frame: Uint8Array }).frame)).toThrow(/authentication/);
  expect(c.receive(session.seal(FrameKind.LiveKitBinary, JOIN_RESPONSE))).toMatchObject([{ type: 'failed' }]);
});

test('any change to a first flight is refused, never thrown, never dialed', async () => {
  const pair = serverKeyPair('ML-KEM-768');
  const flight = client(pair.key, clock()).start();
  const { clientHello, earlyFrame } = v2.readFirstFlight(flight.protocols, flight.query);
  await fc.assert(
    fc.asyncProperty(fc.boolean(), fc.nat(), fc.integer({ min: 1, max: 255 }), async (inHello, at, flip) => {
      const hello = clientHello.slice();
      const early = earlyFrame.slice();
      const target = inHello ? hello : early;
      target[at % target.length] = (target[at % target.length] as number) ^ flip;
      const placed = v2.placeFirstFlight(hello, early);
      const d = await v2.acceptFirstFlight(serverOptions([pair], clock()), new v2.MemorySessionRegister(clock()), input({ ...flight, ...placed }));
      expect(d.type).toBe('refuse');
    }),
    { numRuns: 60 },
  );
});
