// The livekit.volly messages of shared/proto/livekit_volly.proto, encoded and
// decoded by hand (proto3: fields in number order, defaults omitted, unknown
// fields dropped), as an implementer without a protobuf library would.

import { concat, utf8 } from './spec-crypto.ts';

function varint(n: number): Uint8Array {
  const out: number[] = [];
  let v = n;
  while (v > 0x7f) {
    out.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  out.push(v);
  return new Uint8Array(out);
}

const tag = (field: number, wire: number) => varint(field * 8 + wire);
/** A length-delimited field; proto3 omits it when empty (unless `always`, for sub-messages). */
function bytesField(field: number, value: Uint8Array | string, always = false): Uint8Array {
  const b = typeof value === 'string' ? utf8(value) : value;
  if (b.length === 0 && !always) return new Uint8Array(0);
  return concat(tag(field, 2), varint(b.length), b);
}
const varintField = (field: number, n: number) => (n === 0 ? new Uint8Array(0) : concat(tag(field, 0), varint(n)));

export function encodeHandshake(algorithm: string, pk: Uint8Array, sid: string): Uint8Array {
  const inner = concat(bytesField(1, algorithm), bytesField(2, pk), bytesField(3, sid));
  return bytesField(100, inner, true);
}

export function encodePqResponse(r: Partial<PqResponse>): Uint8Array {
  const inner = concat(
    bytesField(1, r.kemCiphertext ?? new Uint8Array(0)),
    bytesField(2, r.algorithm ?? ''),
    bytesField(3, r.sessionId ?? ''),
    varintField(4, r.success ? 1 : 0),
    bytesField(5, r.error ?? ''),
    bytesField(6, r.serverKeyId ?? new Uint8Array(0)),
    bytesField(7, r.serverSignature ?? new Uint8Array(0)),
  );
  return bytesField(100, inner, true);
}

/** `VollyControl{connect{access_token, query}}`. */
export const encodeConnect = (accessToken: string, query: string) => bytesField(1, concat(bytesField(1, accessToken), bytesField(2, query)), true);

export const encodeError = (code: number, message: string) => bytesField(2, concat(varintField(1, code), bytesField(2, message)), true);

type Field = { no: number; wire: number; value: number | Uint8Array };

function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let i = 0;
  const readVarint = () => {
    let n = 0;
    let mul = 1;
    for (;;) {
      if (i >= buf.length) throw new Error('truncated varint');
      const b = buf[i++] as number;
      n += (b & 0x7f) * mul;
      mul *= 128;
      if (b < 0x80) return n;
    }
  };
  while (i < buf.length) {
    const key = readVarint();
    const no = Math.floor(key / 8);
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, value: readVarint() });
    else if (wire === 2) {
      const len = readVarint();
      if (i + len > buf.length) throw new Error('truncated field');
      out.push({ no, wire, value: buf.subarray(i, i + len) });
      i += len;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw new Error(`unsupported wire type ${wire}`);
  }
  if (i !== buf.length) throw new Error('truncated');
  return out;
}

/** The last occurrence wins, as in protobuf. */
function get(fs: Field[], no: number, wire: number): number | Uint8Array | undefined {
  let v: number | Uint8Array | undefined;
  for (const f of fs) if (f.no === no && f.wire === wire) v = f.value;
  return v;
}
const str = (v: unknown) => (v instanceof Uint8Array ? new TextDecoder('utf-8', { fatal: true }).decode(v) : '');
const bytes = (v: unknown) => (v instanceof Uint8Array ? new Uint8Array(v) : new Uint8Array(0));

export interface PqResponse {
  kemCiphertext: Uint8Array;
  algorithm: string;
  sessionId: string;
  success: boolean;
  error: string;
  serverKeyId: Uint8Array;
  serverSignature: Uint8Array;
}

/** `VollySignalResponse{pq_response}` (at most 8192 bytes, section 2). */
export function decodePqResponse(buf: Uint8Array): PqResponse {
  if (buf.length > 8192) throw new Error('VollySignalResponse over 8192 bytes');
  const inner = get(fields(buf), 100, 2);
  if (!(inner instanceof Uint8Array)) throw new Error('no pq_response');
  const fs = fields(inner);
  return {
    kemCiphertext: bytes(get(fs, 1, 2)),
    algorithm: str(get(fs, 2, 2)),
    sessionId: str(get(fs, 3, 2)),
    success: get(fs, 4, 0) === 1,
    error: str(get(fs, 5, 2)),
    serverKeyId: bytes(get(fs, 6, 2)),
    serverSignature: bytes(get(fs, 7, 2)),
  };
}

/** `VollyControl{error{code, message}}`; anything else is a protocol error. */
export function decodeControlError(buf: Uint8Array): { code: number; message: string } {
  const inner = get(fields(buf), 2, 2);
  if (!(inner instanceof Uint8Array)) throw new Error('VollyControl is not error');
  const fs = fields(inner);
  return { code: Number(get(fs, 1, 0) ?? 0), message: str(get(fs, 2, 2)) };
}
