/**
 * volly-pq.v2 client ↔ server flows through the pure state machines: both
 * algorithms × unbound/bound × every KEM backend (native skips itself where
 * the runtime lacks it), then each refusal: replay, stale clock with one
 * retry, unknown key id, tampered early frame, rotation, register down.
 */
import { describe, expect, test } from 'vitest';
import { CloseCode, FrameKind, getKem, KEM_ALGORITHMS, kemBackends, randomBytes, v2 } from '../src/index.js';
import { CONNECT, client, clock, input, JOIN_RESPONSE, serverKeyPair, serverOptions, T0 } from './v2-helpers.js';

const cases = kemBackends().flatMap((backend) =>
  KEM_ALGORITHMS.flatMap((algorithm) => (['unbound', 'bound'] as const).map((mode) => ({ backend, algorithm, mode }))),
);

describe.each(cases)('$algorithm $mode on $backend', ({ backend, algorithm, mode }) => {
  test('joins: the sealed request reaches the server, LiveKit frames flow both ways, secrets are wiped', async () => {
    const pair = serverKeyPair(algorithm, backend);
    // The bound key may be of the other algorithm: ct_b uses the token's algorithm.
    const boundKem = getKem(algorithm === 'X-Wing' ? 'ML-KEM-768' : 'X-Wing', backend);
    const boundPair = boundKem.keygen();
    const bound = mode === 'bound' ? { kem: boundKem, keyPair: { publicKey: boundPair.publicKey, secretKey: boundPair.secretKey.slice() } } : undefined;
    const c = client(pair.key, clock(), bound ? { bound } : {}, backend);
    const flight = c.start();
    expect(flight.protocols[0]).toBe('volly-pq.v2');
    expect(flight.protocols[1]).toMatch(/^volly-pq\.v2\.[A-Za-z0-9_-]+$/);
    expect(flight.query).toMatch(/^volly_early=[A-Za-z0-9_-]+$/);
    // Nothing readable in the URL or the headers.
    for (const s of [...flight.protocols, flight.query]) expect(s).not.toContain(CONNECT.accessToken.slice(0, 20));

    const decision = await v2.acceptFirstFlight(serverOptions([pair], clock(), backend), new v2.MemorySessionRegister(clock()), input(flight));
    if (decision.type !== 'fresh') throw new Error(`expected fresh, got ${decision.type}`);
    expect(decision.flight.connect).toEqual({ ...CONNECT, timestampMs: T0 });
    const { serverHello, session } = decision.flight.accept(bound ? { algorithm: boundKem.algorithm, publicKey: boundPair.publicKey } : undefined);
    expect(session.mayDial).toBe(mode === 'unbound');

    expect(c.accepted('volly-pq.v2')).toEqual([]);
    const keyed = c.receive(serverHello);
    expect(keyed.map((o) => o.type)).toEqual(['keyed', 'send']);
    const keyedOut = keyed[0] as { transcriptHash: Uint8Array };
    expect(keyedOut.transcriptHash).toEqual(session.transcriptHash);
    expect(session.open((keyed[1] as { frame: Uint8Array }).frame)).toEqual({ type: 'confirmed' });
    expect(session.mayDial).toBe(true);

    expect(c.receive(session.seal(FrameKind.LiveKitBinary, JOIN_RESPONSE))).toEqual([
      { type: 'message', kind: FrameKind.LiveKitBinary, payload: JOIN_RESPONSE },
    ]);
    expect(c.state).toBe('open');
    expect(session.open(c.seal('{"ping":1}'))).toEqual({ type: 'message', kind: FrameKind.LiveKitText, payload: new TextEncoder().encode('{"ping":1}') });
  });

  test('a ServerHello that does not match the key the token binds fails the client', async () => {
    if (mode === 'unbound') {
      // A bound ServerHello to an unbound client is refused outright.
      const pair = serverKeyPair(algorithm, backend);
      const c = client(pair.key, clock(), {}, backend);
      const d = await v2.acceptFirstFlight(serverOptions([pair], clock(), backend), new v2.MemorySessionRegister(clock()), input(c.start()));
      if (d.type !== 'fresh') throw new Error(d.type);
      const other = getKem(algorithm, backend).keygen();
      const out = c.receive(d.flight.accept({ algorithm, publicKey: other.publicKey }).serverHello);
      expect(out).toMatchObject([{ type: 'failed', failure: { closeCode: CloseCode.Malformed, code: 'ERR_V2_SERVER_HELLO' } }]);
      return;
    }
    // The server binds another key (a token not for this client): the client's keys differ, its confirmation fails to open.
    const pair = serverKeyPair(algorithm, backend);
    const kem = getKem(algorithm, backend);
    const mine = kem.keygen();
    const c = client(pair.key, clock(), { bound: { kem, keyPair: mine } }, backend);
    const d = await v2.acceptFirstFlight(serverOptions([pair], clock(), backend), new v2.MemorySessionRegister(clock()), input(c.start()));
    if (d.type !== 'fresh') throw new Error(d.type);
    const { serverHello, session } = d.flight.accept({ algorithm, publicKey: kem.keygen().publicKey });
    const out = c.receive(serverHello);
    expect(() => session.open((out[1] as { frame: Uint8Array }).frame)).toThrow(/authentication/);
    expect(session.mayDial).toBe(false);
  });
});

