/**
 * The constants of volly-pq.v1 that client and proxy must agree on, in one
 * place (docs/PROTOCOL.md): the subprotocol and label, the URL parameter of
 * the token-bound session id, how session ids are made, which paths are
 * LiveKit signaling, and the KEM public-key lengths tokens are checked against.
 * Browser-safe: no node:* import.
 */
import { toBase64Url } from './bytes.js';
import { ML_KEM_768, X_WING } from './kem/checked.js';
import type { KemAlgorithm } from './kem/types.js';

/** The WebSocket subprotocol a PQ client offers and the proxy selects. */
export const SUBPROTOCOL = 'volly-pq.v1';

/**
 * The label every derivation of the protocol starts with (transcript hash,
 * HKDF info, the server-auth signature context). It is the subprotocol on
 * purpose: a v2 gets new keys by construction. schedule.ts's `PROTOCOL` is the
 * same string (shared/test/protocol.test.ts checks they never drift).
 */
export const PROTOCOL_LABEL = SUBPROTOCOL;

/** A label for one purpose: "volly-pq.v1 <purpose>". */
export const protocolLabel = (purpose: string): string => `${PROTOCOL_LABEL} ${purpose}`;

/**
 * Token-bound only: the session id the client chose, in the URL beside the
 * token. The server must use it, so a recorded pq_response replayed to a
 * client that reuses its bound key fails the session-id check instead of
 * re-deriving old keys (and reusing their nonces).
 */
export const SESSION_ID_PARAM = 'volly_sid';

/** Random bytes in a session id: 24 (192 bits), 32 base64url characters. */
export const SESSION_ID_BYTES = 24;

/** A fresh random session id: 24 bytes, 32 base64url characters. */
export const newSessionId = (randomBytes: (n: number) => Uint8Array): string => toBase64Url(randomBytes(SESSION_ID_BYTES));

/** True for LiveKit's signaling paths (`…/rtc`, `…/rtc/v1`). */
export const isSignalPath = (pathname: string): boolean => /\/rtc(\/v1)?\/?$/.test(pathname);
/**
 * True for LiveKit's agent worker path (`…/agent`): an agents worker registers
 * over a WebSocket there. LiveKit serves exactly `/agent`, no trailing slash.
 */
export const isAgentPath = (pathname: string): boolean => /\/agent$/.test(pathname);
/** True for every WebSocket path the proxy serves: signaling and the agent worker path. */
export const isUpgradePath = (pathname: string): boolean => isSignalPath(pathname) || isAgentPath(pathname);
/** True for LiveKit's validate paths (`…/rtc/validate`, `…/rtc/v1/validate`). */
export const isValidatePath = (pathname: string): boolean => /\/rtc(\/v1)?\/validate\/?$/.test(pathname);

/** Bytes of a KEM public key per algorithm, as the KEM module defines them (FIPS 203; the X-Wing draft). */
export const KEM_PUBLIC_KEY_LENGTH: Readonly<Record<KemAlgorithm, number>> = Object.freeze({
  'ML-KEM-768': ML_KEM_768.publicKeyLength,
  'X-Wing': X_WING.publicKeyLength,
});
