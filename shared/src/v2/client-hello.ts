/**
 * ClientHello of volly-pq.v2, a fixed layout (docs/PROTOCOL.md, "ClientHello"):
 *
 *   version (1) = 0x02 ‖ algorithm code (1) ‖ key_id (16) ‖ session_id (16) ‖ ct_s ‖ pk_e
 *
 * ct_s and pk_e have the algorithm's fixed lengths, so the total length is
 * fixed per algorithm (ML-KEM-768 2306 bytes, X-Wing 2370) and checked
 * exactly: nothing trails, nothing is optional.
 */
import { concatBytes } from '../bytes.js';
import type { KemAlgorithm } from '../kem/types.js';
import { ALGORITHM_BY_CODE, ALGORITHM_CODE, KEM_SIZES, KEY_ID_LENGTH, SESSION_ID_LENGTH, VERSION_V2 } from './constants.js';
import { V2Error } from './errors.js';
import { Reader } from './wire.js';

export interface ClientHello {
  readonly algorithm: KemAlgorithm;
  /** Which server static key ct_s encapsulates to. */
  readonly keyId: Uint8Array;
  /** 16 random bytes, fresh per attempt: the single-use register's key. */
  readonly sessionId: Uint8Array;
  /** Encapsulation to the server's static key. */
  readonly ctS: Uint8Array;
  /** The client's fresh ephemeral public key (same algorithm). */
  readonly pkE: Uint8Array;
}

export const clientHelloLength = (algorithm: KemAlgorithm): number =>
  2 + KEY_ID_LENGTH + SESSION_ID_LENGTH + KEM_SIZES[algorithm].ciphertext + KEM_SIZES[algorithm].publicKey;

function checkLength(field: string, b: Uint8Array, n: number): void {
  if (b.length !== n) throw new V2Error('ERR_V2_HELLO', `ClientHello ${field} must be ${n} bytes, got ${b.length}`);
}

export function encodeClientHello(h: ClientHello): Uint8Array {
  const sizes = KEM_SIZES[h.algorithm];
  checkLength('key_id', h.keyId, KEY_ID_LENGTH);
  checkLength('session_id', h.sessionId, SESSION_ID_LENGTH);
  checkLength('ct_s', h.ctS, sizes.ciphertext);
  checkLength('pk_e', h.pkE, sizes.publicKey);
  return concatBytes(Uint8Array.of(VERSION_V2, ALGORITHM_CODE[h.algorithm]), h.keyId, h.sessionId, h.ctS, h.pkE);
}

/** Strict decode. An unknown algorithm code is ERR_V2_ALGORITHM (4403); any other defect ERR_V2_HELLO (4400). */
export function decodeClientHello(bytes: Uint8Array): ClientHello {
  const r = new Reader(bytes, 'ERR_V2_HELLO', 'ClientHello');
  const version = r.u8('version');
  if (version !== VERSION_V2) r.fail(`version 0x${version.toString(16).padStart(2, '0')} is not 0x02`);
  const code = r.u8('algorithm');
  const algorithm = ALGORITHM_BY_CODE[code];
  if (algorithm === undefined) throw new V2Error('ERR_V2_ALGORITHM', `ClientHello algorithm code 0x${code.toString(16).padStart(2, '0')} is unknown`);
  if (bytes.length !== clientHelloLength(algorithm)) r.fail(`${algorithm} ClientHello must be ${clientHelloLength(algorithm)} bytes, got ${bytes.length}`);
  const sizes = KEM_SIZES[algorithm];
  const hello = {
    algorithm,
    keyId: r.take(KEY_ID_LENGTH, 'key_id'),
    sessionId: r.take(SESSION_ID_LENGTH, 'session_id'),
    ctS: r.take(sizes.ciphertext, 'ct_s'),
    pkE: r.take(sizes.publicKey, 'pk_e'),
  };
  r.end();
  return hello;
}
