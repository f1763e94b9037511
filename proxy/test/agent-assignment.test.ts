// The agent worker's job-assignment rewrite, on frames recorded from the real
// LiveKit (proxy/test/fixtures/agent-frames.json, made by
// test/record-agent-frames.ts): LiveKit's job token, signed with the upstream
// key, reaches the worker signed with the worker's client key instead, with
// the same claims and a bounded lifetime, and without any LiveKit URL.

import { readFileSync } from 'node:fs';
import { JobAssignment, ServerMessage } from '@livekit/protocol';
import { decodeJwt, jwtVerify } from 'jose';
import { AccessToken } from 'livekit-server-sdk';
import { describe, expect, it } from 'vitest';
import { carriesAssignment, JOB_TOKEN_MAX_LIFETIME_S, JobAssignmentError, rewriteAssignment, sessionRewriter } from '../src/agent-assignment.js';
import { Authorizer } from '../src/authorize.js';
import { createMetrics } from '../src/metrics.js';

const rec = JSON.parse(readFileSync(new URL('./fixtures/agent-frames.json', import.meta.url), 'utf8')) as {
  recordedAt: string;
  upstream: { key: string; secret: string };
  frames: Record<string, string>;
};
const binary = (name: string) => new Uint8Array(Buffer.from(rec.frames[`binary:${name}`] as string, 'hex'));
const json = (name: string) => rec.frames[`json:${name}`] as string;
const CLIENT = { key: 'APIclient', secret: 'c'.repeat(40) };
const at = new Date(rec.recordedAt);
const config = { keys: new Map([[CLIENT.key, CLIENT.secret]]), upstream: rec.upstream, limits: { tokenLeewaySeconds: 10 } as never };
const auth = new Authorizer(config, () => at);
const secret = (s: string) => new TextEncoder().encode(s);

/** The worker's own grant: a token with only `agent: true`, as the agents SDK mints it. */
async function workerGrant() {
  const t = new AccessToken(CLIENT.key, CLIENT.secret, { ttl: '6h' });
  t.addGrant({ agent: true });
  return new Authorizer(config, () => new Date()).verify(await t.toJwt());
}

const assignmentOf = (data: Uint8Array | string): JobAssignment => {
  const m = typeof data === 'string' ? ServerMessage.fromJsonString(data) : ServerMessage.fromBinary(data);
  if (m.message.case !== 'assignment') throw new Error(`not an assignment: ${m.message.case}`);
  return m.message.value;
};

describe('carriesAssignment', () => {
  it('picks the assignment by its first tag, binary or JSON, and nothing else', () => {
    expect(carriesAssignment(binary('assignment'))).toBe(true);
    expect(carriesAssignment(binary('register'))).toBe(false);
    expect(carriesAssignment(binary('availability'))).toBe(false);
    expect(carriesAssignment(json('assignment'))).toBe(true);
    expect(carriesAssignment(json('register'))).toBe(false);
  });
});

describe('rewriteAssignment', () => {
  it('re-signs LiveKit’s job token with the worker’s client key, same claims, and keeps the job', async () => {
    const g = await workerGrant();
    const original = assignmentOf(binary('assignment'));
    const upstreamClaims = decodeJwt(original.token);
    expect(upstreamClaims.iss).toBe(rec.upstream.key);
    const out = await rewriteAssignment(binary('assignment'), g, auth);
    expect(out.rewritten).toBe(true);
    const a = assignmentOf(out.data);
    expect(a.job?.equals(original.job)).toBe(true);
    const { payload } = await jwtVerify(a.token, secret(CLIENT.secret), { currentDate: at });
    expect(payload.iss).toBe(CLIENT.key);
    expect({ ...payload, iss: undefined }).toEqual({ ...upstreamClaims, iss: undefined });
    expect(payload.video).toMatchObject({ roomJoin: true, agent: true, room: original.job?.room?.name });
    expect(payload.kind).toBe('agent');
    await expect(jwtVerify(a.token, secret(rec.upstream.secret), { currentDate: at })).rejects.toThrow();
  });

  it('rewrites the JSON form LiveKit sends a JSON worker, answering in JSON', async () => {
    const out = await rewriteAssignment(json('assignment'), await workerGrant(), auth);
    expect(typeof out.data).toBe('string');
    const a = assignmentOf(out.data);
    expect(decodeJwt(a.token).iss).toBe(CLIENT.key);
    expect(a.job?.id).toBe(assignmentOf(json('assignment')).job?.id);
  });

  it('removes a LiveKit URL so the worker joins through the URL it registered with', async () => {
    const a = assignmentOf(binary('assignment'));
    a.url = 'wss://livekit.internal:7880';
    const out = await rewriteAssignment(new ServerMessage({ message: { case: 'assignment', value: a } }).toBinary(), await workerGrant(), auth);
    expect(assignmentOf(out.data).url).toBeUndefined();
  });

  it('caps the job token’s lifetime at JOB_TOKEN_MAX_LIFETIME_S', async () => {
    const long = new AccessToken(rec.upstream.key, rec.upstream.secret, { identity: 'job', ttl: '24h' });
    long.addGrant({ roomJoin: true, agent: true, room: 'r' });
    const a = new JobAssignment({ token: await long.toJwt() });
    const now = new Date();
    const out = await rewriteAssignment(
      new ServerMessage({ message: { case: 'assignment', value: a } }).toBinary(),
      await workerGrant(),
      new Authorizer(config, () => now),
    );
    expect(decodeJwt(assignmentOf(out.data).token).exp).toBe(Math.floor(now.getTime() / 1000) + JOB_TOKEN_MAX_LIFETIME_S);
  });

  it('ends the session rather than forward a job token it cannot verify', async () => {
    const forged = new AccessToken('APIother', 'o'.repeat(40), { identity: 'job' });
    forged.addGrant({ roomJoin: true, room: 'r' });
    const frame = new ServerMessage({ message: { case: 'assignment', value: new JobAssignment({ token: await forged.toJwt() }) } }).toBinary();
    await expect(rewriteAssignment(frame, await workerGrant(), auth)).rejects.toBeInstanceOf(JobAssignmentError);
    await expect(rewriteAssignment(Uint8Array.of(0x1a, 0x05, 0x01), await workerGrant(), auth)).rejects.toBeInstanceOf(JobAssignmentError);
  });

  it('passes the other worker messages through untouched', async () => {
    const frame = binary('availability');
    const out = await rewriteAssignment(frame, await workerGrant(), auth);
    expect(out).toEqual({ data: frame, rewritten: false });
  });
});

describe('sessionRewriter', () => {
  it('rewrites assignments on /agent only, counting each as job_assignment', async () => {
    const metrics = createMetrics();
    const g = await workerGrant();
    expect(sessionRewriter('/rtc', g, auth, metrics)(binary('assignment'))).toBeNull();
    expect(sessionRewriter('/agent', g, auth, metrics)(binary('register'))).toBeNull();
    const out = await sessionRewriter('/agent', g, auth, metrics)(binary('assignment'));
    expect(decodeJwt(assignmentOf(out as Uint8Array).token).iss).toBe(CLIENT.key);
    expect(await metrics.registry.getSingleMetricAsString('volly_token_rewrites_total')).toContain('kind="job_assignment"} 1');
  });
});
