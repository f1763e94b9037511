/**
 * Encoding and strict decoding of the volly-pq.v1 messages. Every decoder
 * bounds the input size before parsing, drops unknown fields (no unbounded
 * retention of attacker-chosen fields), and turns any parse failure into a
 * ProtocolError: callers never see a protobuf exception.
 */

import { utf8 } from './bytes.js';
import { AlgorithmError, ProtocolError } from './errors.js';
import {
  VollyConnect,
  VollyControl,
  VollyError as VollyErrorMsg,
  VollyPQHandshake,
  VollyPQResponse,
  VollySignalRequest,
  VollySignalResponse,
} from './gen/livekit_volly_pb.js';
import { KEM_ALGORITHMS, type KemAlgorithm } from './kem/types.js';

export { VollyConnect, VollyControl, VollyErrorMsg, VollyPQHandshake, VollyPQResponse, VollySignalRequest, VollySignalResponse };

/** Largest handshake message: an X-Wing key (1216 bytes) plus small fields, with headroom. */
export const MAX_HANDSHAKE_BYTES = 4096;
/**
 * Largest pq_response: an X-Wing ciphertext (1120 bytes), an ML-DSA-65
 * signature (3309) and its key id (8) plus small fields, with headroom.
 */
export const MAX_RESPONSE_BYTES = 8192;
/** Largest VollyControl plaintext: a token and a query string (LiveKit's join_request can carry an SDP offer). */
export const MAX_CONTROL_BYTES = 256 * 1024;
/** Session ids: 16..64 characters of base64url (128 bits or more when random). */
const SESSION_ID = /^[A-Za-z0-9_-]{16,64}$/;
const READ = { readUnknownFields: false } as const;

export function isKemAlgorithm(s: string): s is KemAlgorithm {
  return (KEM_ALGORITHMS as readonly string[]).includes(s);
}

export function checkAlgorithm(s: string, allowed: readonly KemAlgorithm[] = KEM_ALGORITHMS): KemAlgorithm {
  if (!isKemAlgorithm(s)) throw new AlgorithmError(`unknown KEM algorithm ${JSON.stringify(s.slice(0, 32))}`);
  if (!allowed.includes(s)) throw new AlgorithmError(`KEM algorithm ${s} is not allowed here`);
  return s;
}

export function checkSessionId(s: string): string {
  if (!SESSION_ID.test(s)) throw new ProtocolError('session_id must be 16-64 base64url characters');
  return s;
}

function parse<T>(what: string, max: number, bytes: Uint8Array, fn: () => T): T {
  if (bytes.length > max) throw new ProtocolError(`${what} of ${bytes.length} bytes exceeds ${max}`);
  try {
    return fn();
  } catch {
    throw new ProtocolError(`${what} is not valid protobuf`);
  }
}

export function encodeHandshake(h: { algorithm: KemAlgorithm; publicKey: Uint8Array; sessionId: string }): Uint8Array {
  return new VollySignalRequest({
    message: {
      case: 'pqHandshake',
      value: new VollyPQHandshake({ algorithm: h.algorithm, clientPublicKey: Uint8Array.from(h.publicKey), sessionId: h.sessionId }),
    },
  }).toBinary();
}

/** Decodes a client's first frame; checks presence of the handshake, the algorithm name and the session id form. */
export function decodeHandshake(bytes: Uint8Array): { algorithm: string; publicKey: Uint8Array; sessionId: string } {
  const req = parse('handshake', MAX_HANDSHAKE_BYTES, bytes, () => VollySignalRequest.fromBinary(bytes, READ));
  if (req.message.case !== 'pqHandshake') throw new ProtocolError('first frame is not a pq_handshake');
  const h = req.message.value;
  return { algorithm: h.algorithm, publicKey: h.clientPublicKey, sessionId: checkSessionId(h.sessionId) };
}

export interface PqResponse {
  readonly success: boolean;
  readonly algorithm: string;
  readonly sessionId: string;
  readonly ciphertext: Uint8Array;
  readonly error: string;
  /** Server authentication: the signing key's id and the signature over th; empty when the server did not sign. */
  readonly serverKeyId: Uint8Array;
  readonly serverSignature: Uint8Array;
}

