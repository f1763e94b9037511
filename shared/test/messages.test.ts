/**
 * volly-pq.v1 messages: encode/decode round trips, strict decoders (size
 * bound, garbage, wrong oneof → ProtocolError), session id form, and the
 * algorithm allow-list (AlgorithmError, close 4403).
 */
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import { CloseCode } from '../src/close-codes.js';
import { AlgorithmError, ProtocolError, type VollyError } from '../src/errors.js';
import { VollyControl, VollyPQHandshake, VollyPQResponse, VollySignalRequest, VollySignalResponse } from '../src/gen/livekit_volly_pb.js';
import {
  checkAlgorithm,
  checkSessionId,
  decodeControl,
  decodeHandshake,
  decodeResponse,
  encodeControl,
  encodeHandshake,
  encodeResponse,
  isKemAlgorithm,
  MAX_CONTROL_BYTES,
  MAX_HANDSHAKE_BYTES,
  MAX_RESPONSE_BYTES,
} from '../src/messages.js';

const SID = 'abcdefghijklmnopqrstuvwxyz012345';
const pk = Uint8Array.from({ length: 1216 }, (_, i) => i & 0xff);
const ct = Uint8Array.from({ length: 1120 }, (_, i) => (i * 3) & 0xff);

function caught(fn: () => unknown): VollyError {
  try {
    fn();
  } catch (err) {
    return err as VollyError;
  }
  throw new Error('expected an error');
}
const expectProtocolError = (fn: () => unknown) => {
  const err = caught(fn);
  expect(err).toBeInstanceOf(ProtocolError);
  expect([err.code, err.closeCode]).toEqual(['ERR_PROTOCOL', CloseCode.Malformed]);
};

describe('round trips', () => {
  test('handshake', () => {
    const bytes = encodeHandshake({ algorithm: 'X-Wing', publicKey: pk, sessionId: SID });
    expect(bytes.length).toBeLessThanOrEqual(MAX_HANDSHAKE_BYTES);
    expect(decodeHandshake(bytes)).toEqual({ algorithm: 'X-Wing', publicKey: pk, sessionId: SID });
  });

  test('successful and refused pq_response', () => {
    const ok = decodeResponse(encodeResponse({ success: true, algorithm: 'ML-KEM-768', sessionId: SID, ciphertext: ct }));
    const unsigned = { serverKeyId: new Uint8Array(0), serverSignature: new Uint8Array(0) };
    expect(ok).toEqual({ success: true, algorithm: 'ML-KEM-768', sessionId: SID, ciphertext: ct, error: '', ...unsigned });
    const refused = decodeResponse(encodeResponse({ success: false, error: 'KEM algorithm X-Wing is not allowed here' }));
    expect(refused).toEqual({
      success: false,
      algorithm: '',
      sessionId: '',
      ciphertext: new Uint8Array(0),
      error: 'KEM algorithm X-Wing is not allowed here',
      ...unsigned,
    });
  });

  test('control: connect and error', () => {
    const connect = { case: 'connect', accessToken: 'eyJ.a.b', query: 'join_request=abc&reconnect=1&sid=PA_x' } as const;
    expect(decodeControl(encodeControl(connect))).toEqual(connect);
    const empty = { case: 'connect', accessToken: '', query: '' } as const;
    expect(decodeControl(encodeControl(empty))).toEqual(empty);
    for (const code of [401, 4401, 4502, 0xffffffff]) {
      const error = { case: 'error', code, message: `refused ${code}` } as const;
      expect(decodeControl(encodeControl(error))).toEqual(error);
    }
  });

  test('the encoded handshake is the documented protobuf: field 100 holding fields 1, 2, 3', () => {
    const bytes = encodeHandshake({ algorithm: 'ML-KEM-768', publicKey: Uint8Array.of(0xaa), sessionId: SID });
    // tag(100, LEN) = varint(802) = a2 06; inner: 0a 0a "ML-KEM-768", 12 01 aa, 1a 20 SID
    const inner = [0x0a, 10, ...Buffer.from('ML-KEM-768'), 0x12, 1, 0xaa, 0x1a, 32, ...Buffer.from(SID)];
    expect([...bytes]).toEqual([0xa2, 0x06, inner.length, ...inner]);
  });

  test('the encoder copies the public key; the decoder drops unknown fields', () => {
    const key = Uint8Array.of(1, 2, 3);
    const bytes = encodeHandshake({ algorithm: 'ML-KEM-768', publicKey: key, sessionId: SID });
    key[0] = 9;
    expect(decodeHandshake(bytes).publicKey).toEqual(Uint8Array.of(1, 2, 3));
    const withUnknown = new Uint8Array([...bytes, 0xf8, 0x06, 0x01]); // field 111 varint 1
    const req = VollySignalRequest.fromBinary(withUnknown);
    expect(req.getType().runtime.bin.listUnknownFields(req)).toHaveLength(1);
    expect(decodeHandshake(withUnknown).sessionId).toBe(SID);
  });
});

