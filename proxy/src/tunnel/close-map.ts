/**
 * Close codes across the tunnel, so the SDK sees what it would see from
 * LiveKit: a code the proxy (LiveKit's, or the proxy's own 4xxx) closed with is
 * passed on with its reason; 1005/1006/1015 cannot be sent in a close frame, so
 * the SDK's socket is dropped without one, which is what the SDK would have
 * seen had LiveKit's connection dropped. Towards the proxy, the SDK's code is
 * passed on when a client may send it, else 1000.
 */
import { isSendableCloseCode } from '@volly/shared';

/** A close frame's reason is at most 123 bytes of UTF-8 (RFC 6455 §5.5). */
export function closeReasonBytes(reason: string, max = 123): string {
  const bytes = Buffer.from(reason, 'utf8');
  if (bytes.length <= max) return reason;
  // Cut on a character boundary: drop a trailing partial sequence.
  return bytes
    .subarray(0, max)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
}

export type SdkClose = { readonly type: 'close'; readonly code: number; readonly reason: string } | { readonly type: 'drop' };

/** How to end the SDK's socket after the proxy's side closed with `code`. */
export function sdkCloseFor(code: number, reason: string): SdkClose {
  if (!isSendableCloseCode(code, 'server')) return { type: 'drop' };
  return { type: 'close', code, reason: closeReasonBytes(reason) };
}

/** The code to close the PQ session with after the SDK closed with `code`. */
export const proxyCloseFor = (code: number): number => (isSendableCloseCode(code, 'client') ? code : 1000);
