// Token rewriting in the relay, on frames recorded from the real LiveKit
// (proxy/test/fixtures/livekit-frames.json, made by test/scripts/record-frames.ts):
// only refresh_token / room_moved are parsed, and their tokens come out
// signed with the client key and carrying the session's PQ claims.

import { readFileSync } from 'node:fs';
import { RoomMovedResponse, SignalResponse } from '@livekit/protocol';
import { addPqClaims, getKem, toBase64Url } from '@volly/shared';
import { decodeJwt, jwtVerify } from 'jose';
import { AccessToken } from 'livekit-server-sdk';
import { describe, expect, it } from 'vitest';
import { Authorizer } from '../src/authorize.js';
import { carriesToken, rewriteToken } from '../src/rewrite.js';

const rec = JSON.parse(readFileSync(new URL('./fixtures/livekit-frames.json', import.meta.url), 'utf8')) as {
  recordedAt: string;
  upstream: { key: string; secret: string };
  frames: Record<string, string>;
};
const frame = (name: string) => new Uint8Array(Buffer.from(rec.frames[name] as string, 'hex'));
const CLIENT = { key: 'APIclient', secret: 'c'.repeat(40) };
const at = new Date(rec.recordedAt);
const auth = new Authorizer({ keys: new Map([[CLIENT.key, CLIENT.secret]]), upstream: rec.upstream, limits: { tokenLeewaySeconds: 10 } as never }, () => at);

async function grant() {
  const kp = getKem('X-Wing').keygen();
  const t = new AccessToken(CLIENT.key, CLIENT.secret, { identity: 'recorder', ttl: '1h' });
  t.addGrant({ roomJoin: true, room: 'recorded-room' });
  addPqClaims(t, { algorithm: 'X-Wing', publicKey: kp.publicKey, keyExpiry: Math.floor(Date.now() / 1000) + 600 });
  const g = await new Authorizer(
    { keys: new Map([[CLIENT.key, CLIENT.secret]]), upstream: rec.upstream, limits: { tokenLeewaySeconds: 10 } as never },
    () => new Date(),
  ).verify(await t.toJwt());
  return { g, kp };
}

describe('carriesToken', () => {
  it('looks at the first tag only: refresh_token yes, join no', () => {
    expect(carriesToken(frame('refreshToken'))).toBe(true);
    expect(carriesToken(frame('join'))).toBe(false);
    expect(carriesToken(new SignalResponse({ message: { case: 'roomMoved', value: new RoomMovedResponse({ token: 'x' }) } }).toBinary())).toBe(true);
    expect(carriesToken('{"refreshToken":"x"}')).toBe(true);
    expect(carriesToken('{"pong":"1"}')).toBe(false);
  });
});

describe('rewriteToken', () => {
  it('turns LiveKit’s refresh token into a client-facing one with the session’s PQ claims', async () => {
    const { g, kp } = await grant();
    const original = SignalResponse.fromBinary(frame('refreshToken'));
    const out = await rewriteToken(frame('refreshToken'), g, auth);
    expect(out.kind).toBe('refresh_token');
    const msg = SignalResponse.fromBinary(out.data as Uint8Array);
    expect(msg.message.case).toBe('refreshToken');
    const token = msg.message.value as string;
    const { payload } = await jwtVerify(token, new TextEncoder().encode(CLIENT.secret), { currentDate: at });
    expect(payload.iss).toBe(CLIENT.key);
    expect(payload.sub).toBe('recorder');
    expect(payload.exp).toBe(decodeJwt(original.message.value as string).exp);
    expect((payload.video as Record<string, unknown>).pqPublicKey).toBe(toBase64Url(kp.publicKey));
    expect((payload.video as Record<string, unknown>).room).toBe('recorded-room');
  });

  it('rewrites the JSON form the same way', async () => {
    const { g } = await grant();
    const json = SignalResponse.fromBinary(frame('refreshToken')).toJsonString();
    const out = await rewriteToken(json, g, auth);
    const token = (JSON.parse(out.data as string) as { refreshToken: string }).refreshToken;
    expect(decodeJwt(token).iss).toBe(CLIENT.key);
  });

  it('rewrites room_moved.token and keeps the rest of the message', async () => {
    const { g } = await grant();
    const upstreamToken = SignalResponse.fromBinary(frame('refreshToken')).message.value as string;
    const moved = new SignalResponse({ message: { case: 'roomMoved', value: new RoomMovedResponse({ token: upstreamToken }) } }).toBinary();
    const out = await rewriteToken(moved, g, auth);
    expect(out.kind).toBe('room_moved');
    const m = SignalResponse.fromBinary(out.data as Uint8Array).message;
    expect(m.case).toBe('roomMoved');
    expect(decodeJwt((m.value as RoomMovedResponse).token).iss).toBe(CLIENT.key);
  });

  it('passes a frame through unchanged when LiveKit’s token does not verify', async () => {
    const { g } = await grant();
    const forged = new SignalResponse({ message: { case: 'refreshToken', value: 'eyJhbGciOiJIUzI1NiJ9.e30.bad' } }).toBinary();
    const out = await rewriteToken(forged, g, auth);
    expect(out.kind).toBeUndefined();
    expect(out.data).toBe(forged);
  });
});
