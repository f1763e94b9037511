// Attacks on volly-pq.v1 against the real proxy in front of the real LiveKit:
// replayed, reordered, dropped, duplicated and spliced sealed frames. Each asserts what a user would see — the close code or HTTP
// status — and that nothing reached LiveKit (lib/attack-kit.ts).
// docs/THREAT-MODEL.md says what each shows.

import { CloseCode, decodeResponse, getKem } from '@volly/shared';
import { describe, expect, it } from 'vitest';
import { liveKitSessions } from '../harness/leaks.ts';
import { startMitm } from '../harness/mitm.ts';
import { connectPq, PqConnectError } from '../harness/pq-signal.ts';
import { openRawPq } from '../harness/raw-pq.ts';
import {
  CAN_META,
  failure,
  livekit,
  meta,
  nothingReachesLiveKit,
  observer,
  participants,
  proxy,
  rawSocket,
  roomName,
  sealMeta,
  useAttackServers,
} from './lib/attack-kit.ts';

useAttackServers();

describe('replay of a recorded session', () => {
  it('in-band: the same handshake gets a fresh encapsulation, so the recorded VollyConnect fails to open (4400) and LiveKit sees one join only', async () => {
    const room = roomName('replay');
    const raw = await openRawPq(proxy.wsUrl, await proxy.token(room, 'replay-victim', CAN_META));
    raw.send(meta('original'));
    raw.ws.close(1000);
    await raw.closed;
    expect(liveKitSessions(livekit, 'replay-victim')).toBe(1);
    const { code, responses } = await nothingReachesLiveKit('replay-victim', async () => {
      const s = await rawSocket();
      s.ws.send(raw.sent[0] as Uint8Array); // the recorded pq_handshake: same key, same session id
      await s.first;
      for (const f of raw.sent.slice(1)) s.ws.send(f); // VollyConnect, then the sealed metadata update
      return { code: (await s.closed).code, responses: s.received };
    });
    expect(code).toBe(CloseCode.Malformed);
    // The proxy answered the replayed hello with a new ciphertext: the recorded keys are not the new ones.
    const old = decodeResponse(raw.received[0] as Uint8Array);
    const fresh = decodeResponse(responses[0] as Uint8Array);
    expect(fresh.success && fresh.sessionId === old.sessionId).toBe(true);
    expect(Buffer.from(fresh.ciphertext).equals(Buffer.from(old.ciphertext))).toBe(false);
    expect(await participants(room)).toEqual([]);
  });

  it('token-bound: the recorded URL (token and volly_sid) and frames replayed — 4400, nothing reaches LiveKit', async () => {
    const room = roomName('replay-tb');
    const kp = getKem('X-Wing').keygen();
    const raw = await openRawPq(proxy.wsUrl, await proxy.token(room, 'replay-tb', { ...CAN_META, bind: { algorithm: 'X-Wing', publicKey: kp.publicKey } }), {
      algorithm: 'X-Wing',
      keyPair: kp,
    });
    raw.send(meta('original'));
    const url = new URL(raw.ws.url);
    raw.ws.close(1000);
    await raw.closed;
    const code = await nothingReachesLiveKit('replay-tb', async () => {
      const s = await rawSocket(url.pathname + url.search);
      await s.first;
      for (const f of raw.sent) s.ws.send(f);
      return (await s.closed).code;
    });
    expect(code).toBe(CloseCode.Malformed);
  });

  it('a recorded pq_response replayed to a token-bound client by a relay: the client refuses it (session id) before it seals anything', async () => {
    const room = roomName('replay-client');
    const kp = getKem('ML-KEM-768').keygen();
    const t = await proxy.token(room, 'replay-client', { ...CAN_META, bind: { algorithm: 'ML-KEM-768', publicKey: kp.publicKey } });
    const first = await openRawPq(proxy.wsUrl, t, { keyPair: kp });
    const recorded = Buffer.from(first.received[0] as Uint8Array);
    first.ws.close(1000);
    await first.closed;
    // The relay answers the next connection with the recorded response instead of the proxy's.
    const mitm = await startMitm(proxy.wsUrl, { toClient: (d, i) => (i === 0 ? recorded : d) });
    try {
      const e = await nothingReachesLiveKit('replay-client', () => failure(connectPq(mitm.wsUrl, t, { keyPairs: [kp] })));
      expect(e.code).toBe(CloseCode.Malformed);
      expect(e.failure?.message).toMatch(/another session_id/);
      // the client sent nothing after the (replayed) response: no sealed frame at all
      expect(mitm.seen.toServer).toHaveLength(0);
    } finally {
      await mitm.close();
    }
  });
});

// ---- order ----------------------------------------------------------------------

