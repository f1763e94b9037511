// A LiveKit Agents worker from the Node agents SDK (@livekit/agents, no
// plugins) through the proxy: it registers on /agent with its own worker
// token, is dispatched into a room by AgentDispatchClient through the proxy's
// Twirp, its job process joins the room with the job token the proxy
// re-signed, and it answers a data message from an @livekit/rtc-node
// participant. LiveKit itself must list the agent participant, and the
// proxy must have counted the sessions and the job-assignment rewrite.
// First classically, then through `volly-pq tunnel` (v2 and v1), where the
// proxy must count the worker and its job as PQ sessions.

import { fileURLToPath } from 'node:url';
import { AgentServer, initializeLogger, ServerOptions } from '@livekit/agents';
import { ParticipantInfo_Kind } from '@livekit/protocol';
import { ParticipantKind, type RemoteParticipant, Room, RoomEvent } from '@livekit/rtc-node';
import { AgentDispatchClient, RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { getFreePort, LOOPBACK } from '../harness/ports.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { startTunnel, v2ProxyEnv } from '../harness/tunnel.ts';
import { metricSum } from './agents-support.ts';

/**
 * A job process imports the whole agents SDK before it may take a job; on a
 * loaded CI machine that outlasts the SDK's 10 s default, so allow a minute,
 * and keep one process warm so a dispatch does not wait for it.
 */
const SLOW_MACHINE = { initializeProcessTimeout: 60_000, numIdleProcesses: 1 };
const AGENT_FILE = fileURLToPath(new URL('./agents-echo-agent.ts', import.meta.url));

let livekit: LiveKitServer;
let proxy: TestProxy;

beforeAll(async () => {
  initializeLogger({ pretty: false, level: process.env.VOLLY_TEST_LOG_LEVEL ?? 'warn' });
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit, v2ProxyEnv());
});

afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
});

/** `p`, or a rejection naming `what` after `ms`. */
const within = <T>(p: Promise<T>, what: string, ms = 30_000): Promise<T> =>
  Promise.race([p, new Promise<never>((_, reject) => setTimeout(() => reject(new Error(`${what} within ${ms} ms`)), ms).unref())]);

/** Starts an agents SDK worker named `agentName` against `wsURL`; resolves once LiveKit registered it. */
async function startWorker(wsURL: string, agentName: string): Promise<{ server: AgentServer; stopped: Promise<void> }> {
  const server = new AgentServer(
    new ServerOptions({
      agent: AGENT_FILE,
      agentName,
      wsURL,
      apiKey: proxy.apiKey,
      apiSecret: proxy.apiSecret,
      host: LOOPBACK,
      port: await getFreePort(),
      maxRetry: 2,
      ...SLOW_MACHINE,
    }),
  );
  const registered = new Promise<void>((resolve) => server.event.once('worker_registered', () => resolve()));
  const stopped = server.run();
  await within(Promise.race([registered, stopped.then(() => Promise.reject(new Error('worker stopped before it registered')))]), 'the worker did not register');
  return { server, stopped };
}

/**
 * Dispatches `agentName` into `room` through the proxy's Twirp, joins the room
 * as an rtc-node participant through `participantUrl`, and pings until the
 * agent answers. Returns the answer and the agent participant as LiveKit lists it.
 */