describe('the hand-written pq_response encoder', () => {
  /** What protobuf-es writes for the same response (the encoder it replaced). */
  const byProtobufEs = (r: Parameters<typeof encodeResponse>[0]) =>
    new VollySignalResponse({
      message: {
        case: 'pqResponse',
        value: new VollyPQResponse({
          success: r.success,
          algorithm: r.algorithm ?? '',
          sessionId: r.sessionId ?? '',
          kemCiphertext: r.ciphertext ?? new Uint8Array(),
          error: r.error ?? '',
          serverKeyId: r.serverKeyId ?? new Uint8Array(),
          serverSignature: r.serverSignature ?? new Uint8Array(),
        }),
      },
    }).toBinary();
  const bytes = (max: number) => fc.option(fc.uint8Array({ maxLength: max }), { nil: undefined });
  const text = fc.option(
    fc.oneof(fc.string({ maxLength: 200 }), fc.string({ unit: 'grapheme', maxLength: 80 }), fc.string({ unit: 'binary', maxLength: 40 })),
    { nil: undefined },
  );

  test('writes the bytes protobuf-es writes, for any field values (empty, unicode, lengths across varint sizes)', () => {
    fc.assert(
      fc.property(
        fc.record(
          {
            success: fc.boolean(),
            algorithm: text,
            sessionId: text,
            ciphertext: bytes(20_000),
            error: text,
            serverKeyId: bytes(16),
            serverSignature: bytes(4000),
          },
          { requiredKeys: ['success'] },
        ),
        (r) => {
          expect(encodeResponse(r)).toEqual(byProtobufEs(r));
        },
      ),
      { numRuns: 300 },
    );
  });

  test('lengths on every side of a varint step, for the field and the enclosing message', () => {
    const steps = [0, 1, 123, 124, 125, 126, 127, 128, 16_377, 16_378, 16_379, 16_380, 16_381, 16_383, 16_384, 2_097_148, 2_097_152];
    for (const n of steps) {
      for (const success of [false, true]) {
        const r = { success, ciphertext: new Uint8Array(n).fill(7) };
        const [ours, theirs] = [encodeResponse(r), byProtobufEs(r)];
        // Headers compared as arrays (readable on failure), the whole by Buffer.equals (toEqual is slow on MBs).
        expect(Array.from(ours.subarray(0, 12)), `${n} bytes, success ${success}`).toEqual(Array.from(theirs.subarray(0, 12)));
        expect(Buffer.from(ours).equals(theirs), `${n} bytes, success ${success}`).toBe(true);
      }
    }
  });

  test('the real server responses, signed and not, for both KEMs', () => {
    for (const [algorithm, n] of [
      ['ML-KEM-768', 1088],
      ['X-Wing', 1120],
    ] as const) {
      const base = { success: true, algorithm, sessionId: SID, ciphertext: ct.subarray(0, n) };
      expect(encodeResponse(base)).toEqual(byProtobufEs(base));
      const signed = { ...base, serverKeyId: pk.subarray(0, 8), serverSignature: pk.subarray(0, 3309) };
      expect(encodeResponse(signed)).toEqual(byProtobufEs(signed));
      expect(decodeResponse(encodeResponse(signed))).toMatchObject({ ...signed, error: '' });
    }
  });
});

