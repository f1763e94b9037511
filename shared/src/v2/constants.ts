/**
 * Constants of volly-pq.v2 (docs/PROTOCOL.md, "volly-pq.v2"): names, labels,
 * wire codes, limits, and the close codes v2 adds to v1's (shared/src/close-codes.ts
 * keeps v1's; the new ones live here until that file takes them).
 */
import type { KemAlgorithm } from '../kem/types.js';

export const PROTOCOL_V2 = 'volly-pq.v2';
/** The subprotocol the server selects; the client offers it plus `HELLO_PROTOCOL_PREFIX + base64url(ClientHello)`. */
export const SUBPROTOCOL_V2 = PROTOCOL_V2;
export const HELLO_PROTOCOL_PREFIX = `${PROTOCOL_V2}.`;
/** The one URL query parameter of a v2 upgrade: base64url of the sealed early frame. */
export const EARLY_PARAM = 'volly_early';
/** Path of the well-known key document on the proxy's public listener. */
export const WELL_KNOWN_PATH = '/.well-known/volly-pq';

/** Version byte that opens ClientHello and ServerHello. */
export const VERSION_V2 = 0x02;

/** Algorithm codes in ClientHello (the transcript uses the name). */
export const ALGORITHM_CODE: Readonly<Record<KemAlgorithm, number>> = { 'ML-KEM-768': 0x01, 'X-Wing': 0x02 };
export const ALGORITHM_BY_CODE: Readonly<Record<number, KemAlgorithm>> = { 1: 'ML-KEM-768', 2: 'X-Wing' };

/** Fixed KEM sizes per algorithm (public key, ciphertext), as in v1's algorithm table. */
export const KEM_SIZES: Readonly<Record<KemAlgorithm, { readonly publicKey: number; readonly ciphertext: number }>> = {
  'ML-KEM-768': { publicKey: 1184, ciphertext: 1088 },
  'X-Wing': { publicKey: 1216, ciphertext: 1120 },
};

export const KEY_ID_LENGTH = 16;
export const SESSION_ID_LENGTH = 16;

/** ServerHello mode byte. */
export const MODE_UNBOUND = 0x00;
export const MODE_BOUND = 0x01;

/** Labels of the key schedule (ASCII). */
export const LABEL_KEY_ID = 'volly-pq.v2 key id';
export const INFO_EARLY = 'volly-pq.v2 early';
export const INFO_C2S = 'volly-pq.v2 c2s';
export const INFO_S2C = 'volly-pq.v2 s2c';

/** Default accepted clock difference between the client's sealed timestamp and the server's clock. */
export const TIMESTAMP_WINDOW_MS = 120_000;

/**
 * nginx `large_client_header_buffers 4 8k`: the request line and every header
 * line (each with its CRLF) must fit one 8192-byte buffer. The client refuses
 * a first flight that would not, instead of letting an ingress answer 414/400.
 */
export const MAX_HEADER_LINE = 8192;
/** Largest early frame plaintext a server accepts (bounds the work before anything is authenticated). */
export const MAX_EARLY_PLAINTEXT = 8192;

/**
 * Close codes v2 adds. Like v1's they mirror an HTTP status.
 * - UnknownKey (421 Misdirected Request): the key id names no key the server
 *   holds; the client refetches the well-known document and retries once.
 * - Replay (409 Conflict): the session id was already used.
 * - StaleClock (425 Too Early, RFC 8470's status for early data it will not
 *   risk): the sealed timestamp is outside the window; the server's time
 *   follows, sealed, so the client retries once with corrected time.
 * - RegisterUnavailable (503): the single-use register did not answer; the
 *   server fails closed rather than risk a replayed join.
 */
export const CloseCodeV2 = {
  UnknownKey: 4421,
  Replay: 4409,
  StaleClock: 4425,
  RegisterUnavailable: 4503,
} as const;
export type CloseCodeV2Value = (typeof CloseCodeV2)[keyof typeof CloseCodeV2];
