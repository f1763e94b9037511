// What the proxy guarantees in front of the real LiveKit: two sealed
// participants see each other's updates; classical clients follow the policy;
// wrong keys, flipped bits and LiveKit's refusals end the session with the
// documented close code and nothing reaches LiveKit; refreshed tokens come
// back client-facing and reconnect.

import { type ParticipantInfo, ParticipantInfo_State } from '@livekit/protocol';
import { ClientSession, CloseCode, getAead, getKem, hasPqClaims, newSessionId, randomBytes, toBase64Url } from '@volly/shared';
import { decodeJwt } from 'jose';
import { AccessToken, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricSum } from '../harness/metrics.ts';
import { connectPq, PqConnectError } from '../harness/pq-signal.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { openRawPq } from '../harness/raw-pq.ts';
import { connectSignal, encodeJoinRequest, SignalHttpError } from '../harness/signal.ts';
import { token } from '../harness/tokens.ts';

let livekit: LiveKitServer;
let proxy: TestProxy;
let strict: TestProxy;
let direct: RoomServiceClient;

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit);
  strict = await startTestProxy(livekit, { VOLLY_PQ_POLICY: 'require' });
  direct = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
});
afterAll(async () => {
  await proxy?.close();
  await strict?.close();
  await livekit?.stop();
});

let n = 0;
const roomName = (what: string) => `${what}-${++n}-${Date.now().toString(36)}`;

const listed = async (room: string) =>
  (await direct.listParticipants(room).catch(() => [])).filter((p) => p.state !== ParticipantInfo_State.DISCONNECTED).map((p) => p.identity);
const metricValue = async (p: TestProxy, name: string, labels: string) => metricSum(await p.metrics(), name, labels);
/** Tokens here may update their own metadata: the relay tests send updateMetadata. */
const CAN_META = { grant: { canUpdateOwnMetadata: true } };

