/**
 * Token redaction for response bodies streamed from LiveKit. LiveKit quotes
 * tokens in its 401 bodies ("invalid token: <jwt>, error: ...") and can
 * carry upstream-signed ones elsewhere; none may reach the client.
 *
 * It replaces what `redactTokens` (shared/src/bytes.ts) replaces — `eyJ` plus
 * 4+ base64url characters, a dot, 4+, a dot, 4+ — but in linear time: the
 * regular expression backtracks over a long run of base64url characters once
 * per `eyJ` in it, which a participant's metadata (quoted in Twirp replies)
 * could exploit. Bytes are handled as latin1 so binary (protobuf) bodies
 * pass through unchanged where nothing matches.
 */
import { Transform, type TransformCallback } from 'node:stream';

const isSegmentChar = (c: number): boolean => (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a) || c === 0x5f || c === 0x2d;
const isRunChar = (c: number): boolean => isSegmentChar(c) || c === 0x2e;

/** Redacts one maximal run of [A-Za-z0-9_.-]: segments split at dots. */
function redactRun(run: string): string {
  const seg = run.split('.');
  let out = '';
  let i = 0;
  while (i < seg.length) {
    const s = seg[i] as string;
    // The leftmost `eyJ` of a segment is the only start that can match in it (later ones leave fewer characters).
    const at = s.indexOf('eyJ');
    if (at >= 0 && s.length - at >= 7 && i + 2 < seg.length && (seg[i + 1] as string).length >= 4 && (seg[i + 2] as string).length >= 4) {
      out += `${s.slice(0, at)}[token]`;
      i += 3;
    } else {
      out += s;
      i += 1;
    }
    if (i < seg.length) out += '.';
  }
  return out;
}

/** `redactTokens` in linear time. */
export function redactLinear(text: string): string {
  let out = '';
  let i = 0;
  while (i < text.length) {
    let j = i;
    while (j < text.length && !isRunChar(text.charCodeAt(j))) j++;
    out += text.slice(i, j);
    let k = j;
    while (k < text.length && isRunChar(text.charCodeAt(k))) k++;
    if (k > j) out += redactRun(text.slice(j, k));
    i = k;
  }
  return out;
}

/** A run longer than this is redacted without waiting for its end (tokens the proxy accepts are at most 16 KiB). */
const MAX_CARRY = 64 * 1024;

/** Redacts tokens in a byte stream; a token split across chunks is held back until its run ends. */
export class TokenRedactor extends Transform {
  #carry = '';

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const text = this.#carry + chunk.toString('latin1');
    let cut = text.length;
    while (cut > 0 && isRunChar(text.charCodeAt(cut - 1))) cut--;
    if (text.length - cut > MAX_CARRY) cut = text.length;
    this.#carry = text.slice(cut);
    done(null, cut > 0 ? Buffer.from(redactLinear(text.slice(0, cut)), 'latin1') : undefined);
  }

  override _flush(done: TransformCallback): void {
    done(null, this.#carry ? Buffer.from(redactLinear(this.#carry), 'latin1') : undefined);
  }
}
