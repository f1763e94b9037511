/**
 * Strict encode/decode of every volly-pq.v2 message: ClientHello, ServerHello,
 * the early VollyConnect, the first-flight placement, the well-known key
 * document. Every length is checked: one byte short, one byte long, each
 * field's size, unknown versions, modes and algorithm codes.
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { getKem, KEM_ALGORITHMS, type KemAlgorithm, randomBytes, toBase64Url, v2 } from '../src/index.js';

const expectV2 = (fn: () => unknown, code: v2.V2ErrorCode, closeCode?: number) => {
  let caught: unknown;
  try {
    fn();
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(v2.V2Error);
  expect((caught as v2.V2Error).code).toBe(code);
  if (closeCode !== undefined) expect((caught as v2.V2Error).closeCode).toBe(closeCode);
};

const hello = (algorithm: KemAlgorithm): v2.ClientHello => ({
  algorithm,
  keyId: randomBytes(16),
  sessionId: randomBytes(16),
  ctS: randomBytes(v2.KEM_SIZES[algorithm].ciphertext),
  pkE: randomBytes(v2.KEM_SIZES[algorithm].publicKey),
});

describe.each(KEM_ALGORITHMS)('%s', (algorithm) => {
  const h = hello(algorithm);
  const bytes = v2.encodeClientHello(h);

  test('ClientHello round-trips at its fixed length, field by field', () => {
    expect(bytes.length).toBe(algorithm === 'X-Wing' ? 2370 : 2306);
    expect(bytes.length).toBe(v2.clientHelloLength(algorithm));
    expect([bytes[0], bytes[1]]).toEqual([0x02, v2.ALGORITHM_CODE[algorithm]]);
    expect(v2.decodeClientHello(bytes)).toEqual(h);
  });

  test('ClientHello: a byte short or long, a bad version or algorithm code, wrong field sizes', () => {
    expectV2(() => v2.decodeClientHello(bytes.subarray(0, bytes.length - 1)), 'ERR_V2_HELLO', 4400);
    expectV2(() => v2.decodeClientHello(Uint8Array.of(...bytes, 0)), 'ERR_V2_HELLO', 4400);
    expectV2(() => v2.decodeClientHello(new Uint8Array(0)), 'ERR_V2_HELLO');
    expectV2(() => v2.decodeClientHello(Uint8Array.of(0x02)), 'ERR_V2_HELLO');
    expectV2(() => v2.decodeClientHello(Uint8Array.of(0x01, ...bytes.subarray(1))), 'ERR_V2_HELLO');
    expectV2(() => v2.decodeClientHello(Uint8Array.of(0x02, 0x07, ...bytes.subarray(2))), 'ERR_V2_ALGORITHM', 4403);
    for (const field of ['keyId', 'sessionId', 'ctS', 'pkE'] as const) {
      expectV2(() => v2.encodeClientHello({ ...h, [field]: h[field].subarray(1) }), 'ERR_V2_HELLO');
    }
  });

  test('ServerHello unbound and bound (with either bound algorithm) round-trip; mode and lengths are checked', () => {
    const ctE = randomBytes(v2.KEM_SIZES[algorithm].ciphertext);
    const unbound = v2.encodeServerHello({ ctE });
    expect(unbound.length).toBe(2 + ctE.length);
    expect(v2.decodeServerHello(unbound, algorithm)).toEqual({ ctE });
    // Readable by a bound client too (a sealed refusal follows).
    expect(v2.decodeServerHello(unbound, algorithm, 'X-Wing')).toEqual({ ctE });
    for (const b of KEM_ALGORITHMS) {
      const ctB = randomBytes(v2.KEM_SIZES[b].ciphertext);
      const bound = v2.encodeServerHello({ ctE, ctB });
      expect(bound[1]).toBe(0x01);
      expect(v2.decodeServerHello(bound, algorithm, b)).toEqual({ ctE, ctB });
      expectV2(() => v2.decodeServerHello(bound, algorithm), 'ERR_V2_SERVER_HELLO', 4400);
      expectV2(() => v2.decodeServerHello(bound.subarray(0, -1), algorithm, b), 'ERR_V2_SERVER_HELLO');
      expectV2(() => v2.decodeServerHello(Uint8Array.of(...bound, 9), algorithm, b), 'ERR_V2_SERVER_HELLO');
    }
    expectV2(() => v2.decodeServerHello(unbound.subarray(0, -1), algorithm), 'ERR_V2_SERVER_HELLO');
    expectV2(() => v2.decodeServerHello(Uint8Array.of(...unbound, 0), algorithm), 'ERR_V2_SERVER_HELLO');
    expectV2(() => v2.decodeServerHello(Uint8Array.of(0x03, ...unbound.subarray(1)), algorithm), 'ERR_V2_SERVER_HELLO');
    expectV2(() => v2.decodeServerHello(Uint8Array.of(0x02, 0x02, ...ctE), algorithm), 'ERR_V2_SERVER_HELLO');
  });

  test('key id: 16 bytes of SHA-256(lp(label) ‖ lp(algorithm) ‖ lp(public key))', () => {
    const pk = getKem(algorithm).keygen(new Uint8Array(getKem(algorithm).secretKeyLength)).publicKey;
    const id = v2.keyId(algorithm, pk);
    expect(id.length).toBe(16);
    const other = v2.keyId(algorithm === 'X-Wing' ? 'ML-KEM-768' : 'X-Wing', pk);
    expect(id).not.toEqual(other);
  });
});

describe('early VollyConnect', () => {
  const c: v2.EarlyConnect = { path: '/rtc/v1', query: 'sdk=js&join_request=AbC-_%3D', accessToken: 'eyJ.a.b', timestampMs: 1_767_225_600_123 };
  const bytes = v2.encodeEarlyConnect(c);

  test('exact layout: u64 timestamp, then u16-prefixed path, query, token', () => {
    expect(bytes.length).toBe(8 + 2 + 7 + 2 + c.query.length + 2 + 7);
    expect(Buffer.from(bytes.subarray(0, 8)).readBigUInt64BE()).toBe(1_767_225_600_123n);
    expect([bytes[8], bytes[9]]).toEqual([0, 7]);
    expect(v2.decodeEarlyConnect(bytes)).toEqual(c);
  });

  test('truncated, trailing, oversized and non-UTF-8 inputs are refused', () => {
    expectV2(() => v2.decodeEarlyConnect(bytes.subarray(0, -1)), 'ERR_V2_EARLY', 4400);
    expectV2(() => v2.decodeEarlyConnect(Uint8Array.of(...bytes, 0)), 'ERR_V2_EARLY');
    expectV2(() => v2.decodeEarlyConnect(bytes.subarray(0, 7)), 'ERR_V2_EARLY');
    expectV2(() => v2.decodeEarlyConnect(new Uint8Array(v2.MAX_EARLY_PLAINTEXT + 1)), 'ERR_V2_EARLY');
    const bad = bytes.slice();
    bad[10] = 0xff;
    expectV2(() => v2.decodeEarlyConnect(bad), 'ERR_V2_EARLY');
    const huge = bytes.slice();
    huge[0] = 0x00;
    huge[1] = 0x20; // 2^53 and above
    expectV2(() => v2.decodeEarlyConnect(huge), 'ERR_V2_EARLY');
  });

  test.each([
    ['a relative path', { path: 'rtc' }],
    ['a path with a query', { path: '/rtc?x=1' }],
    ['a query with a leading ?', { query: '?sdk=js' }],
    ['a query with a fragment', { query: 'a=1#x' }],
    ['a query carrying access_token', { query: 'sdk=js&access_token=x' }],
    ['an empty token', { accessToken: '' }],
    ['a token with a space', { accessToken: 'a b' }],
    ['a negative timestamp', { timestampMs: -1 }],
    ['a fractional timestamp', { timestampMs: 1.5 }],
  ])('refuses %s on both ends', (_name, change) => {
    expectV2(() => v2.encodeEarlyConnect({ ...c, ...change }), 'ERR_V2_EARLY');
  });
});

describe('placement', () => {
  const h = v2.encodeClientHello(hello('X-Wing'));
  const frame = randomBytes(100);
  const placed = v2.placeFirstFlight(h, frame);

  test('two subprotocols (RFC 7230 tokens) and one URL parameter', () => {
    expect(placed.protocols[0]).toBe('volly-pq.v2');
    expect(placed.protocols[1]).toBe(`volly-pq.v2.${toBase64Url(h)}`);
    for (const p of placed.protocols) expect(p).toMatch(/^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/);
    expect(v2.readFirstFlight(placed.protocols, placed.query)).toEqual({ clientHello: h, earlyFrame: frame });
  });

  test.each([
    ['no plain volly-pq.v2', () => v2.readFirstFlight([placed.protocols[1]], placed.query)],
    ['no hello', () => v2.readFirstFlight(['volly-pq.v2'], placed.query)],
    ['two hellos', () => v2.readFirstFlight([...placed.protocols, placed.protocols[1]], placed.query)],
    ['a hello that is not base64url', () => v2.readFirstFlight(['volly-pq.v2', 'volly-pq.v2.a+b'], placed.query)],
    ['another query parameter', () => v2.readFirstFlight(placed.protocols, `${placed.query}&sdk=js`)],
    ['a parameter in front', () => v2.readFirstFlight(placed.protocols, `sdk=js&${placed.query}`)],
    ['no early frame', () => v2.readFirstFlight(placed.protocols, '')],
    ['a 16-byte early frame', () => v2.readFirstFlight(placed.protocols, `volly_early=${toBase64Url(new Uint8Array(16))}`)],
  ])('refuses %s (4400)', (_name, fn) => expectV2(fn, 'ERR_V2_HELLO', 4400));
});

describe('well-known document', () => {
  const kem = getKem('X-Wing');
  const a = v2.staticKey('X-Wing', kem.keygen().publicKey, 1_900_000_000);
  const b = v2.staticKey('ML-KEM-768', getKem('ML-KEM-768').keygen().publicKey, 1_800_000_000);
  const text = v2.wellKnownDocument([a, b]);

  test('round-trips with exactly the documented fields, first key current', () => {
    const json = JSON.parse(text);
    expect(Object.keys(json)).toEqual(['protocol', 'keys']);
    expect(Object.keys(json.keys[0])).toEqual(['id', 'algorithm', 'publicKey', 'notAfter']);
    expect(v2.parseWellKnownDocument(text)).toEqual([a, b]);
    expect(v2.currentKey([a, b], 1_700_000_000)).toEqual(a);
    expect(v2.currentKey([a, b], 1_700_000_000, ['ML-KEM-768'])).toEqual(b);
    expect(v2.currentKey([b, a], 1_850_000_000)).toEqual(a);
    expect(v2.currentKey([a, b], 1_900_000_000)).toBeUndefined();
  });

  const doc = JSON.parse(text);
  const withKey = (change: Record<string, unknown>) => JSON.stringify({ ...doc, keys: [{ ...doc.keys[0], ...change }] });
  test.each([
    ['not JSON', '{'],
    ['an array', '[]'],
    ['another protocol', JSON.stringify({ ...doc, protocol: 'volly-pq.v1' })],
    ['an extra top-level field', JSON.stringify({ ...doc, extra: 1 })],
    ['no keys', JSON.stringify({ ...doc, keys: [] })],
    ['17 keys', JSON.stringify({ ...doc, keys: Array(17).fill(doc.keys[0]) })],
    ['a key twice', JSON.stringify({ ...doc, keys: [doc.keys[0], doc.keys[0]] })],
    ['an extra key field', withKey({ kid: 'x' })],
    ['a missing key field', JSON.stringify({ ...doc, keys: [{ ...doc.keys[0], notAfter: undefined }] })],
    ['an unknown algorithm', withKey({ algorithm: 'Kyber768' })],
    ['a key of the other algorithm', withKey({ algorithm: 'ML-KEM-768' })],
    ['a short key', withKey({ publicKey: toBase64Url(a.publicKey.subarray(1)) })],
    ['padded base64', withKey({ publicKey: `${doc.keys[0].publicKey}==` })],
    ['an id of another key', withKey({ id: toBase64Url(b.id) })],
    ['a string notAfter', withKey({ notAfter: '1900000000' })],
    ['a fractional notAfter', withKey({ notAfter: 1.5 })],
    ['a huge document', `${text}${' '.repeat(v2.MAX_DOCUMENT_BYTES)}`],
  ])('refuses %s', (_name, bad) => expectV2(() => v2.parseWellKnownDocument(bad), 'ERR_V2_DOCUMENT'));
});

describe('whatever a peer sends, decoders throw only V2Error', () => {
  const onlyV2Error = (fn: () => unknown) => {
    try {
      fn();
    } catch (err) {
      if (!(err instanceof v2.V2Error)) throw err;
    }
  };
  const validHello = v2.encodeClientHello(hello('X-Wing'));
  const validEarly = v2.encodeEarlyConnect({ path: '/rtc', query: 'a=1', accessToken: 't', timestampMs: 1 });
  const mutated = (base: Uint8Array) =>
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 4 }).map((edits) => {
      const b = base.slice();
      for (const [at, v] of edits) b[at % b.length] = v;
      return b;
    });

  test('random and mutated bytes', () => {
    fc.assert(
      fc.property(fc.oneof(fc.uint8Array({ maxLength: 2500 }), mutated(validHello), mutated(validEarly)), (bytes) => {
        onlyV2Error(() => v2.decodeClientHello(bytes));
        onlyV2Error(() => v2.decodeEarlyConnect(bytes));
        for (const alg of KEM_ALGORITHMS) onlyV2Error(() => v2.decodeServerHello(bytes, alg, 'X-Wing'));
      }),
      { numRuns: 300 },
    );
  });

  test('random strings as placement and document', () => {
    fc.assert(
      fc.property(fc.array(fc.string()), fc.string(), (protocols, query) => {
        onlyV2Error(() => v2.readFirstFlight(['volly-pq.v2', ...protocols.map((p) => `volly-pq.v2.${p}`)], query));
        onlyV2Error(() => v2.parseWellKnownDocument(query));
        onlyV2Error(() => v2.parseWellKnownDocument(JSON.stringify({ protocol: 'volly-pq.v2', keys: protocols })));
      }),
      { numRuns: 300 },
    );
  });
});
