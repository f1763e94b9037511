/**
 * The typed error of volly-pq.v2: one class, a stable code per failure, and
 * the close code the session ends with. Messages name what failed, never
 * what it held (no key, token, query or plaintext).
 */
import { CloseCode } from '../close-codes.js';
import { VollyError } from '../errors.js';
import { CloseCodeV2 } from './constants.js';

export type V2ErrorCode =
  | 'ERR_V2_HELLO'
  | 'ERR_V2_ALGORITHM'
  | 'ERR_V2_UNKNOWN_KEY'
  | 'ERR_V2_EARLY'
  | 'ERR_V2_STALE'
  | 'ERR_V2_REPLAY'
  | 'ERR_V2_REGISTER'
  | 'ERR_V2_TOO_LARGE'
  | 'ERR_V2_SERVER_HELLO'
  | 'ERR_V2_PROTOCOL'
  | 'ERR_V2_DOCUMENT';

const CLOSE: Record<V2ErrorCode, number> = {
  ERR_V2_HELLO: CloseCode.Malformed,
  ERR_V2_ALGORITHM: CloseCode.Refused,
  ERR_V2_UNKNOWN_KEY: CloseCodeV2.UnknownKey,
  ERR_V2_EARLY: CloseCode.Malformed,
  ERR_V2_STALE: CloseCodeV2.StaleClock,
  ERR_V2_REPLAY: CloseCodeV2.Replay,
  ERR_V2_REGISTER: CloseCodeV2.RegisterUnavailable,
  ERR_V2_TOO_LARGE: CloseCode.TooLarge,
  ERR_V2_SERVER_HELLO: CloseCode.Malformed,
  ERR_V2_PROTOCOL: CloseCode.Malformed,
  ERR_V2_DOCUMENT: CloseCode.Malformed,
};

export class V2Error extends VollyError {
  readonly code: V2ErrorCode;
  override readonly closeCode: number;
  constructor(code: V2ErrorCode, message: string) {
    super(message);
    this.code = code;
    this.closeCode = CLOSE[code];
  }
}
