/**
 * RFC 6455 §5.5: a control frame carries at most 125 payload bytes, two of
 * which are the close code, so a close reason is at most 123 UTF-8 bytes.
 * `ws` and browsers throw (SyntaxError / RangeError) on a longer reason, and a
 * throw inside a timer or close listener takes the process down; every close
 * reason this library or the proxy sends goes through `closeReason`.
 */
export const MAX_CLOSE_REASON_BYTES = 123;

/** UTF-8 length of one code point; a lone surrogate counts as U+FFFD (3 bytes), which is what encoders send for it. */
const utf8Length = (cp: number): number => (cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4);

/**
 * `reason` cut to at most 123 UTF-8 bytes, at a code point boundary: a
 * surrogate pair is kept whole or dropped whole, never split. Lone surrogates
 * become U+FFFD, so the byte count is exactly what goes on the wire.
 */
export function closeReason(reason: string): string {
  let bytes = 0;
  let out = '';
  // for…of walks code points: a surrogate pair is one step, a lone surrogate one too.
  for (const ch of reason) {
    const cp = ch.codePointAt(0) as number;
    const lone = cp >= 0xd800 && cp <= 0xdfff;
    bytes += utf8Length(cp);
    if (bytes > MAX_CLOSE_REASON_BYTES) break;
    out += lone ? '\ufffd' : ch;
  }
  return out;
}
