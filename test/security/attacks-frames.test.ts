// Attacks on volly-pq.v1 against the real proxy in front of the real LiveKit:
// huge frames and hostile protobuf. Each asserts what a user would see (the close code or HTTP status)
// and that nothing reached LiveKit (lib/attack-kit.ts). docs/THREAT-MODEL.md
// says what each shows.

import {
  CloseCode,
  clientHandshake,
  decodeControl,
  decodeResponse,
  encodeHandshake,
  FrameKind,
  FrameSealer,
  getKem,
  randomBytes,
  sealedChannel,
  toBase64Url,
} from '@volly/shared';
import { describe, expect, it } from 'vitest';
import { connectPq } from '../harness/pq-signal.ts';
import { openRawPq } from '../harness/raw-pq.ts';
import { aead, CAN_META, livekit, nothingReachesLiveKit, proxy, rawSocket, roomName, useAttackServers } from './lib/attack-kit.ts';
import { nestedMessages } from './lib/generators.ts';

useAttackServers();

describe('huge frames and hostile protobuf', () => {
  it('in the handshake: a frame over the limit closes 1009; 10,000 fields and deep nesting close 4400 before any key is made', async () => {
    const tenThousand = Buffer.alloc(20_000);
    for (let i = 0; i < 10_000; i++) {
      tenThousand[2 * i] = 0x08 + 8 * (i % 15);
      tenThousand[2 * i + 1] = i & 0x7f;
    }
    const cases: Array<[string, Buffer, number]> = [
      ['frame over the 1 MiB limit', Buffer.alloc(proxy.config.limits.maxFrameBytes + 1, 0x0a), CloseCode.TooLarge],
      ['10,000 fields', tenThousand, CloseCode.Malformed],
      ['2,000 nested messages in 4 KiB', Buffer.from(nestedMessages(1300)), CloseCode.Malformed],
      ['2,000 nested groups', Buffer.concat([Buffer.alloc(2000, 0x0b), Buffer.alloc(2000, 0x0c)]), CloseCode.Malformed],
      [
        'a real handshake with 1,500 unknown fields appended (over 4 KiB)',
        Buffer.concat([
          Buffer.from(encodeHandshake({ algorithm: 'ML-KEM-768', publicKey: getKem('ML-KEM-768').keygen().publicKey, sessionId: 'A'.repeat(22) })),
          tenThousand.subarray(0, 3000),
        ]),
        CloseCode.Malformed,
      ],
    ];
    await nothingReachesLiveKit('-', async () => {
      for (const [what, frame, code] of cases) {
        const s = await rawSocket();
        s.ws.send(frame);
        expect((await s.closed).code, what).toBe(code);
      }
    });
  });

  it('in the handshake: a public key of the right length that is no key (FIPS 203 modulus check, X25519 point of order 1) closes 4400, nothing dialed', async () => {
    const mlKem = getKem('ML-KEM-768').keygen().publicKey.slice();
    mlKem[0] = 0xff;
    mlKem[1] = (mlKem[1] ?? 0) | 0x0f; // first coefficient 4095 >= q
    const xWing = getKem('X-Wing').keygen().publicKey.slice();
    xWing.fill(0, 1184); // X25519 u = 0: every shared secret is all-zero
    const cases = [
      ['ML-KEM-768', mlKem],
      ['X-Wing', xWing],
    ] as const;
    await nothingReachesLiveKit('-', async () => {
      for (const [algorithm, publicKey] of cases) {
        const s = await rawSocket();
        s.ws.send(encodeHandshake({ algorithm, publicKey, sessionId: toBase64Url(randomBytes(18)) }));
        const closed = await s.closed;
        expect(closed.code, algorithm).toBe(CloseCode.Malformed);
        expect(closed.reason, algorithm).toBe(`${algorithm} public key is not a valid encapsulation key`);
      }
    });
  });

  it('sealed as the first frame: a 10,000-field or deeply nested VollyControl opens but carries no usable VollyConnect — 4401/4400, nothing dialed, the reason only sealed', async () => {
    const kem = getKem('ML-KEM-768');
    const kp = kem.keygen();
    for (const [plaintext, code, reason] of [
      // 10,000 varint fields: field 1 is VollyConnect, a message, so a varint there does not parse
      [hugeFields(10_000), CloseCode.Malformed, /not valid protobuf/],
      // 5,000 nested field-1 messages: a VollyConnect whose access_token is the nested bytes — not a token
      [nestedMessages(5000), CloseCode.Unauthorized, /not a JWT|too large|invalid/],
      [Buffer.concat([Buffer.alloc(20_000, 0x0b), Buffer.alloc(20_000, 0x0c)]), CloseCode.Malformed, /not valid protobuf/],
    ] as const) {
      const closed = await nothingReachesLiveKit('-', async () => {
        const s = await rawSocket();
        const sid = toBase64Url(randomBytes(18));
        s.ws.send(encodeHandshake({ algorithm: 'ML-KEM-768', publicKey: kp.publicKey, sessionId: sid }));
        const res = decodeResponse(await s.first);
        const ch = sealedChannel(clientHandshake(kem, kp, res, sid), 'client', aead);
        s.ws.send(ch.sealer.seal(FrameKind.Control, plaintext));
        const c = await s.closed;
        // The detail comes sealed (a VollyError after the pq_response); the unsealed close reason names only the code.
        const sealed = decodeControl(ch.opener.open(s.received[1] as Buffer).payload);
        return { ...c, sealed };
      });
      expect(closed.code).toBe(code);
      expect(closed.reason).toBe(code === CloseCode.Malformed ? 'Malformed' : 'Unauthorized');
      expect(closed.sealed).toMatchObject({ case: 'error', code });
      expect(closed.sealed.case === 'error' && closed.sealed.message).toMatch(reason);
    }
  });

  it('after the join: a frame over the limit closes 1009 and is not forwarded', async () => {
    const room = roomName('huge');
    const raw = await openRawPq(proxy.wsUrl, await proxy.token(room, 'huge', CAN_META));
    const code = await nothingReachesLiveKit('huge', async () => {
      raw.sendRaw(new FrameSealer(randomBytes(32), aead).seal(FrameKind.LiveKitBinary, new Uint8Array(proxy.config.limits.maxFrameBytes)));
      return (await raw.closed).code;
    });
    expect(code).toBe(CloseCode.TooLarge);
  });

  it('after the join: sealed but hostile LiveKit messages (10,000 fields, 5,000-deep nesting, 20,000 groups) are forwarded only because they open; LiveKit judges them and survives', async () => {
    const room = roomName('hostile');
    const hostile = [hugeFields(10_000), nestedMessages(5000), Buffer.concat([Buffer.alloc(20_000, 0x0b), Buffer.alloc(20_000, 0x0c)])];
    const outcomes: string[] = [];
    for (const [i, m] of hostile.entries()) {
      const raw = await openRawPq(proxy.wsUrl, await proxy.token(room, `hostile-${i}`, CAN_META));
      await nothingReachesLiveKit(
        `hostile-${i}`,
        async () => {
          raw.sendRaw(raw.session.seal(m));
          const closed = await Promise.race([raw.closed, new Promise<null>((r) => setTimeout(() => r(null), 1500))]);
          outcomes.push(closed ? `LiveKit closed ${closed.code}` : 'still open');
          if (!closed) raw.ws.close(1000);
          await raw.closed;
        },
        { frames: 1 },
      );
    }
    expect(outcomes).toHaveLength(3);
    // LiveKit is alive and serves a fresh, honest participant in the same room
    expect((await fetch(`${livekit.url}/`)).status).toBe(200);
    const after = await connectPq(proxy.wsUrl, await proxy.token(room, 'after-hostile', CAN_META));
    expect(after.join.participant?.identity).toBe('after-hostile');
    await after.close();
  });
});

function hugeFields(count: number): Buffer {
  const b = Buffer.alloc(count * 2);
  for (let i = 0; i < count; i++) {
    b[2 * i] = 0x08 + 8 * (i % 15);
    b[2 * i + 1] = i & 0x7f;
  }
  return b;
}