describe('reordered, dropped, duplicated and spliced sealed frames', () => {
  async function joined(room: string, identity: string) {
    const obs = await observer(room);
    const raw = await openRawPq(proxy.wsUrl, await proxy.token(room, identity, CAN_META));
    return { obs, raw };
  }
  const settle = () => new Promise((r) => setTimeout(r, 1000));

  it('reordered (frame 1 before frame 0): 4400, neither update reaches LiveKit', async () => {
    const room = roomName('reorder');
    const { obs, raw } = await joined(room, 'reorder');
    const code = await nothingReachesLiveKit('reorder', async () => {
      const a = sealMeta(raw, 'reorder-first');
      const b = sealMeta(raw, 'reorder-second');
      raw.sendRaw(b);
      raw.sendRaw(a);
      return (await raw.closed).code;
    });
    expect(code).toBe(CloseCode.Malformed);
    await settle();
    expect(obs.metadata().filter((m) => m.startsWith('reorder'))).toEqual([]);
    await obs.sig.close();
  });

  it('dropped (frame 0 never sent): frame 1 fails to open, 4400, nothing reaches LiveKit', async () => {
    const room = roomName('drop');
    const { obs, raw } = await joined(room, 'drop');
    const code = await nothingReachesLiveKit('drop', async () => {
      sealMeta(raw, 'drop-lost');
      raw.sendRaw(sealMeta(raw, 'drop-next'));
      return (await raw.closed).code;
    });
    expect(code).toBe(CloseCode.Malformed);
    await settle();
    expect(obs.metadata().filter((m) => m.startsWith('drop'))).toEqual([]);
    await obs.sig.close();
  });

  it('duplicated: the first copy is forwarded once, the copy ends the session with 4400', async () => {
    const room = roomName('dup');
    const { obs, raw } = await joined(room, 'dup');
    const code = await nothingReachesLiveKit(
      'dup',
      async () => {
        const a = sealMeta(raw, 'dup-once');
        raw.sendRaw(a);
        raw.sendRaw(a);
        return (await raw.closed).code;
      },
      { frames: 1 },
    );
    expect(code).toBe(CloseCode.Malformed);
    await settle();
    expect(obs.metadata().filter((m) => m === 'dup-once').length).toBeGreaterThanOrEqual(1);
    await obs.sig.close();
  });

  it('a frame of session A spliced into session B: B ends with 4400, A goes on unharmed', async () => {
    const room = roomName('splice');
    const obs = await observer(room);
    const a = await openRawPq(proxy.wsUrl, await proxy.token(room, 'splice-a', CAN_META));
    const b = await openRawPq(proxy.wsUrl, await proxy.token(room, 'splice-b', CAN_META), { algorithm: 'X-Wing' });
    a.send(meta('from-a'));
    const code = await nothingReachesLiveKit('splice-b', async () => {
      b.sendRaw(a.sent[a.sent.length - 1] as Uint8Array); // A's sealed update, at B's next counter
      return (await b.closed).code;
    });
    expect(code).toBe(CloseCode.Malformed);
    a.send({ case: 'ping', value: 42n });
    await a.waitFor((m) => m.message.case === 'pong');
    await settle();
    expect(obs.metadata()).toContain('from-a');
    expect(await participants(room)).toEqual(['splice-a:from-a']);
    a.ws.close(1000);
    await obs.sig.close();
  });

  it('proxy → client: a relay that duplicates or drops a sealed frame makes the client fail the session', async () => {
    const room = roomName('s2c');
    for (const [what, rewrite] of [
      ['duplicate the JoinResponse', (d: Buffer, i: number) => (i === 1 ? [d, d] : d)],
      ['drop the JoinResponse', (d: Buffer, i: number) => (i === 1 ? null : d)],
    ] as const) {
      const mitm = await startMitm(proxy.wsUrl, { toClient: rewrite });
      try {
        const sig = await connectPq(mitm.wsUrl, await proxy.token(room, `s2c-${what.length}`, CAN_META)).catch((e: unknown) => e);
        if (sig instanceof PqConnectError) {
          expect(sig.code, what).toBe(CloseCode.Malformed); // the dropped join: the next frame fails to open
        } else {
          // the first copy opened; the duplicate fails to open and the client closes 4400
          const s = sig as Awaited<ReturnType<typeof connectPq>>;
          expect((await s.closed).code, what).toBe(CloseCode.Malformed);
          expect(s.ws.failure?.message, what).toMatch(/failed authentication/);
        }
      } finally {
        await mitm.close();
      }
    }
  });
});

// ---- algorithm and key substitution --------------------------------------------------

/** A pq_response with its algorithm field rewritten, the rest as the proxy sent it. */
