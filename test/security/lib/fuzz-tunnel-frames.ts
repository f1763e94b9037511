// WebSocket frames an SDK (or anything on loopback) can send the tunnel after
// a successful upgrade: valid ones of every kind (text, binary, a LiveKit
// ping, fragmented, control), and protocol violations (invalid UTF-8, RSV
// bits, unmasked, reserved opcodes, oversized length claims, fragmented
// control frames, orphan continuations, bad close payloads), each with the
// close codes RFC 6455 allows the server to answer with.

import { SignalRequest } from '@livekit/protocol';
import type { Prng } from './mutate.ts';

export interface FrameSpec {
  readonly label: string;
  readonly bytes: Buffer;
  /** Close codes the tunnel may answer with; undefined: the frames are valid (any defined outcome). */
  readonly expect?: readonly number[];
}

interface FrameOpts {
  fin?: boolean;
  rsv?: number;
  masked?: boolean;
  /** A length claim other than the payload's. */
  claim?: bigint;
}

/** One client frame (masked with a random key unless `masked: false`). */
export function frame(opcode: number, payload: Buffer, o: FrameOpts = {}): Buffer {
  const masked = o.masked ?? true;
  const n = o.claim ?? BigInt(payload.length);
  const ext = n < 126n ? 0 : n < 65536n ? 2 : 8;
  const head = Buffer.alloc(2 + ext + (masked ? 4 : 0));
  head[0] = ((o.fin ?? true) ? 0x80 : 0) | ((o.rsv ?? 0) << 4) | opcode;
  head[1] = (masked ? 0x80 : 0) | (ext === 0 ? Number(n) : ext === 2 ? 126 : 127);
  if (ext === 2) head.writeUInt16BE(Number(n), 2);
  if (ext === 8) head.writeBigUInt64BE(n, 2);
  if (!masked) return Buffer.concat([head, payload]);
  const key = Buffer.from([0x13, 0x57, 0x9b, 0xdf]);
  key.copy(head, 2 + ext);
  const body = Buffer.from(payload);
  for (let i = 0; i < body.length; i++) body[i] = (body[i] as number) ^ (key[i % 4] as number);
  return Buffer.concat([head, body]);
}

const bytes = (r: Prng, max: number) => Buffer.from(Array.from({ length: r.int(max + 1) }, () => r.int(256)));
const closePayload = (code: number, reason: Buffer = Buffer.alloc(0)) => Buffer.concat([Buffer.from([code >> 8, code & 0xff]), reason]);
const ping = () => Buffer.from(new SignalRequest({ message: { case: 'pingReq', value: { timestamp: BigInt(Date.now()), rtt: 0n } } }).toBinary());

const PROTOCOL = [1002];
const BAD_UTF8 = [
  Buffer.from([0xc3, 0x28]),
  Buffer.from([0xed, 0xa0, 0x80]),
  Buffer.from([0xff]),
  Buffer.from([0xf4, 0x90, 0x80, 0x80]),
  Buffer.from('ok\xe2\x82', 'latin1'),
];

/** A valid LiveKit-ish frame or a violation, chosen by `r`. */
export function frameSpec(r: Prng): FrameSpec {
  switch (r.int(20)) {
    case 0:
      return { label: 'text', bytes: frame(1, Buffer.from(r.pick(['{}', '{"ping":1}', 'x'.repeat(r.int(2000)), 'é😀', '']), 'utf8')) };
    case 1:
    case 2:
      return { label: 'binary-random', bytes: frame(2, bytes(r, 300)) };
    case 3:
      return { label: 'livekit-ping', bytes: frame(2, ping()) };
    case 4: {
      const p = ping();
      return { label: 'fragmented-valid', bytes: Buffer.concat([frame(2, p.subarray(0, 3), { fin: false }), frame(0, p.subarray(3))]) };
    }
    case 5:
      return { label: 'burst', bytes: Buffer.concat(Array.from({ length: 50 + r.int(200) }, () => frame(2, ping()))) };
    case 6:
      return { label: 'ping-pong-control', bytes: Buffer.concat([frame(9, bytes(r, 125)), frame(10, bytes(r, 125))]) };
    case 7:
      return { label: 'text-invalid-utf8', bytes: frame(1, r.pick(BAD_UTF8)), expect: [1007] };
    case 8:
      return { label: 'rsv-bits', bytes: frame(r.pick([1, 2]), bytes(r, 20), { rsv: 1 + r.int(7) }), expect: PROTOCOL };
    case 9:
      return { label: 'unmasked', bytes: frame(2, bytes(r, 20), { masked: false }), expect: PROTOCOL };
    case 10:
      return { label: 'reserved-opcode', bytes: frame(r.pick([3, 4, 5, 6, 7, 11, 12, 13, 14, 15]), bytes(r, 20)), expect: PROTOCOL };
    case 11:
      // a length claim over the 16 MiB limit (or one no 64-bit length allows): refused on the header alone
      return {
        label: 'oversized-claim',
        bytes: frame(2, bytes(r, 10), { claim: r.pick([17n << 20n, 1n << 40n, (1n << 63n) - 1n, 1n << 63n]) }),
        expect: [1009, 1002],
      };
    case 12:
      return { label: 'control-too-long', bytes: frame(r.pick([8, 9, 10]), Buffer.alloc(126 + r.int(50), 0x41)), expect: PROTOCOL };
    case 13:
      return { label: 'control-fragmented', bytes: frame(9, bytes(r, 10), { fin: false }), expect: PROTOCOL };
    case 14:
      return { label: 'orphan-continuation', bytes: frame(0, bytes(r, 20)), expect: PROTOCOL };
    case 15:
      return { label: 'interleaved-data', bytes: Buffer.concat([frame(1, Buffer.from('a'), { fin: false }), frame(2, Buffer.from('b'))]), expect: PROTOCOL };
    case 16:
      return { label: 'close-bad-code', bytes: frame(8, closePayload(r.pick([0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535]))), expect: PROTOCOL };
    case 17:
      return { label: 'close-bad-payload', bytes: frame(8, r.pick([Buffer.from([3]), closePayload(1000, Buffer.from([0xff, 0xfe]))])), expect: [1002, 1007] };
    case 18:
      // a valid close, code and reason as an app might send them: the tunnel closes back
      return { label: 'close-valid', bytes: frame(8, closePayload(r.pick([1000, 1001, 3000, 4000, 4999]), Buffer.from(r.pick(['', 'bye', 'é'.repeat(60)])))) };
    default:
      return { label: 'truncated', bytes: frame(2, bytes(r, 40), { claim: 1000n }).subarray(0, 20) };
  }
}