async function pingAgent(room: string, agentName: string, participantUrl: string) {
  const dispatch = new AgentDispatchClient(proxy.url, proxy.apiKey, proxy.apiSecret);
  await dispatch.createDispatch(room, agentName);
  const user = new Room();
  try {
    const agent = new Promise<RemoteParticipant>((resolve) => user.on(RoomEvent.ParticipantConnected, (p) => p.kind === ParticipantKind.AGENT && resolve(p)));
    const answered = new Promise<string>((resolve) =>
      user.on(RoomEvent.DataReceived, (payload, _p, _kind, topic) => topic === 'pong' && resolve(new TextDecoder().decode(payload))),
    );
    await user.connect(participantUrl, await proxy.token(room, 'user'), { autoSubscribe: false, dynacast: false });
    const joined =
      [...user.remoteParticipants.values()].find((p) => p.kind === ParticipantKind.AGENT) ?? (await within(agent, 'no agent joined the room', 60_000));
    // The agent's data handler is set right after it joins: ping until it answers.
    let n = 0;
    const pinger = setInterval(() => void user.localParticipant?.publishData(new TextEncoder().encode(`hello-${n++}`), { reliable: true, topic: 'ping' }), 250);
    const answer = await within(answered, 'the agent never answered', 30_000).finally(() => clearInterval(pinger));
    const seen = await new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret).listParticipants(room);
    return { answer, identity: joined.identity, seen: seen.find((p) => p.identity === joined.identity) };
  } finally {
    await user.disconnect().catch(() => {});
  }
}

describe('@livekit/agents worker through the proxy, classically', () => {
  it('registers on /agent, is dispatched, joins with the re-signed job token and answers a data message', async () => {
    const { server, stopped } = await startWorker(proxy.wsUrl, 'echo-classical');
    try {
      const { answer, seen } = await pingAgent('agents-classical', 'echo-classical', proxy.wsUrl);
      expect(answer).toMatch(/^pong:hello-\d+$/);
      expect(seen?.kind).toBe(ParticipantInfo_Kind.AGENT);
      const metrics = await proxy.metrics();
      expect(metricSum(metrics, 'volly_token_rewrites_total', { kind: 'job_assignment' })).toBe(1);
      // The worker's /agent session and the agent's room session, both classical and both still up.
      expect(metricSum(metrics, 'volly_sessions_active', { mode: 'classical' })).toBeGreaterThanOrEqual(2);
      expect(metricSum(metrics, 'volly_sessions_active', { mode: 'pq' })).toBe(0);
    } finally {
      await server.close();
      await stopped.catch(() => {});
    }
  });
});

describe.each(['v2', 'v1'] as const)('@livekit/agents worker through volly-pq tunnel (%s)', (protocol) => {
  it('registers, joins its job and answers, and the proxy counts the worker and the job as PQ sessions', async () => {
    const t0 = performance.now();
    const tunnel = await startTunnel(proxy, { protocol });
    const agentName = `echo-tunnel-${protocol}`;
    const t1 = performance.now();
    const { server, stopped } = await startWorker(tunnel.wsUrl, agentName);
    const t2 = performance.now();
    try {
      const before = metricSum(await proxy.metrics(), 'volly_token_rewrites_total', { kind: 'job_assignment' });
      // The participant joins the proxy directly (classically): only the worker's two sockets use the tunnel.
      const { answer, seen } = await pingAgent(`agents-tunnel-${protocol}`, agentName, proxy.wsUrl);
      expect(answer).toMatch(/^pong:hello-\d+$/);
      expect(seen?.kind).toBe(ParticipantInfo_Kind.AGENT);
      const metrics = await proxy.metrics();
      expect(metricSum(metrics, 'volly_token_rewrites_total', { kind: 'job_assignment' })).toBe(before + 1);
      // The worker's /agent session and the job's room session: PQ, with the tunnel's protocol; nothing classical left.
      expect(metricSum(metrics, 'volly_sessions_active', { mode: 'pq', protocol })).toBe(2);
      expect(metricSum(metrics, 'volly_sessions_active', { mode: 'classical' })).toBe(0);
      const ms = (a: number, b: number) => (b - a).toFixed(0);
      process.stderr.write(
        `[clients] agents via tunnel ${protocol}: tunnel up ${ms(t0, t1)} ms, worker registered ${ms(t1, t2)} ms, dispatch to answer ${ms(t2, performance.now())} ms\n`,
      );
    } finally {
      await server.close();
      await stopped.catch(() => {});
      await tunnel.close();
    }
  });
});
