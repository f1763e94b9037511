// fast-check generators of hostile volly-pq.v1 input: handshakes (well formed
// and not), VollyControl plaintexts, LiveKit-looking protobuf, oversized and
// deeply nested ones; access tokens come from token-arbs.ts.

import { encodeControl, utf8 } from '@volly/shared';
import fc from 'fast-check';
import { varint } from './mutate.ts';
import { type TokenKeys, tokenArb } from './token-arbs.ts';

/** field number + wire type 2 + bytes */
export function lenField(field: number, value: Uint8Array): Uint8Array {
  const tag = varint(field * 8 + 2);
  const len = varint(value.length);
  const out = new Uint8Array(tag.length + len.length + value.length);
  out.set(tag, 0);
  out.set(len, tag.length);
  out.set(value, tag.length + len.length);
  return out;
}

const cat = (parts: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
};

/** Arbitrary protobuf: random fields of every wire type, nested messages, groups, bogus lengths. */
export const protobufArb: fc.Arbitrary<Uint8Array> = fc.letrec<{ msg: Uint8Array; field: Uint8Array }>((tie) => ({
  field: fc.oneof(
    { depthSize: 'small' },
    fc.tuple(fc.integer({ min: 1, max: 2 ** 29 - 1 }), fc.bigInt({ min: 0n, max: 2n ** 64n - 1n })).map(([f, v]) => {
      const bytes: number[] = [];
      let x = v;
      while (x >= 0x80n) {
        bytes.push(Number(x & 0x7fn) | 0x80);
        x >>= 7n;
      }
      bytes.push(Number(x));
      return cat([varint(f * 8), Uint8Array.from(bytes)]);
    }),
    fc.tuple(fc.integer({ min: 1, max: 200 }), fc.uint8Array({ maxLength: 64 })).map(([f, v]) => lenField(f, v)),
    fc.tuple(fc.integer({ min: 1, max: 200 }), tie('msg') as fc.Arbitrary<Uint8Array>).map(([f, v]) => lenField(f, v)),
    fc.tuple(fc.integer({ min: 1, max: 30 }), fc.constantFrom(1, 5)).map(([f, w]) => cat([varint(f * 8 + w), new Uint8Array(w === 1 ? 8 : 4).fill(0xab)])),
    fc.tuple(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })).map(([f, claim]) => cat([varint(f * 8 + 2), varint(claim)])),
    fc.tuple(fc.integer({ min: 1, max: 30 }), tie('msg') as fc.Arbitrary<Uint8Array>).map(([f, v]) => cat([varint(f * 8 + 3), v, varint(f * 8 + 4)])),
    fc.constantFrom(
      Uint8Array.of(0x0b),
      Uint8Array.of(0x0c),
      Uint8Array.of(0x07),
      Uint8Array.of(0x00),
      Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01),
    ),
  ),
  msg: fc.array(tie('field') as fc.Arbitrary<Uint8Array>, { maxLength: 8, depthIdentifier: 'pb' }).map(cat),
})).msg;

/** Field 1 (length-delimited) nested `depth` times, built in one pass (lengths from the inside out). */
export function nestedMessages(depth: number): Uint8Array {
  const lens = new Array<number>(depth + 1);
  lens[depth] = 0;
  for (let i = depth - 1; i >= 0; i--) lens[i] = 1 + varint(lens[i + 1] as number).length + (lens[i + 1] as number);
  const out = new Uint8Array(lens[0] as number);
  let o = 0;
  for (let i = 0; i < depth; i++) {
    out[o++] = 0x0a;
    const v = varint(lens[i + 1] as number);
    out.set(v, o);
    o += v.length;
  }
  return out;
}

/** Pathological protobuf shapes: thousands of fields, thousands of nesting levels. */
export const hugeProtobufArb: fc.Arbitrary<Uint8Array> = fc.oneof(
  fc.integer({ min: 1000, max: 10_000 }).map((n) => {
    const out = new Uint8Array(n * 2);
    for (let i = 0; i < n; i++) {
      out[2 * i] = 0x08 + 8 * (i % 15);
      out[2 * i + 1] = i & 0x7f;
    }
    return out;
  }),
  fc.integer({ min: 100, max: 5000 }).map(nestedMessages),
  fc.integer({ min: 100, max: 20_000 }).map((depth) => cat([new Uint8Array(depth).fill(0x0b), new Uint8Array(depth).fill(0x0c)])),
);

const algorithmArb = fc.oneof(
  { weight: 4, arbitrary: fc.constantFrom('ML-KEM-768', 'X-Wing') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      '',
      'none',
      'ML-KEM-512',
      'ML-KEM-1024',
      'ml-kem-768',
      'X-WING',
      'X-Wing ',
      'ML-KEM-768\u0000',
      'X25519',
      'Kyber768',
      'ML-KEM-768,X-Wing',
    ),
  },
  { weight: 1, arbitrary: fc.string({ maxLength: 40 }) },
);

