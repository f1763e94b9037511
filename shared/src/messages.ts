/**
 * Encoding and strict decoding of the volly-pq.v1 messages. Every decoder
 * bounds the input size before parsing, drops unknown fields (no unbounded
 * retention of attacker-chosen fields), and turns any parse failure into a
 * ProtocolError: callers never see a protobuf exception.
 */
import { VollyConnect, VollyControl, VollyError as VollyErrorMsg, VollyPQHandshake, VollyPQResponse, VollySignalRequest, VollySignalResponse } from './gen/livekit_volly_pb.js';
import { AlgorithmError, ProtocolError } from './errors.js';
import { KEM_ALGORITHMS, type KemAlgorithm } from './kem/types.js';

export { VollyConnect, VollyControl, VollyPQHandshake, VollyPQResponse, VollySignalRequest, VollySignalResponse };
export { VollyErrorMsg };

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
    message: { case: 'pqHandshake', value: new VollyPQHandshake({ algorithm: h.algorithm, clientPublicKey: Uint8Array.from(h.publicKey), sessionId: h.sessionId }) },
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

export function encodeResponse(r: Partial<PqResponse> & { success: boolean }): Uint8Array {
  return new VollySignalResponse({
    message: {
      case: 'pqResponse',
      value: new VollyPQResponse({
        success: r.success,
        algorithm: r.algorithm ?? '',
        sessionId: r.sessionId ?? '',
        kemCiphertext: Uint8Array.from(r.ciphertext ?? []),
        error: r.error ?? '',
        serverKeyId: Uint8Array.from(r.serverKeyId ?? []),
        serverSignature: Uint8Array.from(r.serverSignature ?? []),
      }),
    },
  }).toBinary();
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
