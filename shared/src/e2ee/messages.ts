/**
 * The two volly-e2ee.v1 data messages (docs/E2EE.md section 6), told apart by
 * their first byte: announce (0x01 ‖ flags ‖ statement) and key share (0x02 ‖ ...).
 */
import { concatBytes } from '../bytes.js';
import { ANNOUNCE_REPLY_WANTED, MSG_ANNOUNCE, MSG_SHARE } from './constants.js';
import { E2eeError } from './errors.js';

export type E2eeMessage =
  | { readonly type: 'announce'; readonly replyWanted: boolean; readonly statement: Uint8Array }
  | { readonly type: 'share'; readonly bytes: Uint8Array };

export function encodeAnnounce(statement: Uint8Array, replyWanted: boolean): Uint8Array {
  return concatBytes(Uint8Array.of(MSG_ANNOUNCE, replyWanted ? ANNOUNCE_REPLY_WANTED : 0), statement);
}

/** Splits a message by type; the statement or share inside is decoded (and checked) by its own module. */
export function decodeE2eeMessage(bytes: Uint8Array): E2eeMessage {
  if (!(bytes instanceof Uint8Array) || bytes.length < 2) throw new E2eeError('ERR_E2EE_FORMAT', 'message too short');
  if (bytes[0] === MSG_SHARE) return { type: 'share', bytes };
  if (bytes[0] !== MSG_ANNOUNCE) throw new E2eeError('ERR_E2EE_FORMAT', 'unknown message type');
  const flags = bytes[1] as number;
  if ((flags & ~ANNOUNCE_REPLY_WANTED) !== 0) throw new E2eeError('ERR_E2EE_FORMAT', 'unknown announce flags');
  return { type: 'announce', replyWanted: flags === ANNOUNCE_REPLY_WANTED, statement: bytes.subarray(2) };
}