const sessionIdArb = fc.oneof(
  { weight: 4, arbitrary: fc.stringMatching(/^[A-Za-z0-9_-]{16,64}$/) },
  { weight: 2, arbitrary: fc.constantFrom('', 'A'.repeat(15), 'A'.repeat(65), 'A'.repeat(16) + '=', 'A'.repeat(20) + '/', 'é'.repeat(20), 'A'.repeat(4000)) },
  { weight: 1, arbitrary: fc.string({ maxLength: 80 }) },
);

/** A VollySignalRequest{pq_handshake} built field by field, each field possibly wrong, with optional extra fields. */
export function handshakeArb(realKeys: { 'ML-KEM-768': Uint8Array; 'X-Wing': Uint8Array }): fc.Arbitrary<Uint8Array> {
  const keyArb = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(realKeys['ML-KEM-768'], realKeys['X-Wing']) },
    {
      weight: 2,
      arbitrary: fc
        .constantFrom(1184, 1216, 1183, 1185, 1215, 1217, 0, 32, 1088, 4000)
        .chain((n) => fc.constantFrom(new Uint8Array(n), new Uint8Array(n).fill(0xff), new Uint8Array(n).fill(0x42))),
    },
    { weight: 1, arbitrary: fc.uint8Array({ maxLength: 1300 }) },
  );
  return fc
    .record({
      algorithm: algorithmArb,
      key: keyArb,
      sessionId: sessionIdArb,
      order: fc.shuffledSubarray([1, 2, 3], { minLength: 0, maxLength: 3 }),
      duplicate: fc.boolean(),
      extraInner: fc.option(protobufArb, { freq: 4 }),
      extraOuter: fc.option(protobufArb, { freq: 4 }),
      outerField: fc.oneof({ weight: 8, arbitrary: fc.constant(100) }, { weight: 1, arbitrary: fc.integer({ min: 1, max: 200 }) }),
    })
    .map(({ algorithm, key, sessionId, order, duplicate, extraInner, extraOuter, outerField }) => {
      const fields: Record<number, Uint8Array> = { 1: lenField(1, utf8(algorithm)), 2: lenField(2, key), 3: lenField(3, utf8(sessionId)) };
      const inner = cat([
        ...order.map((f) => fields[f] as Uint8Array),
        ...(duplicate && order.length ? [fields[order[0] as number] as Uint8Array] : []),
        extraInner ?? new Uint8Array(0),
      ]);
      return cat([lenField(outerField, inner), extraOuter ?? new Uint8Array(0)]);
    });
}

export const queryArb: fc.Arbitrary<string> = fc
  .array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(
          'join_request',
          'reconnect',
          'sid',
          'access_token',
          'auto_subscribe',
          'protocol',
          'sdk',
          'version',
          'adaptive_stream',
          'reconnect_reason',
          'publish',
        ),
        fc.string({ maxLength: 12 }),
      ),
      fc.oneof(
        fc.string({ maxLength: 40 }),
        fc.constantFrom('1', '0', 'true', '%', '%zz', 'AAAA====', 'eyJhbGciOiJub25lIn0.e30.'),
        fc.integer({ min: 0, max: 5000 }).map((n) => 'A'.repeat(n)),
      ),
    ),
    { maxLength: 6 },
  )
  .map((pairs) => pairs.map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`).join('&'));

export interface ControlSpec {
  plaintext: Uint8Array;
  /** The connect's token may verify. */
  mayDial: boolean;
  /** May be a connect without a token (token-bound, the URL token is then used). */
  emptyToken: boolean;
}

export function controlArb(k: TokenKeys, validToken: string): fc.Arbitrary<ControlSpec> {
  const other = (plaintext: Uint8Array, emptyToken = false): ControlSpec => ({ plaintext, mayDial: false, emptyToken });
  return fc.oneof(
    {
      weight: 4,
      arbitrary: fc
        .tuple(tokenArb(k), queryArb)
        .map(([t, q]) => ({ plaintext: encodeControl({ case: 'connect', accessToken: t.token, query: q }), mayDial: t.mayVerify, emptyToken: t.token === '' })),
    },
    {
      weight: 1,
      arbitrary: queryArb.map((q) => ({ plaintext: encodeControl({ case: 'connect', accessToken: validToken, query: q }), mayDial: true, emptyToken: false })),
    },
    {
      weight: 1,
      arbitrary: fc
        .tuple(fc.integer({ min: 0, max: 2 ** 32 - 1 }), fc.string({ maxLength: 100 }))
        .map(([code, message]) => other(encodeControl({ case: 'error', code, message }))),
    },
    // random protobuf may parse as a connect without a token (field 1, no access_token)
    { weight: 1, arbitrary: protobufArb.map((plaintext) => other(plaintext, true)) },
    { weight: 1, arbitrary: hugeProtobufArb.map((plaintext) => other(plaintext, true)) },
    { weight: 1, arbitrary: fc.constant(other(new Uint8Array(0), true)) },
  );
}