describe('strict decoding', () => {
  const decoders = { decodeHandshake, decodeResponse, decodeControl };

  test.each(Object.entries(decoders))('%s: garbage is a ProtocolError', (_, decode) => {
    const junk = [
      Uint8Array.of(0xff),
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff), // overlong varint
      Uint8Array.of(0xa2, 0x06, 0x7f, 0x01), // field 100 claims 127 bytes, has 1
      Uint8Array.of(0x0a, 0x80, 0x80, 0x80, 0x80, 0x08), // field 1 claims 2^31 bytes
      Uint8Array.of(0x07), // wire type 7
      Uint8Array.of(0x00), // field number 0
      new TextEncoder().encode('{"pq_handshake":{}}'),
    ];
    for (const j of junk) expectProtocolError(() => decode(j));
  });

  test('oversize input is refused before parsing, even when it is valid protobuf', () => {
    const bigKey = new Uint8Array(MAX_HANDSHAKE_BYTES);
    expectProtocolError(() => decodeHandshake(encodeHandshake({ algorithm: 'ML-KEM-768', publicKey: bigKey, sessionId: SID })));
    expectProtocolError(() =>
      decodeResponse(encodeResponse({ success: true, algorithm: 'X-Wing', sessionId: SID, ciphertext: new Uint8Array(MAX_RESPONSE_BYTES) })),
    );
    expectProtocolError(() => decodeControl(encodeControl({ case: 'connect', accessToken: 'x'.repeat(MAX_CONTROL_BYTES), query: '' })));
    expect(caught(() => decodeHandshake(new Uint8Array(MAX_HANDSHAKE_BYTES + 1))).message).toMatch(/exceeds 4096/);
    // At the bound itself a valid message still decodes.
    const fits = encodeControl({ case: 'connect', accessToken: '', query: 'q'.repeat(MAX_CONTROL_BYTES - 8) });
    expect(fits.length).toBeLessThanOrEqual(MAX_CONTROL_BYTES);
    expect(decodeControl(fits).case).toBe('connect');
  });

  test('wrong or missing oneof is a ProtocolError', () => {
    const control = encodeControl({ case: 'connect', accessToken: 't', query: '' });
    const handshake = encodeHandshake({ algorithm: 'ML-KEM-768', publicKey: pk.subarray(0, 1184), sessionId: SID });
    expectProtocolError(() => decodeHandshake(new Uint8Array(0)));
    expectProtocolError(() => decodeHandshake(control)); // field 1: not field 100
    expectProtocolError(() => decodeResponse(new Uint8Array(0)));
    expectProtocolError(() => decodeResponse(control));
    expectProtocolError(() => decodeControl(new Uint8Array(0)));
    expectProtocolError(() => decodeControl(new VollyControl().toBinary()));
    expectProtocolError(() => decodeControl(handshake)); // field 100 is unknown to VollyControl
  });

  test('a handshake with a malformed session id is a ProtocolError', () => {
    for (const sessionId of ['', 'short', 'a'.repeat(65), `${'a'.repeat(20)}+/`]) {
      const bytes = new VollySignalRequest({
        message: { case: 'pqHandshake', value: new VollyPQHandshake({ algorithm: 'ML-KEM-768', clientPublicKey: pk, sessionId }) },
      }).toBinary();
      expectProtocolError(() => decodeHandshake(bytes));
    }
  });

  test('decodeHandshake leaves the algorithm to checkAlgorithm (allow-list is per server)', () => {
    const h = decodeHandshake(
      new VollySignalRequest({
        message: { case: 'pqHandshake', value: new VollyPQHandshake({ algorithm: 'ML-KEM-512', clientPublicKey: pk, sessionId: SID }) },
      }).toBinary(),
    );
    expect(h.algorithm).toBe('ML-KEM-512');
    expect(() => checkAlgorithm(h.algorithm)).toThrow(AlgorithmError);
  });
});

describe('session id', () => {
  test.each(['a'.repeat(16), 'A'.repeat(64), 'AZaz09-_AZaz09-_', SID])('accepts %s', (sid) => {
    expect(checkSessionId(sid)).toBe(sid);
  });

  test.each([
    ['empty', ''],
    ['15 characters', 'a'.repeat(15)],
    ['65 characters', 'a'.repeat(65)],
    ['standard base64 +', `${'a'.repeat(15)}+`],
    ['standard base64 /', `${'a'.repeat(15)}/`],
    ['padding', `${'a'.repeat(15)}=`],
    ['space', `${'a'.repeat(15)} `],
    ['newline at the end', `${'a'.repeat(16)}\n`],
    ['non-ASCII', `${'a'.repeat(15)}é`],
  ])('refuses %s', (_, sid) => {
    expectProtocolError(() => checkSessionId(sid));
  });
});

describe('algorithm allow-list', () => {
  test('known algorithms, exact spelling only', () => {
    expect(isKemAlgorithm('ML-KEM-768')).toBe(true);
    expect(isKemAlgorithm('X-Wing')).toBe(true);
    for (const s of ['ml-kem-768', 'ML-KEM-512', 'X-WING', 'xwing', 'ML-KEM-768 ', '']) expect(isKemAlgorithm(s)).toBe(false);
  });

  test('checkAlgorithm returns an allowed algorithm', () => {
    expect(checkAlgorithm('X-Wing')).toBe('X-Wing');
    expect(checkAlgorithm('ML-KEM-768', ['ML-KEM-768'])).toBe('ML-KEM-768');
  });

  test.each([
    ['unknown', 'ML-KEM-1024', undefined],
    ['wrong case', 'x-wing', undefined],
    ['known but not allowed', 'X-Wing', ['ML-KEM-768'] as const],
    ['nothing allowed', 'ML-KEM-768', [] as const],
  ])('%s is an AlgorithmError with close 4403', (_, name, allowed) => {
    const err = caught(() => checkAlgorithm(name, allowed));
    expect(err).toBeInstanceOf(AlgorithmError);
    expect([err.code, err.closeCode]).toEqual(['ERR_ALGORITHM', CloseCode.Refused]);
  });

  test('the error message quotes and caps a hostile name', () => {
    const err = caught(() => checkAlgorithm(`"\n${'A'.repeat(1000)}`));
    expect(err.message.length).toBeLessThan(100);
    expect(err.message).not.toContain('\n');
  });
});