describe.each(KEM_ALGORITHMS)('refusals, %s', (algorithm) => {
  const pair = serverKeyPair(algorithm);
  const options = serverOptions([pair], clock());

  test('a replayed first flight is refused by the register (4409) and nothing is dialed', async () => {
    const register = new v2.MemorySessionRegister(clock());
    const flight = client(pair.key, clock()).start();
    expect((await v2.acceptFirstFlight(options, register, input(flight))).type).toBe('fresh');
    const replay = await v2.acceptFirstFlight(options, register, input(flight));
    expect(replay).toMatchObject({ type: 'refuse', error: { code: 'ERR_V2_REPLAY', closeCode: 4409 } });
    // After the window the entry may go: the replay is then stale instead, still not dialed.
    const later = T0 + v2.TIMESTAMP_WINDOW_MS + 1;
    const stale = await v2.acceptFirstFlight(serverOptions([pair], clock(later)), new v2.MemorySessionRegister(clock(later)), input(flight));
    expect(stale.type).toBe('stale');
  });

  test.each([-3_600_000, 3_600_000])('a client clock off by %i ms joins after one retry with the sealed server time', async (skew) => {
    const register = new v2.MemorySessionRegister(clock());
    const first = client(pair.key, clock(T0 + skew));
    const d1 = await v2.acceptFirstFlight(options, register, input(first.start()));
    if (d1.type !== 'stale') throw new Error(d1.type);
    expect(d1.closeCode).toBe(4425);
    expect(register.size).toBe(0);
    expect(first.receive(d1.frames[0] as Uint8Array).map((o) => o.type)).toEqual(['keyed', 'send']);
    const failed = first.receive(d1.frames[1] as Uint8Array);
    expect(failed).toEqual([
      { type: 'failed', failure: { closeCode: 4425, code: 'ERR_V2_STALE', message: expect.any(String), retry: { kind: 'clock', clockOffsetMs: -skew } } },
    ]);
    const offset = (failed[0] as { failure: v2.ClientV2Failure }).failure.retry as { clockOffsetMs: number };

    const retry = client(pair.key, clock(T0 + skew), { clockOffsetMs: offset.clockOffsetMs });
    const d2 = await v2.acceptFirstFlight(options, register, input(retry.start()));
    expect(d2.type).toBe('fresh');
  });

  test('a second stale refusal gives no second retry', async () => {
    const c = client(pair.key, clock(T0 + 600_000), { clockOffsetMs: 300_000 });
    const d = await v2.acceptFirstFlight(options, new v2.MemorySessionRegister(clock()), input(c.start()));
    if (d.type !== 'stale') throw new Error(d.type);
    c.receive(d.frames[0] as Uint8Array);
    const [out] = c.receive(d.frames[1] as Uint8Array);
    expect(out).toMatchObject({ type: 'failed', failure: { closeCode: 4425 } });
    expect((out as { failure: v2.ClientV2Failure }).failure.retry).toBeUndefined();
  });

  test('an unknown key id is refused with 4421 and the client is told to refetch the keys', async () => {
    const other = serverKeyPair(algorithm);
    const c = client(other.key, clock());
    const d = await v2.acceptFirstFlight(options, new v2.MemorySessionRegister(clock()), input(c.start()));
    expect(d).toMatchObject({ type: 'refuse', error: { code: 'ERR_V2_UNKNOWN_KEY', closeCode: 4421 } });
    expect(c.closed(4421)).toMatchObject([{ type: 'failed', failure: { closeCode: 4421, retry: { kind: 'refetch-keys' } } }]);
  });

  test('a tampered early frame is refused (4400) before the register or the token is touched', async () => {
    const register = new v2.MemorySessionRegister(clock());
    const flight = client(pair.key, clock()).start();
    const frame = v2.readFirstFlight(flight.protocols, flight.query).earlyFrame;
    for (const at of [0, 5, frame.length - 1]) {
      const bad = frame.slice();
      bad[at] = (bad[at] as number) ^ 1;
      const d = await v2.acceptFirstFlight(options, register, { ...input(flight), query: `volly_early=${Buffer.from(bad).toString('base64url')}` });
      expect(d).toMatchObject({ type: 'refuse', error: { closeCode: 4400 } });
    }
    expect(register.size).toBe(0);
  });

  test('a URL path that differs from the sealed path is refused (4400)', async () => {
    const d = await v2.acceptFirstFlight(options, new v2.MemorySessionRegister(clock()), input(client(pair.key, clock()).start(), '/rtc'));
    expect(d).toMatchObject({ type: 'refuse', error: { code: 'ERR_V2_PROTOCOL', closeCode: 4400 } });
  });

  test('register down: fail closed with 4503', async () => {
    const down: v2.SessionRegister = { claim: () => Promise.reject(new Error('ECONNREFUSED')) };
    const d = await v2.acceptFirstFlight(options, down, input(client(pair.key, clock()).start()));
    expect(d).toMatchObject({ type: 'refuse', error: { code: 'ERR_V2_REGISTER', closeCode: 4503 } });
  });

  test('a sealed refusal after the token check reaches the client authenticated', async () => {
    const c = client(pair.key, clock());
    const d = await v2.acceptFirstFlight(options, new v2.MemorySessionRegister(clock()), input(c.start()));
    if (d.type !== 'fresh') throw new Error(d.type);
    const [hello, err] = d.flight.refuseSealed(CloseCode.Unauthorized, 'token expired');
    c.receive(hello as Uint8Array);
    expect(c.receive(err as Uint8Array)).toMatchObject([{ type: 'failed', failure: { closeCode: 4401, message: 'token expired' } }]);
  });

  test('a server that selects another subprotocol fails the client', () => {
    const c = client(pair.key, clock());
    c.start();
    expect(c.accepted('volly-pq.v1')).toMatchObject([{ type: 'failed' }]);
  });
});

