/**
 * Typed errors, one class per concept (jose style). Every error carries a
 * stable string `code` and, where the failure ends a session, the WebSocket
 * close code the proxy or client uses. Messages never contain key material,
 * tokens or plaintext: they name what was wrong, not what it held.
 */
import { CloseCode } from './close-codes.js';

export abstract class VollyError extends Error {
  /** Stable machine-readable code, e.g. `ERR_KEM_KEY_LENGTH`. */
  abstract readonly code: string;
  /** The WebSocket close code a session ends with when this error ends it. */
  readonly closeCode: number = CloseCode.Malformed;
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}

/** An algorithm name that is not one of ours, or not allowed here. */
export class AlgorithmError extends VollyError {
  readonly code = 'ERR_ALGORITHM';
  override readonly closeCode = CloseCode.Refused;
}

/** A public key, secret key, seed or ciphertext of the wrong length or form. */
export class KeyFormatError extends VollyError {
  readonly code = 'ERR_KEY_FORMAT';
}

/** The runtime lacks the requested backend (e.g. native ML-KEM on Node 20). */
export class BackendUnavailableError extends VollyError {
  readonly code = 'ERR_BACKEND_UNAVAILABLE';
  override readonly closeCode = CloseCode.Internal;
}

/** A sealed frame that is too short, has an unknown kind, or fails to open. */
export class FrameError extends VollyError {
  readonly code: 'ERR_FRAME_SHORT' | 'ERR_FRAME_KIND' | 'ERR_FRAME_AUTH' | 'ERR_FRAME_SIZE' | 'ERR_FRAME_POISONED';
  override readonly closeCode: number;
  constructor(code: FrameError['code'], message: string) {
    super(message);
    this.code = code;
    this.closeCode = code === 'ERR_FRAME_SIZE' ? CloseCode.TooLarge : CloseCode.Malformed;
  }
}

/** The 64-bit frame counter of a direction is exhausted; the session must end. */
export class CounterExhaustedError extends VollyError {
  readonly code = 'ERR_COUNTER_EXHAUSTED';
}

/** A handshake or control message that does not parse or breaks the protocol. */
export class ProtocolError extends VollyError {
  readonly code = 'ERR_PROTOCOL';
}

/** A token that is missing, invalid, expired, or does not match the session. */
export class TokenError extends VollyError {
  readonly code: 'ERR_TOKEN_MISSING' | 'ERR_TOKEN_INVALID' | 'ERR_TOKEN_EXPIRED' | 'ERR_TOKEN_KEY_MISMATCH' | 'ERR_TOKEN_PQ_EXPIRED' | 'ERR_TOKEN_CLAIMS';
  override readonly closeCode = CloseCode.Unauthorized;
  constructor(code: TokenError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** Pinned server keys and a pq_response that is not signed by one of them (docs/PROTOCOL.md, "Server authentication"). */
export class ServerAuthError extends VollyError {
  readonly code: 'ERR_SERVER_AUTH_MISSING' | 'ERR_SERVER_AUTH_UNKNOWN_KEY' | 'ERR_SERVER_AUTH_INVALID';
  override readonly closeCode = CloseCode.ServerAuth;
  constructor(code: ServerAuthError['code'], message: string) {
    super(message);
    this.code = code;
  }
}

/** The peer ended the handshake with an error (pq_response.success=false or a sealed VollyError). */
export class RemoteError extends VollyError {
  readonly code = 'ERR_REMOTE';
  override readonly closeCode: number;
  constructor(closeCode: number, message: string) {
    super(message);
    this.closeCode = closeCode;
  }
}