describe('sealed sessions', () => {
  it('two participants in one room see each other and each other’s metadata updates', async () => {
    const room = roomName('pair');
    const alice = await connectPq(proxy.wsUrl, await token(proxy, room, 'alice', CAN_META));
    const bob = await connectPq(proxy.wsUrl, await token(proxy, room, 'bob', CAN_META), { algorithm: 'X-Wing' });
    expect(bob.join.otherParticipants.map((p) => p.identity)).toEqual(['alice']);
    alice.send({ case: 'updateMetadata', value: { metadata: 'hello from alice', name: 'Alice' } as never });
    const deadline = Date.now() + 10_000;
    let seen: ParticipantInfo | undefined;
    while (!seen && Date.now() < deadline) {
      const u = await bob.waitFor('update', deadline - Date.now());
      seen = u.participants.find((p) => p.identity === 'alice' && p.metadata === 'hello from alice');
    }
    expect(seen?.name).toBe('Alice');
    await alice.close();
    await bob.close();
  });

  it('a token bound to another key is refused with 4401 and LiveKit never sees the participant', async () => {
    const room = roomName('wrongkey');
    const holder = getKem('ML-KEM-768').keygen();
    const other = getKem('ML-KEM-768').keygen();
    const t = await token(proxy, room, 'mallory', { ...CAN_META, bind: { algorithm: 'ML-KEM-768', publicKey: holder.publicKey } });
    const dialsBefore = await metricValue(proxy, 'volly_upstream_dial_duration_seconds_count', 'mode="pq"');
    // The thief holds the token but not its key: token-bound with the wrong key fails to decapsulate...
    const e1 = await connectPq(proxy.wsUrl, t, { keyPairs: [{ publicKey: holder.publicKey, secretKey: other.secretKey }] }).catch((e) => e);
    expect(e1).toBeInstanceOf(PqConnectError);
    // ...and in-band with a fresh key is refused by the binding check.
    const e2 = await connectPq(proxy.wsUrl, t).catch((e) => e);
    expect(e2).toBeInstanceOf(PqConnectError);
    expect((e2 as PqConnectError).code).toBe(CloseCode.Unauthorized);
    expect((e2 as PqConnectError).reason).toMatch(/bound to another post-quantum key/);
    expect(await listed(room)).toEqual([]);
    expect(await metricValue(proxy, 'volly_upstream_dial_duration_seconds_count', 'mode="pq"')).toBe(dialsBefore);
  });

  it('a flipped bit in a sealed frame closes 4400 and nothing more reaches LiveKit', async () => {
    const room = roomName('flip');
    const bob = await connectPq(proxy.wsUrl, await token(proxy, room, 'bob', CAN_META));
    const eve = await openRawPq(proxy.wsUrl, await token(proxy, room, 'eve', CAN_META));
    const forwardedBefore = await metricValue(proxy, 'volly_frames_total', 'direction="client_to_upstream"');
    eve.send({ case: 'updateMetadata', value: { metadata: 'tampered' } as never }, (f) => {
      const g = f.slice();
      g[g.length - 20] ^= 0x01;
      return g;
    });
    expect((await eve.closed).code).toBe(CloseCode.Malformed);
    expect(await metricValue(proxy, 'volly_frames_total', 'direction="client_to_upstream"')).toBe(forwardedBefore);
    // Bob, in the same room, never sees the tampered metadata: only eve leaving.
    const deadline = Date.now() + 3000;
    while (Date.now() < deadline) {
      const u = await bob.waitFor('update', deadline - Date.now()).catch(() => null);
      if (!u) break;
      expect(u.participants.some((p) => p.metadata === 'tampered')).toBe(false);
    }
    await bob.close();
  });

  it('LiveKit’s refusal of a token arrives as a sealed error with its HTTP status and reason', async () => {
    const room = roomName('refused');
    const t = await token(proxy, room, 'nojoin', { grant: { ...CAN_META.grant, roomJoin: false } });
    const direct401 = await connectSignal(
      livekit.wsUrl,
      await new AccessToken(livekit.apiKey, livekit.apiSecret, { identity: 'nojoin' }).toJwt().catch(() => ''),
    ).catch((e) => e);
    const e = (await connectPq(proxy.wsUrl, t).catch((err) => err)) as PqConnectError;
    expect(e).toBeInstanceOf(PqConnectError);
    expect(e.code).toBe(CloseCode.Upstream);
    expect(e.failure?.status).toBeGreaterThanOrEqual(400);
    expect(e.failure?.status).toBeLessThan(500);
    expect(e.failure?.message.length).toBeGreaterThan(0);
    if (direct401 instanceof SignalHttpError) expect(e.failure?.status).toBe(direct401.status);
  });

  it('LiveKit’s 401 body quotes the token it got; the client sees the reason with the token redacted', async () => {
    // A proxy whose upstream secret LiveKit does not hold: LiveKit answers "invalid token: <jwt>, error: ...".
    const misconfigured = await startTestProxy(livekit, { VOLLY_UPSTREAM_SECRET: 'y'.repeat(43) });
    try {
      const room = roomName('redact');
      const e = (await connectPq(misconfigured.wsUrl, await token(misconfigured, room, 'ivan', CAN_META)).catch((err) => err)) as PqConnectError;
      expect(e.failure?.status).toBe(401);
      expect(e.failure?.message).toMatch(/^invalid token: \[token\], error: .*signature is invalid/);
      const v = await fetch(`${misconfigured.url}/rtc/validate?access_token=${await token(misconfigured, room, 'ivan', CAN_META)}`);
      expect(v.status).toBe(401);
      const body = await v.text();
      expect(body).toMatch(/invalid token: \[token\]/);
      expect(body).not.toMatch(/eyJ/);
    } finally {
      await misconfigured.close();
    }
  });

  it('refreshed tokens come back signed with the client key, keep the PQ binding, and reconnect', async () => {
    const room = roomName('refresh');
    const kp = getKem('X-Wing').keygen();
    const t = await token(proxy, room, 'carol', { ...CAN_META, bind: { algorithm: 'X-Wing', publicKey: kp.publicKey } });
    const sig = await connectPq(proxy.wsUrl, t, { keyPairs: [kp] });
    const refreshed = await sig.waitFor('refreshToken');
    const claims = decodeJwt(refreshed);
    expect(claims.iss).toBe(proxy.apiKey);
    expect(claims.sub).toBe('carol');
    expect((claims.video as Record<string, unknown>).pqPublicKey).toBe(toBase64Url(kp.publicKey));
    expect((claims.video as Record<string, unknown>).room).toBe(room);
    await sig.close();
    const again = await connectPq(proxy.wsUrl, refreshed, { keyPairs: [kp] });
    expect(again.join.participant?.identity).toBe('carol');
    expect(again.ws.pq.mode).toBe('token-bound');
    await again.close();
  });
});

