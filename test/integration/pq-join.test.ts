// Sealed joins through the proxy in front of the real LiveKit, for every
// algorithm, handshake mode and signaling path; the participant is then
// visible through RoomService called via the proxy (Twirp, re-signed bearer).

import { getKem, KEM_ALGORITHMS } from '@volly/shared';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { connectPq } from '../harness/pq-signal.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';

let livekit: LiveKitServer;
let proxy: TestProxy;

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit);
});
afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
});

describe.each(KEM_ALGORITHMS)('%s', (algorithm) => {
  for (const path of ['/rtc', '/rtc/v1'] as const) {
    it(`in-band join on ${path} reaches LiveKit and is listed by RoomService through the proxy`, async () => {
      const room = `inband-${algorithm}-${path.length}`.replace(/[^a-z0-9-]/gi, '');
      const sig = await connectPq(proxy.wsUrl, await proxy.token(room, 'alice'), { algorithm, path });
      expect(sig.join.room?.name).toBe(room);
      expect(sig.join.participant?.identity).toBe('alice');
      expect(sig.ws.pq).toMatchObject({ mode: 'in-band', algorithm });
      const svc = new RoomServiceClient(proxy.url, proxy.apiKey, proxy.apiSecret);
      const people = await svc.listParticipants(room);
      expect(people.map((p) => p.identity)).toContain('alice');
      await sig.close();
    });

    it(`token-bound join on ${path}: the server speaks first, the key in the token is the session key`, async () => {
      const room = `bound-${algorithm}-${path.length}`.replace(/[^a-z0-9-]/gi, '');
      const keyPair = getKem(algorithm).keygen();
      const t = await proxy.token(room, 'bob', { bind: { algorithm, publicKey: keyPair.publicKey } });
      const sig = await connectPq(proxy.wsUrl, t, { keyPairs: [keyPair], path });
      expect(sig.join.participant?.identity).toBe('bob');
      expect(sig.ws.pq).toMatchObject({ mode: 'token-bound', algorithm });
      await sig.close();
    });
  }
});
