/**
 * Byte layout helpers for volly-e2ee.v1: the u16 length prefix and the
 * bounds-checked Reader of volly-pq.v2 (../v2/wire.ts), with their failures
 * turned into E2eeError ERR_E2EE_FORMAT.
 */
import { utf8 } from '../bytes.js';
import { V2Error } from '../v2/errors.js';
import { lp, Reader } from '../v2/wire.js';
import { E2eeError } from './errors.js';

export { u64 } from '../v2/wire.js';

/** u16(len) ‖ UTF-8 of `s`, refusing more than `max` bytes (or an empty string when `min` is 1). */
export function lpString(s: string, field: string, max: number, min = 1): Uint8Array {
  if (typeof s !== 'string') throw new E2eeError('ERR_E2EE_FORMAT', `${field} must be a string`);
  const b = utf8(s);
  if (b.length < min || b.length > max) throw new E2eeError('ERR_E2EE_FORMAT', `${field} must be ${min}..${max} bytes of UTF-8`);
  return lp(b);
}

/** Runs `parse` over a Reader of a copy of `input` (passed as `bytes`); any short, long or non-UTF-8 input is ERR_E2EE_FORMAT. */
export function decodeWith<T>(input: Uint8Array, what: string, parse: (r: Reader, bytes: Uint8Array) => T): T {
  if (!(input instanceof Uint8Array)) throw new E2eeError('ERR_E2EE_FORMAT', `${what} must be a Uint8Array`);
  // A plain copy: a Node Buffer's slices share one pool, which the Reader's DataViews must not see.
  const bytes = new Uint8Array(input);
  try {
    return parse(new Reader(bytes, 'ERR_V2_PROTOCOL', what), bytes);
  } catch (err) {
    if (err instanceof V2Error) throw new E2eeError('ERR_E2EE_FORMAT', err.message);
    throw err;
  }
}

/** A length-prefixed string checked against its bounds after reading. */
export function readString(r: Reader, field: string, max: number, min = 1): string {
  const s = r.string(field);
  if (utf8(s).length < min || utf8(s).length > max) r.fail(`${field} must be ${min}..${max} bytes`);
  return s;
}
