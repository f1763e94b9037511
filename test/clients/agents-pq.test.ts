// An agent worker over volly-pq at the protocol level (v1 and v2): a worker
// written by hand (agents-raw-worker.ts, the messages the agents SDKs send)
// registers on /agent through a sealed session, speaking first as LiveKit's
// agent protocol requires, is dispatched through the proxy's Twirp, and joins
// the room as a PQ session with the job token the proxy re-signed. LiveKit
// must list the agent participant; the proxy must count PQ sessions only.

import { ParticipantInfo_Kind } from '@livekit/protocol';
import { ClientSession, getAead, getKem, randomBytes, SUBPROTOCOL, v2 } from '@volly/shared';
import { decodeJwt } from 'jose';
import { AccessToken, AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { connectPq } from '../harness/pq-signal.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { connectV2, fetchServerKeys, flightUrl } from '../harness/v2-signal.ts';
import { type RawWorker, startRawWorker, type WorkerSocket } from './agents-raw-worker.ts';
import { metricSum, v2KeyFiles } from './agents-support.ts';

let livekit: LiveKitServer;
let proxy: TestProxy;

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: v2KeyFiles(), VOLLY_PQ_POLICY: 'require' });
});
afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
});

type Output = { type: string; frame?: Uint8Array; payload?: Uint8Array; kind?: number; failure?: { closeCode: number; message: string } };
interface Client {
  receive(data: Uint8Array): Output[];
  seal(data: Uint8Array | string): Uint8Array;
}

/**
 * Drives a PQ client state machine on `ws`; once keyed, starts the raw worker
 * on the sealed channel. Resolves with the worker; rejects on a failure.
 */
function workerOver(ws: WebSocket, client: Client, agentName: string, first: () => Output[]): Promise<RawWorker> {
  return new Promise((resolve, reject) => {
    let worker: RawWorker | undefined;
    const apply = (outputs: Output[]) => {
      let keyed = false;
      for (const o of outputs) {
        if (o.type === 'send') ws.send(o.frame as Uint8Array);
        else if (o.type === 'keyed') keyed = true;
        else if (o.type === 'message') worker?.onMessage(o.payload as Uint8Array);
        else if (o.type === 'failed') reject(new Error(`PQ session failed: ${o.failure?.closeCode} ${o.failure?.message}`));
      }
      // After the key confirmation (or v1's connect) went out: the worker speaks first on /agent.
      if (keyed && !worker) {
        const socket: WorkerSocket = { send: (d) => ws.send(client.seal(d)) };
        try {
          worker = startRawWorker(socket, agentName);
          resolve(worker);
        } catch (err) {
          reject(err);
        }
      }
    };
    ws.on('open', () => apply(first()));
    ws.on('message', (d: Buffer) => apply(client.receive(new Uint8Array(d))));
    ws.on('close', (code, reason) => reject(new Error(`closed ${code} ${reason.toString()}`)));
    ws.on('error', () => {});
  });
}

async function workerToken(): Promise<string> {
  const at = new AccessToken(proxy.apiKey, proxy.apiSecret, { ttl: '10m' });
  at.addGrant({ agent: true });
  return at.toJwt();
}

async function v1Worker(agentName: string): Promise<{ worker: RawWorker; ws: WebSocket }> {
  const session = new ClientSession({ kem: getKem('X-Wing'), aead: getAead(), mode: 'in-band', accessToken: await workerToken(), query: '', randomBytes });
  const ws = new WebSocket(`${proxy.wsUrl}/agent`, [SUBPROTOCOL]);
  return { worker: await workerOver(ws, session, agentName, () => session.start()), ws };
}

async function v2Worker(agentName: string): Promise<{ worker: RawWorker; ws: WebSocket }> {
  const serverKey = v2.currentKey(await fetchServerKeys(proxy.url), Date.now() / 1000) as v2.ServerStaticKey;
  const client = new v2.ClientV2({
    kem: getKem(serverKey.algorithm),
    aead: getAead(),
    serverKey,
    connect: { path: '/agent', query: '', accessToken: await workerToken() },
    now: Date.now,
    randomBytes,
  });
  const flight = client.start();
  const ws = new WebSocket(flightUrl(proxy.wsUrl, '/agent', flight), [...flight.protocols]);
  return { worker: await workerOver(ws, client, agentName, () => client.accepted(ws.protocol)), ws };
}

describe.each([
  { protocol: 'v1', start: v1Worker, join: (token: string) => connectPq(proxy.wsUrl, token) },
  { protocol: 'v2', start: v2Worker, join: (token: string) => connectV2(proxy.url, token) },
] as const)('an agent worker over volly-pq.$protocol under require', ({ protocol, start, join }) => {
  it('registers on /agent, gets a client-key job token with no LiveKit URL, and joins the room with it as PQ', async () => {
    const agentName = `pq-${protocol}`;
    const room = `agents-pq-${protocol}`;
    const before = metricSum(await proxy.metrics(), 'volly_token_rewrites_total', { kind: 'job_assignment' });
    const { worker, ws } = await start(agentName);
    try {
      expect((await worker.waitFor('register')).workerId).toMatch(/^AW_/);
      await new AgentDispatchClient(proxy.url, proxy.apiKey, proxy.apiSecret).createDispatch(room, agentName);
      const assignment = await worker.waitFor('assignment');
      expect(assignment.url).toBeUndefined();
      const claims = decodeJwt(assignment.token);
      expect(claims.iss).toBe(proxy.apiKey);
      expect(claims.video).toMatchObject({ room, roomJoin: true, agent: true });

      const agent = await join(assignment.token);
      try {
        expect(agent.join.participant?.kind).toBe(ParticipantInfo_Kind.AGENT);
        const seen = await new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret).listParticipants(room);
        expect(seen.map((p) => [p.identity, p.kind])).toEqual([[claims.sub, ParticipantInfo_Kind.AGENT]]);
        const metrics = await proxy.metrics();
        expect(metricSum(metrics, 'volly_sessions_active', { mode: 'pq', protocol })).toBe(2);
        expect(metricSum(metrics, 'volly_sessions_active', { mode: 'classical' })).toBe(0);
        expect(metricSum(metrics, 'volly_token_rewrites_total', { kind: 'job_assignment' })).toBe(before + 1);
      } finally {
        await agent.close();
      }
    } finally {
      ws.close(1000);
    }
  });
});

describe('an agent worker without volly-pq under require', () => {
  it('is refused at the upgrade with 403, like /rtc', async () => {
    const ws = new WebSocket(`${proxy.wsUrl}/agent`, { headers: { authorization: `Bearer ${await workerToken()}` } });
    const status = await new Promise<number>((resolve) => {
      ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
      ws.on('open', () => resolve(101));
      ws.on('error', () => {});
    });
    expect(status).toBe(403);
  });
});