describe('classical clients', () => {
  it('under prefer are proxied unchanged: join, RoomService through the proxy, refreshed token client-facing', async () => {
    const room = roomName('classic');
    const sig = await connectSignal(proxy.wsUrl, await token(proxy, room, 'dave', CAN_META));
    expect(sig.join.participant?.identity).toBe('dave');
    const svc = new RoomServiceClient(proxy.url, proxy.apiKey, proxy.apiSecret);
    expect((await svc.listParticipants(room)).map((p) => p.identity)).toEqual(['dave']);
    const refreshed = await sig.waitFor('refreshToken');
    expect(decodeJwt(refreshed).iss).toBe(proxy.apiKey);
    await sig.close();
  });

  it('under require are refused with a clear reason, on the socket and on validate', async () => {
    const room = roomName('strict');
    const e = (await connectSignal(strict.wsUrl, await token(strict, room, 'erin', CAN_META)).catch((err) => err)) as SignalHttpError;
    expect(e).toBeInstanceOf(SignalHttpError);
    expect(e.status).toBe(403);
    expect(e.body).toMatch(/requires post-quantum/);
    const v = await fetch(`${strict.url}/rtc/validate?access_token=${await token(strict, room, 'erin', CAN_META)}`);
    expect(v.status).toBe(403);
    expect(await listed(room)).toEqual([]);
    // ...while a sealed client joins the same proxy.
    const sig = await connectPq(strict.wsUrl, await token(strict, room, 'erin', CAN_META));
    expect(sig.join.participant?.identity).toBe('erin');
    await sig.close();
  });

  it('a PQ-bound token on a classical connection is refused (no downgrade by dropping the subprotocol)', async () => {
    const room = roomName('downgrade');
    const kp = getKem('ML-KEM-768').keygen();
    const t = await token(proxy, room, 'frank', { ...CAN_META, bind: { algorithm: 'ML-KEM-768', publicKey: kp.publicKey } });
    expect(hasPqClaims(decodeJwt(t) as Record<string, unknown>)).toBe(true);
    const e = (await connectSignal(proxy.wsUrl, t).catch((err) => err)) as SignalHttpError;
    expect(e).toBeInstanceOf(SignalHttpError);
    expect(e.status).toBe(401);
    expect(e.body).toMatch(/post-quantum key/);
    expect(await listed(room)).toEqual([]);
  });

  it('validate is verified and re-signed: a good token gets LiveKit’s 200, a forged one 401', async () => {
    const room = roomName('validate');
    for (const [path, extra] of [
      ['/rtc/validate', ''],
      ['/rtc/v1/validate', `&join_request=${encodeJoinRequest()}`],
    ]) {
      const ok = await fetch(`${proxy.url}${path}?access_token=${await token(proxy, room, 'gina', CAN_META)}${extra}`);
      expect(ok.status).toBe(200);
      expect(await ok.text()).toBe('success');
      const forged = new AccessToken(proxy.apiKey, 'x'.repeat(40), { identity: 'gina' });
      forged.addGrant({ roomJoin: true, room });
      const bad = await fetch(`${proxy.url}${path}?access_token=${await forged.toJwt()}${extra}`);
      expect(bad.status).toBe(401);
    }
  });
});

describe('replay protection in token-bound mode', () => {
  it('the proxy answers with the session id the client put in the URL, so a recorded response cannot be replayed to it', async () => {
    const room = roomName('replay');
    const kp = getKem('ML-KEM-768').keygen();
    const t = await token(proxy, room, 'judy', { ...CAN_META, bind: { algorithm: 'ML-KEM-768', publicKey: kp.publicKey } });
    const first = await openRawPq(proxy.wsUrl, t, { keyPair: kp });
    expect(first.session.result?.sessionId).toBe(first.sessionId);
    first.ws.close();
    await first.closed;
    // A man in the middle replays the recorded pq_response to the same client (same bound key):
    // the client expects its new session id and refuses before sealing anything.
    const again = new ClientSession({
      kem: getKem('ML-KEM-768'),
      aead: getAead(),
      mode: 'token-bound',
      keyPair: kp,
      query: '',
      sessionId: newSessionId(randomBytes),
      randomBytes,
    });
    again.start();
    const out = again.receive(first.received[0] as Uint8Array);
    expect(out).toEqual([
      { type: 'failed', failure: expect.objectContaining({ closeCode: CloseCode.Malformed, message: expect.stringMatching(/another session_id/) }) },
    ]);
    expect(again.counters.sealed).toBe(0);
  });
});
