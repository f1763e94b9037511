// Several nodes: Redis, two LiveKit nodes sharing it, a proxy in front of
// each. Clients through different proxies meet in one room; when proxy 1
// drains, its client follows LiveKit's leave(RECONNECT) to proxy 2 and is back
// in the room with the other participant.

import { getKem } from '@volly/shared';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKeyPair, type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { connectPq } from '../harness/pq-signal.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { type RedisServer, startRedis } from '../harness/redis.ts';
import { token } from '../harness/tokens.ts';

let redis: RedisServer;
let nodes: LiveKitServer[] = [];
let proxies: TestProxy[] = [];
const upstream = generateApiKeyPair();
const client = generateApiKeyPair();

beforeAll(async () => {
  redis = await startRedis();
  nodes = await Promise.all([0, 1].map(() => startLiveKit({ redis, ...upstream })));
  // Both proxies accept the same client key, as replicas behind one load balancer would.
  proxies = await Promise.all(nodes.map((n) => startTestProxy(n, { LIVEKIT_KEYS: `${client.apiKey}: ${client.apiSecret}` })));
});
afterAll(async () => {
  for (const p of proxies) await p.close().catch(() => {});
  for (const n of nodes) await n.stop().catch(() => {});
  await redis?.stop();
});

describe('multi-node', () => {
  it('clients through two proxies on two LiveKit nodes meet; proxy 1 drains and its client comes back through proxy 2', async () => {
    const room = `multi-${Date.now().toString(36)}`;
    const [p1, p2] = proxies as [TestProxy, TestProxy];
    const kp = getKem('X-Wing').keygen();
    const t1 = await token(client, room, 'one', { bind: { algorithm: 'X-Wing', publicKey: kp.publicKey } });
    const one = await connectPq(p1.wsUrl, t1, { keyPairs: [kp] });
    const two = await connectPq(p2.wsUrl, await token(client, room, 'two'));
    expect(two.join.otherParticipants.map((p) => p.identity)).toContain('one');
    const svc = new RoomServiceClient(nodes[1]!.url, upstream.apiKey, upstream.apiSecret);
    expect((await svc.listParticipants(room)).map((p) => p.identity).sort()).toEqual(['one', 'two']);

    const draining = p1.proxy.drain(5000);
    const leave = await one.waitFor('leave');
    expect(leave.canReconnect).toBe(true);
    // What livekit-client does on leave(RECONNECT): a full reconnect to the same URL,
    // which the load balancer now sends to a ready replica — proxy 2.
    const back = await connectPq(p2.wsUrl, t1, { keyPairs: [kp] });
    expect(back.join.participant?.identity).toBe('one');
    expect(back.join.otherParticipants.map((p) => p.identity)).toContain('two');
    expect(back.ws.pq.mode).toBe('token-bound');
    await draining;
    expect((await fetch(`${p1.adminUrl}/readyz`)).status).toBe(503);
    await back.close();
    await two.close();
  });
});