test('rotation: first flights to the old and the new key both join; after removal the old one gets 4421', async () => {
  const current = serverKeyPair('X-Wing');
  const old = serverKeyPair('ML-KEM-768');
  const both = serverOptions([current, old], clock());
  const register = new v2.MemorySessionRegister(clock());
  for (const pair of [current, old]) expect((await v2.acceptFirstFlight(both, register, input(client(pair.key, clock()).start()))).type).toBe('fresh');
  const removed = await v2.acceptFirstFlight(serverOptions([current], clock()), register, input(client(old.key, clock()).start()));
  expect(removed).toMatchObject({ type: 'refuse', error: { closeCode: 4421 } });
});

test('a disallowed algorithm is refused with 4403', async () => {
  const pair = serverKeyPair('ML-KEM-768');
  const d = await v2.acceptFirstFlight(
    { ...serverOptions([pair], clock()), allowed: ['X-Wing'] },
    new v2.MemorySessionRegister(clock()),
    input(client(pair.key, clock()).start()),
  );
  expect(d).toMatchObject({ type: 'refuse', error: { code: 'ERR_V2_ALGORITHM', closeCode: 4403 } });
});

test('secrets are wiped: the ephemeral seed at once, the ephemeral secret key after ServerHello', async () => {
  const pair = serverKeyPair('X-Wing');
  const kem = getKem('X-Wing');
  const drawn: Uint8Array[] = [];
  const made: Uint8Array[] = [];
  const recording = {
    ...kem,
    keygen: (seed?: Uint8Array) => {
      const kp = kem.keygen(seed);
      made.push(kp.secretKey);
      return kp;
    },
  };
  const rb = (n: number) => {
    const b = randomBytes(n);
    drawn.push(b);
    return b;
  };
  const c = client(pair.key, clock(), { kem: recording, randomBytes: rb });
  const d = await v2.acceptFirstFlight(serverOptions([pair], clock()), new v2.MemorySessionRegister(clock()), input(c.start()));
  const zero = (b: Uint8Array | undefined) => b?.every((x) => x === 0) === true;
  expect(zero(drawn[0])).toBe(true);
  expect(zero(made[0])).toBe(false);
  if (d.type !== 'fresh') throw new Error(d.type);
  c.receive(d.flight.accept().serverHello);
  expect(zero(made[0])).toBe(true);
});
