// What the hostile "proxy" does with one tunnel dial (fuzz-tunnel-server-fake.ts),
// chosen per input: refuse the upgrade with a fuzzed status, headers and
// body; answer 101 wrongly (bad accept key, a subprotocol nobody offered);
// answer 101 properly and then send junk (random bytes, frames of every
// opcode, oversized claims, close frames with odd codes and token-shaped
// reasons); or relay to the real proxy and tamper with one of its frames (a
// MITM on the tunnel→proxy link). Every string it makes up carries MARK, so
// the SDK side can tell unsealed text that the tunnel passed on.

import { frame } from './fuzz-tunnel-frames.ts';
import type { Prng } from './mutate.ts';

export const MARK = 'FZ-UNSEALED';
/** A token-shaped string the fake puts in bodies and reasons: no log line may hold it unredacted. */
export const FAKE_TOKEN = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJmei1mYWtlIn0.RlotRkFLRS1TSUdOQVRVUkUtbm90LXJlYWwtYXQtYWxs';

export type Tamper = 'flip' | 'truncate' | 'append' | 'drop' | 'duplicate' | 'replay' | 'random' | 'text';

export type ServerPlan =
  | { kind: 'status'; status: number; headers: string[]; body: Buffer; close: 'end' | 'destroy' | 'short' }
  | { kind: 'bad-101'; headers: string[]; tail: Buffer }
  | { kind: 'junk'; frames: Buffer[]; end: 'end' | 'destroy' | 'stay' }
  | { kind: 'mitm'; at: number; tamper: Tamper };

const STATUSES = [100, 102, 200, 204, 301, 302, 304, 400, 401, 403, 404, 408, 409, 426, 429, 431, 500, 502, 503, 504, 599, 999];

function junkBytes(r: Prng, max: number): Buffer {
  return Buffer.from(Array.from({ length: r.int(max + 1) }, () => r.int(256)));
}

function text(r: Prng): string {
  return r.pick([MARK, `${MARK} ${FAKE_TOKEN}`, `{"error":"${MARK}","token":"${FAKE_TOKEN}"}`, `${MARK} ${'x'.repeat(500)}`, `${MARK} é😀\u202e`]);
}

function statusPlan(r: Prng): ServerPlan {
  const bodyKind = r.int(5);
  const body =
    bodyKind === 0
      ? Buffer.alloc(0)
      : bodyKind === 1
        ? Buffer.from(text(r))
        : bodyKind === 2
          ? Buffer.alloc(2 * 1024 * 1024 + r.int(1000), 'A')
          : bodyKind === 3
            ? Buffer.concat([Buffer.from(MARK), junkBytes(r, 400)])
            : Buffer.from(`${MARK}\r\n\r\nHTTP/1.1 101 Switching Protocols\r\n\r\n`);
  const headers = [
    ...(r.chance(0.8) ? [`Content-Length: ${r.chance(0.8) ? body.length : r.pick([0, 1, body.length + 100, -1])}`] : []),
    ...(r.chance(0.3) ? [`X-Reason: ${MARK} ${FAKE_TOKEN}`] : []),
    ...(r.chance(0.2) ? ['Location: http://127.0.0.1:1/elsewhere'] : []),
    ...(r.chance(0.2) ? ['Upgrade: websocket', 'Connection: Upgrade'] : []),
    ...(r.chance(0.1) ? [`Set-Cookie: ${MARK}=1`] : []),
  ];
  return { kind: 'status', status: r.pick(STATUSES), headers, body, close: r.pick(['end', 'end', 'destroy', 'short']) };
}

function junkFrame(r: Prng): Buffer {
  const o = { masked: false };
  switch (r.int(9)) {
    case 0:
      return junkBytes(r, 200);
    case 1:
      return frame(2, junkBytes(r, 2000), o);
    case 2:
      return frame(1, Buffer.from(text(r)), o);
    case 3: {
      const code = r.pick([1000, 1001, 1002, 1005, 1006, 1011, 1015, 3000, 4000, 4400, 4401, 4403, 4408, 4421, 4502, 4999, 5000, 0]);
      const reason = Buffer.from(text(r)).subarray(0, 120);
      return frame(8, Buffer.concat([Buffer.from([code >> 8, code & 0xff]), reason]), o);
    }
    case 4:
      return frame(2, junkBytes(r, 20), { masked: false, claim: r.pick([17n << 20n, 1n << 62n]) });
    case 5:
      return frame(r.pick([0, 3, 9, 10, 11, 15]), junkBytes(r, 100), o);
    case 6:
      return frame(2, junkBytes(r, 50), { masked: true });
    case 7:
      return frame(1, Buffer.from([0xc3, 0x28]), o);
    default:
      // a truncated frame: the header promises more than follows
      return frame(2, junkBytes(r, 30), { masked: false, claim: 500n }).subarray(0, 12);
  }
}

export function serverPlan(r: Prng): ServerPlan {
  const k = r.int(100);
  if (k < 25) return statusPlan(r);
  if (k < 35) {
    const headers = r.pick([
      ['Upgrade: websocket', 'Connection: Upgrade'],
      ['Upgrade: websocket', 'Connection: Upgrade', 'Sec-WebSocket-Accept: AAAAAAAAAAAAAAAAAAAAAAAAAAA='],
      ['Upgrade: h2c', 'Connection: Upgrade', 'ACCEPT'],
      ['Upgrade: websocket', 'Connection: Upgrade', 'ACCEPT', `Sec-WebSocket-Protocol: ${MARK}`],
      ['Upgrade: websocket', 'Connection: Upgrade', 'ACCEPT', 'Sec-WebSocket-Extensions: permessage-deflate'],
    ]);
    return { kind: 'bad-101', headers, tail: r.chance(0.5) ? junkFrame(r) : Buffer.alloc(0) };
  }
  if (k < 65) return { kind: 'junk', frames: Array.from({ length: 1 + r.int(4) }, () => junkFrame(r)), end: r.pick(['end', 'destroy', 'stay']) };
  return { kind: 'mitm', at: r.int(6), tamper: r.pick<Tamper>(['flip', 'truncate', 'append', 'drop', 'duplicate', 'replay', 'random', 'text']) };
}
