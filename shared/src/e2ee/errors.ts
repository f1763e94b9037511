/**
 * Why a volly-e2ee.v1 message was refused (docs/E2EE.md). The code is what the
 * app sees in `statement-rejected` events and counters; the message names the
 * field that was wrong, never its bytes.
 */
import { VollyError } from '../errors.js';

export type E2eeErrorCode =
  /** Does not decode: length, magic, unknown code, trailing bytes. */
  | 'ERR_E2EE_FORMAT'
  /** Signature does not verify (app key on a statement, sender key on a share). */
  | 'ERR_E2EE_SIGNATURE'
  /** Room, context or identity differ from what the receiver expects. */
  | 'ERR_E2EE_BINDING'
  /** Statement not yet valid or expired. */
  | 'ERR_E2EE_EXPIRED'
  /** KEM algorithm not the receiver's, or key index does not match the generation. */
  | 'ERR_E2EE_ALGORITHM'
  /** A share whose generation is not newer than the last accepted one. */
  | 'ERR_E2EE_REPLAY'
  /** The sealed media key does not open. */
  | 'ERR_E2EE_AUTH'
  /** A share from a participant without a verified statement. */
  | 'ERR_E2EE_UNKNOWN_SENDER'
  /** The Room or its key provider is not set up as enablePqE2ee needs. */
  | 'ERR_E2EE_CONFIG';

export class E2eeError extends VollyError {
  readonly code: E2eeErrorCode;
  constructor(code: E2eeErrorCode, message: string) {
    super(message);
    this.code = code;
  }
}
