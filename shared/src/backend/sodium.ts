/**
 * sodium-native (libsodium), an optional native dependency, loaded once:
 * `loadSodium()` is undefined when it is not installed, does not load on this
 * platform, or lacks a function used here. Only the functions this package
 * calls are typed (sodium-native ships no types). sodium-native 5 takes any
 * typed-array view and throws on a non-zero libsodium status.
 * Node only (createRequire); never imported by the browser backend.
 */
import { createRequire } from 'node:module';

export interface Sodium {
  crypto_aead_chacha20poly1305_ietf_encrypt(c: Uint8Array, m: Uint8Array, ad: Uint8Array | null, nsec: null, npub: Uint8Array, k: Uint8Array): number;
  crypto_aead_chacha20poly1305_ietf_decrypt(m: Uint8Array, nsec: null, c: Uint8Array, ad: Uint8Array | null, npub: Uint8Array, k: Uint8Array): number;
  /** q = X25519(n, 9); n is clamped by libsodium. */
  crypto_scalarmult_base(q: Uint8Array, n: Uint8Array): void;
  /** q = X25519(n, p); throws when p has small order or q is all-zero. */
  crypto_scalarmult(q: Uint8Array, n: Uint8Array, p: Uint8Array): void;
}

const USED = [
  'crypto_aead_chacha20poly1305_ietf_encrypt',
  'crypto_aead_chacha20poly1305_ietf_decrypt',
  'crypto_scalarmult_base',
  'crypto_scalarmult',
] as const satisfies readonly (keyof Sodium)[];

let loaded: Sodium | null | undefined;

export function loadSodium(): Sodium | undefined {
  if (loaded === undefined) {
    try {
      const sodium = createRequire(import.meta.url)('sodium-native') as Record<string, unknown>;
      loaded = USED.every((name) => typeof sodium[name] === 'function') ? (sodium as unknown as Sodium) : null;
    } catch {
      loaded = null;
    }
  }
  return loaded ?? undefined;
}
