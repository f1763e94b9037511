/**
 * ServerHello of volly-pq.v2, the first binary WebSocket message after the 101
 * (docs/PROTOCOL.md, "ServerHello"):
 *
 *   version (1) = 0x02 ‖ mode (1) ‖ ct_e ‖ ct_b (mode 0x01 only)
 *
 * mode 0x00: unbound token; mode 0x01: the token binds a client KEM key pk_b
 * and ct_b encapsulates to it. ct_e has the session algorithm's ciphertext
 * length, ct_b the bound key's (both ends know them), so the decoder is told
 * which lengths to expect and insists on them exactly.
 */
import { concatBytes } from '../bytes.js';
import type { KemAlgorithm } from '../kem/types.js';
import { KEM_SIZES, MODE_BOUND, MODE_UNBOUND, VERSION_V2 } from './constants.js';
import { Reader } from './wire.js';

export interface ServerHello {
  readonly ctE: Uint8Array;
  /** Present exactly when the token is bound. */
  readonly ctB?: Uint8Array;
}

export function encodeServerHello(h: ServerHello): Uint8Array {
  return h.ctB === undefined ? concatBytes(Uint8Array.of(VERSION_V2, MODE_UNBOUND), h.ctE) : concatBytes(Uint8Array.of(VERSION_V2, MODE_BOUND), h.ctE, h.ctB);
}

/**
 * Strict decode. `bound` is the algorithm of the client's bound key when its
 * token is bound, undefined otherwise. Mode 0x01 needs `bound`; mode 0x00 is
 * always readable, because a server refusing a bound session after opening
 * its early frame (stale clock, token refused) answers unbound: the client
 * then accepts nothing but a sealed error from it.
 */
export function decodeServerHello(bytes: Uint8Array, algorithm: KemAlgorithm, bound?: KemAlgorithm): ServerHello {
  const r = new Reader(bytes, 'ERR_V2_SERVER_HELLO', 'ServerHello');
  const version = r.u8('version');
  if (version !== VERSION_V2) r.fail(`version 0x${version.toString(16).padStart(2, '0')} is not 0x02`);
  const mode = r.u8('mode');
  if (mode !== MODE_UNBOUND && mode !== MODE_BOUND) r.fail(`unknown mode 0x${mode.toString(16).padStart(2, '0')}`);
  if (mode === MODE_BOUND && bound === undefined) r.fail('bound mode for a client whose token is not bound');
  const ctE = r.take(KEM_SIZES[algorithm].ciphertext, 'ct_e');
  const ctB = mode === MODE_BOUND && bound !== undefined ? r.take(KEM_SIZES[bound].ciphertext, 'ct_b') : undefined;
  r.end();
  return ctB === undefined ? { ctE } : { ctE, ctB };
}
