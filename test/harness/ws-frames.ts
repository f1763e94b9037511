// Reading WebSocket frames off a raw TCP stream, for tests that speak the
// wire protocol by hand (half-open attackers, hostile clients). Server frames
// are unmasked (RFC 6455 §5.1).

export interface RawFrame {
  readonly opcode: number;
  readonly payload: Buffer;
}

/** Takes one whole frame from the front of `buf`: the frame and what remains, or null when more bytes are needed. */
export function takeFrame(buf: Buffer): { frame: RawFrame; rest: Buffer } | null {
  if (buf.length < 2) return null;
  const opcode = (buf[0] as number) & 0x0f;
  let len = (buf[1] as number) & 0x7f;
  let off = 2;
  if (len === 126) {
    if (buf.length < 4) return null;
    len = buf.readUInt16BE(2);
    off = 4;
  } else if (len === 127) {
    if (buf.length < 10) return null;
    len = Number(buf.readBigUInt64BE(2));
    off = 10;
  }
  if (buf.length < off + len) return null;
  return { frame: { opcode, payload: buf.subarray(off, off + len) }, rest: buf.subarray(off + len) };
}

/** The close code of a close frame's payload (1005 when it carries none). */
export const closeCodeOf = (payload: Buffer): number => (payload.length >= 2 ? payload.readUInt16BE(0) : 1005);
