// A small mutation engine for byte strings (radamsa/AFL style), seeded from
// frames recorded from real volly-pq.v1 sessions: bit flips, interesting
// bytes, inserts, deletes, duplicated and swapped ranges, truncation,
// splicing with another seed, and protobuf-aware edits (a field's length
// claim, its wire type, its number, a duplicated or dropped field, a varint
// that never ends). Deterministic for a given PRNG state.

/** xorshift32: tiny, fast, deterministic; good enough to pick mutations. */
export class Prng {
  #s: number;
  constructor(seed: number) {
    this.#s = seed >>> 0 || 0x9e3779b9;
  }
  next(): number {
    let x = this.#s;
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    this.#s = x >>> 0;
    return this.#s;
  }
  /** Uniform integer in [0, n). */
  int(n: number): number {
    return n <= 0 ? 0 : this.next() % n;
  }
  pick<T>(a: readonly T[]): T {
    return a[this.int(a.length)] as T;
  }
  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = this.next() & 0xff;
    return out;
  }
  chance(p: number): boolean {
    return this.next() / 0x1_0000_0000 < p;
  }
}

const INTERESTING = [0x00, 0x01, 0x7f, 0x80, 0xff, 0xfe, 0x40, 0x20, 0x0a, 0x08, 0x10, 0x12, 0x1a, 0xa2, 0x06];

function concat(...parts: Uint8Array[]): Uint8Array {
  let n = 0;
  for (const p of parts) n += p.length;
  const out = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    out.set(p, o);
    o += p.length;
  }
  return out;
}

export function varint(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  while (v >= 0x80) {
    out.push((v % 0x80) | 0x80);
    v = Math.floor(v / 0x80);
  }
  out.push(v);
  return Uint8Array.from(out);
}

interface Field {
  start: number;
  /** Offset of the length varint (wire type 2) or of the value. */
  valueStart: number;
  end: number;
  wire: number;
}

