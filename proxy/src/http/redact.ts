/**
 * Token redaction for response bodies streamed from LiveKit. LiveKit quotes
 * tokens in its 401 bodies ("invalid token: <jwt>, error: ...") and can
 * carry upstream-signed ones elsewhere; none may reach the client. The
 * matching is shared's linear-time `redactTokens`; this module only carries a
 * token split across chunks. Bytes are handled as latin1 so binary (protobuf)
 * bodies pass through unchanged where nothing matches.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { isJwtRunChar, redactTokens } from '@volly/shared';

/** A run longer than this is redacted without waiting for its end (tokens the proxy accepts are at most 16 KiB). */
const MAX_CARRY = 64 * 1024;

/** Redacts tokens in a byte stream; a token split across chunks is held back until its run ends. */
export class TokenRedactor extends Transform {
  #carry = '';

  override _transform(chunk: Buffer, _enc: BufferEncoding, done: TransformCallback): void {
    const text = this.#carry + chunk.toString('latin1');
    let cut = text.length;
    while (cut > 0 && isJwtRunChar(text.charCodeAt(cut - 1))) cut--;
    if (text.length - cut > MAX_CARRY) cut = text.length;
    this.#carry = text.slice(cut);
    done(null, cut > 0 ? Buffer.from(redactTokens(text.slice(0, cut)), 'latin1') : undefined);
  }

  override _flush(done: TransformCallback): void {
    done(null, this.#carry ? Buffer.from(redactTokens(this.#carry), 'latin1') : undefined);
  }
}
