/**
 * Random bytes from the platform CSPRNG: WebCrypto `getRandomValues`, present
 * as `globalThis.crypto` in every browser and in Node >= 19. Browser-safe (no
 * node:* import), so both backends export this one function.
 */

/** WebCrypto refuses more than 65536 bytes per getRandomValues call. */
const MAX_PER_CALL = 65_536;

export function randomBytes(n: number): Uint8Array {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError('randomBytes: length must be a non-negative integer');
  const out = new Uint8Array(n);
  for (let i = 0; i < n; i += MAX_PER_CALL) crypto.getRandomValues(out.subarray(i, Math.min(n, i + MAX_PER_CALL)));
  return out;
}