/** Best-effort split of a protobuf message into top-level fields (stops at the first thing that does not parse). */
export function topLevelFields(b: Uint8Array): Field[] {
  const fields: Field[] = [];
  let i = 0;
  const readVarint = (): number | null => {
    let v = 0;
    let mul = 1;
    for (let k = 0; k < 10 && i < b.length; k++) {
      const byte = b[i++] as number;
      v += (byte & 0x7f) * mul;
      mul *= 128;
      if (!(byte & 0x80)) return v;
    }
    return null;
  };
  while (i < b.length && fields.length < 64) {
    const start = i;
    const tag = readVarint();
    if (tag === null) break;
    const wire = tag % 8;
    const valueStart = i;
    if (wire === 0) {
      if (readVarint() === null) break;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else if (wire === 2) {
      const len = readVarint();
      if (len === null) break;
      i += len;
    } else break;
    if (i > b.length) break;
    fields.push({ start, valueStart, end: i, wire });
  }
  return fields;
}

type Op = (b: Uint8Array, r: Prng, seeds: readonly Uint8Array[]) => Uint8Array;

const ops: Array<[Op, number]> = [
  // bit flip
  [
    (b, r) => {
      if (!b.length) return r.bytes(1);
      const o = b.slice();
      const i = r.int(o.length);
      o[i] = (o[i] as number) ^ (1 << r.int(8));
      return o;
    },
    6,
  ],
  // random byte
  [
    (b, r) => {
      if (!b.length) return r.bytes(1);
      const o = b.slice();
      o[r.int(o.length)] = r.next() & 0xff;
      return o;
    },
    4,
  ],
  // interesting byte
  [
    (b, r) => {
      if (!b.length) return Uint8Array.of(r.pick(INTERESTING));
      const o = b.slice();
      o[r.int(o.length)] = r.pick(INTERESTING);
      return o;
    },
    3,
  ],
  // insert random bytes
  [
    (b, r) => {
      const i = r.int(b.length + 1);
      return concat(b.subarray(0, i), r.bytes(1 + r.int(r.chance(0.1) ? 300 : 8)), b.subarray(i));
    },
    2,
  ],
  // delete a range
  [
    (b, r) => {
      if (!b.length) return b;
      const i = r.int(b.length);
      const n = 1 + r.int(Math.min(64, b.length - i));
      return concat(b.subarray(0, i), b.subarray(i + n));
    },
    2,
  ],
  // duplicate a range in place
  [
    (b, r) => {
      if (!b.length) return b;
      const i = r.int(b.length);
      const n = 1 + r.int(Math.min(128, b.length - i));
      return concat(b.subarray(0, i + n), b.subarray(i, i + n), b.subarray(i + n));
    },
    1,
  ],
  // truncate
  [(b, r) => b.subarray(0, r.int(b.length + 1)).slice(), 3],
  // extend with random tail
  [(b, r) => concat(b, r.bytes(1 + r.int(32))), 1],
  // splice with another seed
  [
    (b, r, seeds) => {
      const other = r.pick(seeds);
      const i = r.int(b.length + 1);
      const j = r.int(other.length + 1);
      return concat(b.subarray(0, i), other.subarray(j));
    },
    2,
  ],
  // protobuf: rewrite a field's length claim (short, long, huge, unterminated)
  [
    (b, r) => {
      const f = topLevelFields(b).filter((x) => x.wire === 2);
      if (!f.length) return concat(b, Uint8Array.of(0x0a, 0xff, 0xff, 0xff, 0xff, 0x0f));
      const x = r.pick(f);
      const claim = r.pick([0, 1, 0x7f, 0x80, 0x3fff, 0x1fffff, 0xfffffff, 2 ** 31 - 1, 2 ** 32 - 1, 2 ** 53 - 1]);
      // find the end of the existing length varint
      let k = x.valueStart;
      while (k < b.length && ((b[k] as number) & 0x80) !== 0) k++;
      k++;
      const bad = r.chance(0.2) ? Uint8Array.of(0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01) : varint(claim);
      return concat(b.subarray(0, x.valueStart), bad, b.subarray(Math.min(k, b.length)));
    },
    3,
  ],
  // protobuf: change a field's wire type or number
  [
    (b, r) => {
      const f = topLevelFields(b);
      if (!f.length) return b;
      const x = r.pick(f);
      const field = r.chance(0.5) ? r.pick([0, 1, 2, 3, 4, 5, 15, 16, 99, 100, 101, 2 ** 29 - 1, 19000, 19999]) : 1 + r.int(200);
      const wire = r.chance(0.7) ? x.wire : r.int(8);
      const tag = varint(field * 8 + wire);
      return concat(b.subarray(0, x.start), tag, b.subarray(x.valueStart));
    },
    2,
  ],
  // protobuf: duplicate or drop a field, or swap two
  [
    (b, r) => {
      const f = topLevelFields(b);
      if (!f.length) return b;
      const x = r.pick(f);
      const y = r.pick(f);
      const choice = r.int(3);
      if (choice === 0) return concat(b.subarray(0, x.end), b.subarray(x.start, x.end), b.subarray(x.end));
      if (choice === 1) return concat(b.subarray(0, x.start), b.subarray(x.end));
      if (x.start === y.start) return b;
      const [p, q] = x.start < y.start ? [x, y] : [y, x];
      return concat(b.subarray(0, p.start), b.subarray(q.start, q.end), b.subarray(p.end, q.start), b.subarray(p.start, p.end), b.subarray(q.end));
    },
    2,
  ],
  // protobuf: mutate inside a nested message (the handshake lives in field 100)
  [
    function nestedOp(b, r, seeds) {
      const f = topLevelFields(b).filter((x) => x.wire === 2);
      if (!f.length) return b;
      const x = r.pick(f);
      let k = x.valueStart;
      while (k < b.length && ((b[k] as number) & 0x80) !== 0) k++;
      k++;
      const inner = b.subarray(k, x.end);
      const mutated = mutateOnce(inner, r, seeds, nestedOp);
      const tag = b.subarray(x.start, x.valueStart);
      return concat(b.subarray(0, x.start), tag, varint(mutated.length), mutated, b.subarray(x.end));
    },
    4,
  ],
  // deeply nested groups / messages appended
  [
    (b, r) => {
      const depth = 1 + r.int(r.chance(0.3) ? 3000 : 50);
      const open = new Uint8Array(depth).fill(0x0b); // field 1, start group
      const close = new Uint8Array(depth).fill(0x0c); // field 1, end group
      return concat(b, open, r.chance(0.5) ? close : new Uint8Array(0));
    },
    1,
  ],
  // many tiny fields
  [
    (b, r) => {
      const n = 1 + r.int(r.chance(0.2) ? 10_000 : 200);
      const out = new Uint8Array(n * 2);
      for (let i = 0; i < n; i++) {
        out[2 * i] = 0x08 + 8 * r.int(15); // varint fields 1..15
        out[2 * i + 1] = r.next() & 0x7f;
      }
      return concat(b, out);
    },
    1,
  ],
];

const TOTAL = ops.reduce((s, [, w]) => s + w, 0);

function mutateOnce(b: Uint8Array, r: Prng, seeds: readonly Uint8Array[], exclude?: Op): Uint8Array {
  let x = r.int(TOTAL);
  for (const [op, w] of ops) {
    if (x < w) {
      // one level of nesting only: the nested-message operator does not call itself
      if (op === exclude) return b;
      return op(b, r, seeds);
    }
    x -= w;
  }
  return b;
}

/** 1-4 stacked mutations of `base`; guaranteed to differ from it. */
export function mutate(base: Uint8Array, r: Prng, seeds: readonly Uint8Array[] = [base]): Uint8Array {
  let out = base;
  const n = 1 + (r.chance(0.6) ? 0 : r.int(4));
  for (let i = 0; i < n; i++) out = mutateOnce(out, r, seeds);
  if (equal(out, base)) {
    out = base.length ? base.slice() : Uint8Array.of(0);
    if (base.length) {
      const i = r.int(out.length);
      out[i] = (out[i] as number) ^ 0x01;
    }
  }
  return out;
}

export function equal(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

const B64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** Mutates a JWT as text: base64url-alphabet edits, dots moved, parts swapped, dropped or repeated. Always differs from `token`. */
export function mutateToken(token: string, r: Prng): string {
  const parts = token.split('.');
  let out = token;
  switch (r.int(8)) {
    case 0: {
      const i = r.int(out.length);
      out = out.slice(0, i) + B64URL[r.int(64)] + out.slice(i + 1);
      break;
    }
    case 1: {
      const i = r.int(out.length);
      out = out.slice(0, i) + out.slice(i + 1 + r.int(8));
      break;
    }
    case 2:
      out = parts.slice(0, 2).join('.') + (r.chance(0.5) ? '.' : '');
      break;
    case 3:
      out = [parts[0], parts[1], parts[1]].join('.');
      break;
    case 4:
      out = `${out}${r.pick(['.', '..', '=', '==', '%00', ' ', '.e30'])}`;
      break;
    case 5: {
      const i = r.int(out.length);
      out = out.slice(0, i) + r.pick(['+', '/', '=', '.', '~', '\u00e9', '\u0000']) + out.slice(i);
      break;
    }
    case 6:
      out = out.repeat(2 + r.int(3));
      break;
    default: {
      // flip one base64url character of the payload: still well formed, signature must fail
      const p = parts[1] ?? '';
      const i = r.int(Math.max(1, p.length));
      const ch = B64URL[(B64URL.indexOf(p[i] ?? 'A') + 1 + r.int(63)) % 64] as string;
      out = [parts[0], p.slice(0, i) + ch + p.slice(i + 1), parts[2]].join('.');
    }
  }
  return out === token ? `${token}A` : out;
}
