/**
 * Byte-level helpers of volly-pq.v2's fixed layouts: a bounds-checked reader
 * that turns every short or long input into a V2Error, and lp(), the u16
 * length prefix every transcript field carries.
 */
import { concatBytes, fromUtf8, utf8 } from '../bytes.js';
import { V2Error, type V2ErrorCode } from './errors.js';

/** u16(len x) ‖ x; every field of th1 and th2 is written this way. */
export const lp = (x: Uint8Array | string): Uint8Array => concatBytes(...lpParts(x));

/** lp() of each field as separate parts (length, bytes), for hashing without a copy. */
export function lpParts(...fields: Array<Uint8Array | string>): Uint8Array[] {
  const out: Uint8Array[] = [];
  for (const x of fields) {
    const b = typeof x === 'string' ? utf8(x) : x;
    if (b.length > 0xffff) throw new V2Error('ERR_V2_PROTOCOL', 'transcript field longer than 65535 bytes');
    out.push(Uint8Array.of(b.length >> 8, b.length & 0xff), b);
  }
  return out;
}

export const u16 = (n: number): Uint8Array => Uint8Array.of(n >> 8, n & 0xff);

/** u64 big-endian of a non-negative safe integer. */
export function u64(n: number): Uint8Array {
  const out = new Uint8Array(8);
  const view = new DataView(out.buffer);
  view.setUint32(0, Math.floor(n / 0x1_0000_0000));
  view.setUint32(4, n >>> 0);
  return out;
}

/** Sequential reader over one message; `end()` insists nothing is left. */
export class Reader {
  #at = 0;
  constructor(
    private readonly bytes: Uint8Array,
    private readonly code: V2ErrorCode,
    private readonly what: string,
  ) {}
  fail(message: string): never {
    throw new V2Error(this.code, `${this.what}: ${message}`);
  }
  take(n: number, field: string): Uint8Array {
    if (this.bytes.length - this.#at < n) this.fail(`truncated in ${field}`);
    const out = this.bytes.slice(this.#at, this.#at + n);
    this.#at += n;
    return out;
  }
  u8(field: string): number {
    return this.take(1, field)[0] as number;
  }
  u16(field: string): number {
    const b = this.take(2, field);
    return ((b[0] as number) << 8) | (b[1] as number);
  }
  u64(field: string): number {
    const view = new DataView(this.take(8, field).buffer);
    const hi = view.getUint32(0);
    if (hi > 0x1f_ffff) this.fail(`${field} exceeds 2^53 - 1`);
    return hi * 0x1_0000_0000 + view.getUint32(4);
  }
  /** u16-prefixed strict UTF-8. */
  string(field: string): string {
    const b = this.take(this.u16(`${field} length`), field);
    try {
      return fromUtf8(b);
    } catch {
      return this.fail(`${field} is not UTF-8`);
    }
  }
  end(): void {
    if (this.#at !== this.bytes.length) this.fail(`${this.bytes.length - this.#at} trailing bytes`);
  }
}
