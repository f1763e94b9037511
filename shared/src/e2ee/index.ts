/**
 * volly-e2ee.v1 (docs/E2EE.md): post-quantum end-to-end media keys for
 * livekit-client. `bindE2ee(backends)` gives the API with a crypto backend
 * bound; ../index.ts and ../browser.ts export it bound to theirs.
 */

import type { KemAlgorithm } from '../kem/types.js';
import type { E2eeBackends } from './backends.js';
import { decodeKeyShare, type OpenInput, openKeyShare, type SealInput, type ShareFields, sealKeyShare } from './key-share.js';
import { makeParticipantKeys, type SignE2eeStatementInput, signE2eeStatement } from './keys.js';
import { type EnablePqE2eeOptions, enablePqE2ee, type LiveKitRoomLike } from './livekit.js';
import { type StatementExpectation, type StatementFields, signStatement, verifyStatement } from './statement.js';

export type { E2eeBackends } from './backends.js';
export * from './constants.js';
export * from './errors.js';
export type { E2eeEventMap, E2eeEventName, E2eeMetrics } from './events.js';
export { type DecodedShare, decodeKeyShare, keyIndexOf, type ShareFields, shareAeadKey, shareHeader } from './key-share.js';
export { type ParticipantKeys, type SignE2eeStatementInput, type StatementRequest, statementRequest } from './keys.js';
export { type EnablePqE2eeOptions, type LiveKitRoomLike, PQ_KEY_PROVIDER_OPTIONS, type PqE2eeHandle } from './livekit.js';
export { decodeE2eeMessage, type E2eeMessage, encodeAnnounce } from './messages.js';
export { DEFAULT_REKEY_TIMINGS, RekeyPolicy, type RekeyTimings, type RotateReason } from './rekey.js';
export { E2eeSession, type E2eeSessionOptions, type E2eeTransport, type KeySink } from './session.js';
export { decodeStatement, encodeStatementBody, type Statement, type StatementExpectation, type StatementFields } from './statement.js';

/** The backend-bound API. */
export function bindE2ee(b: E2eeBackends) {
  return {
    makeParticipantKeys: (kemAlgorithm?: KemAlgorithm) => makeParticipantKeys(b, kemAlgorithm),
    signE2eeStatement: (input: SignE2eeStatementInput) => signE2eeStatement(b, input),
    signStatement: (appSecretKey: Uint8Array, fields: StatementFields) => signStatement(b, appSecretKey, fields),
    verifyStatement: (bytes: Uint8Array, expect: StatementExpectation) => verifyStatement(b, bytes, expect),
    sealKeyShare: (fields: ShareFields, input: SealInput) => sealKeyShare(b, fields, input),
    openKeyShare: (bytes: Uint8Array, input: OpenInput) => openKeyShare(b, decodeKeyShare(bytes), input),
    enablePqE2ee: (room: LiveKitRoomLike, opts: EnablePqE2eeOptions) => enablePqE2ee(b, room, opts),
    backends: b,
  };
}
export type BoundE2ee = ReturnType<typeof bindE2ee>;
