/**
 * The early frame's plaintext, VollyConnect v2 (docs/PROTOCOL.md, "Early frame"):
 *
 *   u64(timestamp_ms) ‖ u16(len path) ‖ path ‖ u16(len query) ‖ query ‖ u16(len token) ‖ access_token
 *
 * It is sealed as a v1 frame of kind 0x03 under k_early at counter 0. Every
 * field is checked: path absolute without query or fragment, query without
 * '?' or '#', token non-empty and printable ASCII, strings strict UTF-8, no
 * trailing bytes.
 */
import { concatBytes, utf8 } from '../bytes.js';
import { MAX_EARLY_PLAINTEXT } from './constants.js';
import { V2Error } from './errors.js';
import { Reader, u16, u64 } from './wire.js';

export interface EarlyConnect {
  /** The LiveKit path to dial, e.g. `/rtc/v1` (any prefix included). */
  readonly path: string;
  /** LiveKit's query without `?` and without `access_token` (join_request, sdk, …). */
  readonly query: string;
  /** The client's LiveKit access token. */
  readonly accessToken: string;
  /** The client's clock (corrected by a server time after a stale-clock retry), ms since the Unix epoch. */
  readonly timestampMs: number;
}

const PATH = /^\/[!$&'()*+,;=:@%A-Za-z0-9._~/-]*$/;
const QUERY = /^[!$&'()*+,;=:@%A-Za-z0-9._~/?-]*$/;
const TOKEN = /^[\x21-\x7e]+$/;

function check(c: EarlyConnect): EarlyConnect {
  const fail = (m: string): never => {
    throw new V2Error('ERR_V2_EARLY', `VollyConnect ${m}`);
  };
  if (!Number.isSafeInteger(c.timestampMs) || c.timestampMs < 0) fail('timestamp_ms must be a non-negative integer');
  if (!PATH.test(c.path)) fail('path must be an absolute URL path without query or fragment');
  if (c.query.startsWith('?') || !QUERY.test(c.query)) fail('query must be a URL query without ? or #');
  if (/(^|&)access_token=/.test(c.query)) fail('query must not carry access_token');
  if (!TOKEN.test(c.accessToken)) fail('access_token must be non-empty printable ASCII');
  return c;
}

export function encodeEarlyConnect(c: EarlyConnect): Uint8Array {
  check(c);
  const field = (s: string): Uint8Array => {
    const b = utf8(s);
    if (b.length > 0xffff) throw new V2Error('ERR_V2_TOO_LARGE', 'VollyConnect field longer than 65535 bytes');
    return concatBytes(u16(b.length), b);
  };
  const out = concatBytes(u64(c.timestampMs), field(c.path), field(c.query), field(c.accessToken));
  if (out.length > MAX_EARLY_PLAINTEXT) throw new V2Error('ERR_V2_TOO_LARGE', `VollyConnect of ${out.length} bytes exceeds ${MAX_EARLY_PLAINTEXT}`);
  return out;
}

export function decodeEarlyConnect(bytes: Uint8Array): EarlyConnect {
  if (bytes.length > MAX_EARLY_PLAINTEXT) throw new V2Error('ERR_V2_EARLY', `VollyConnect of ${bytes.length} bytes exceeds ${MAX_EARLY_PLAINTEXT}`);
  const r = new Reader(bytes, 'ERR_V2_EARLY', 'VollyConnect');
  const timestampMs = r.u64('timestamp_ms');
  const path = r.string('path');
  const query = r.string('query');
  const accessToken = r.string('access_token');
  r.end();
  return check({ path, query, accessToken, timestampMs });
}