/**
 * `VollySignalResponse{pq_response}` written by hand: the server sends one per
 * handshake, and protobuf-es's reflective writer (plus a copy of every byte
 * field) cost more than the rest of the encoding. Byte for byte what
 * protobuf-es writes (a property test holds it to that): proto3 fields in
 * field-number order, defaults (empty, false) omitted, the message as field
 * 100 (tag 0xa2 0x06). Field numbers: shared/proto/livekit_volly.proto.
 */
export function encodeResponse(r: Partial<PqResponse> & { success: boolean }): Uint8Array {
  const fields: Array<[tag: number, value: Uint8Array | true]> = [];
  const add = (tag: number, value: Uint8Array | undefined) => value?.length && fields.push([tag, value]);
  add(0x0a, r.ciphertext); // 1 kem_ciphertext
  add(0x12, r.algorithm ? utf8(r.algorithm) : undefined); // 2 algorithm
  add(0x1a, r.sessionId ? utf8(r.sessionId) : undefined); // 3 session_id
  if (r.success) fields.push([0x20, true]); // 4 success
  add(0x2a, r.error ? utf8(r.error) : undefined); // 5 error
  add(0x32, r.serverKeyId); // 6 server_key_id
  add(0x3a, r.serverSignature); // 7 server_signature
  let inner = 0;
  for (const [, v] of fields) inner += v === true ? 2 : 1 + varintLength(v.length) + v.length;
  const out = new Uint8Array(2 + varintLength(inner) + inner);
  out[0] = 0xa2; // field 100, length-delimited
  out[1] = 0x06;
  let at = writeVarint(out, 2, inner);
  for (const [tag, v] of fields) {
    out[at++] = tag;
    if (v === true) out[at++] = 1;
    else {
      at = writeVarint(out, at, v.length);
      out.set(v, at);
      at += v.length;
    }
  }
  return out;
}

const varintLength = (n: number): number => (n < 0x80 ? 1 : n < 0x4000 ? 2 : n < 0x20_0000 ? 3 : n < 0x1000_0000 ? 4 : 5);

function writeVarint(out: Uint8Array, at: number, n: number): number {
  while (n >= 0x80) {
    out[at++] = (n & 0x7f) | 0x80;
    n >>>= 7;
  }
  out[at++] = n;
  return at;
}

export function decodeResponse(bytes: Uint8Array): PqResponse {
  const res = parse('pq_response', MAX_RESPONSE_BYTES, bytes, () => VollySignalResponse.fromBinary(bytes, READ));
  if (res.message.case !== 'pqResponse') throw new ProtocolError('first server frame is not a pq_response');
  const v = res.message.value;
  return {
    success: v.success,
    algorithm: v.algorithm,
    sessionId: v.sessionId,
    ciphertext: v.kemCiphertext,
    error: v.error,
    serverKeyId: v.serverKeyId,
    serverSignature: v.serverSignature,
  };
}

export type Control = { case: 'connect'; accessToken: string; query: string } | { case: 'error'; code: number; message: string };

export function encodeControl(c: Control): Uint8Array {
  const msg =
    c.case === 'connect'
      ? new VollyControl({ message: { case: 'connect', value: new VollyConnect({ accessToken: c.accessToken, query: c.query }) } })
      : new VollyControl({ message: { case: 'error', value: new VollyErrorMsg({ code: c.code, message: c.message }) } });
  return msg.toBinary();
}

export function decodeControl(bytes: Uint8Array): Control {
  const c = parse('VollyControl', MAX_CONTROL_BYTES, bytes, () => VollyControl.fromBinary(bytes, READ));
  switch (c.message.case) {
    case 'connect':
      return { case: 'connect', accessToken: c.message.value.accessToken, query: c.message.value.query };
    case 'error':
      return { case: 'error', code: c.message.value.code, message: c.message.value.message };
    default:
      throw new ProtocolError('VollyControl carries no message');
  }
}
