// `volly-pq probe`, `keygen` and `token` as a user runs them: the real bin in
// a child process, against a real proxy in front of the real LiveKit.

import { join } from 'node:path';
import { KEM_ALGORITHMS } from '@volly/shared';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { volly } from '../../proxy/test/run-cli.js';
import { LIVEKIT_VERSION, type LiveKitServer, startLiveKit } from '../harness/livekit.js';
import { makeTempDir } from '../harness/process.js';
import { startTestProxy, type TestProxy } from '../harness/proxy.js';

let livekit: LiveKitServer;
let proxy: TestProxy;
let keys: Record<string, string>;

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit);
  keys = { LIVEKIT_KEYS: `${proxy.apiKey}: ${proxy.apiSecret}` };
});
afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
});

let n = 0;
const roomName = (what: string) => `cli-${what}-${++n}-${Date.now().toString(36)}`;
/** What LiveKit reports in JoinResponse.serverInfo: the pinned version, 1.13.5. */
const VERSION = LIVEKIT_VERSION.replace(/^v/, '');

describe.each(KEM_ALGORITHMS)('probe with %s', (algorithm) => {
  for (const mode of ['in-band', 'token-bound'] as const) {
    it(`${mode}: joins through the proxy, reports LiveKit 1.13.5 and the session, leaves, exits 0`, async () => {
      const room = roomName(mode);
      const r = await volly(['probe', proxy.wsUrl, '--algorithm', algorithm, '--mode', mode, '--room', room, '--identity', 'prober', '--json'], keys);
      expect(r.stderr).toBe('');
      expect(r.code).toBe(0);
      const report = JSON.parse(r.stdout);
      expect(report).toMatchObject({
        ok: true,
        mode,
        algorithm,
        server: { version: VERSION, protocol: expect.any(Number) },
        room: { name: room, sid: expect.stringMatching(/^RM_/) },
        participant: { identity: 'prober', sid: expect.stringMatching(/^PA_/) },
        closed: { code: 1000 },
      });
      expect(report.fingerprint).toMatch(/^[0-9a-f]{16}$/);
      expect(report.sessionId).toMatch(/^[A-Za-z0-9_-]{16,}$/);
      expect(report.handshakeMs).toBeGreaterThan(0);
      expect(report.joinMs).toBeGreaterThanOrEqual(report.handshakeMs);
      expect(report.server.protocol).toBeGreaterThan(0);
      // It left: LiveKit no longer lists the participant.
      const svc = new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret);
      const deadline = Date.now() + 10_000;
      let present = true;
      while (present && Date.now() < deadline) {
        present = (await svc.listParticipants(room).catch(() => [])).some((p) => p.identity === 'prober');
        if (present) await new Promise((res) => setTimeout(res, 200));
      }
      expect(present).toBe(false);
    });
  }
});

describe('probe', () => {
  it('prints a readable report like s_client', async () => {
    const r = await volly(['probe', proxy.url], keys);
    expect(r.code).toBe(0);
    expect(VERSION).toBe('1.13.5');
    expect(r.stdout).toMatch(/^ {2}LiveKit {6}1\.13\.5 \(protocol \d+/m);
    expect(r.stdout).toMatch(/^ {2}mode {9}in-band$/m);
    expect(r.stdout).toMatch(/^ {2}algorithm {4}ML-KEM-768 \(KEM (native|noble), AEAD (sodium|noble)\)$/m);
    expect(r.stdout).toMatch(/^ {2}fingerprint {2}[0-9a-f]{16}$/m);
    expect(r.stdout).toMatch(/^ {2}handshake {4}\d+\.\d ms$/m);
    expect(r.stdout).toMatch(/^ {2}room {9}volly-probe \(RM_\w+\)$/m);
    expect(r.stdout).toMatch(/^ {2}participant {2}volly-probe-[0-9a-f]{6} \(PA_\w+\)$/m);
    expect(r.stdout.trimEnd().split('\n').pop()).toBe('OK');
  });

  it('on /rtc/v1 (join_request) as well', async () => {
    const r = await volly(['probe', `${proxy.wsUrl}/rtc/v1`, '--json'], keys);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, url: `${proxy.wsUrl}/rtc/v1`, server: { version: VERSION } });
  });

  it('keygen → token --bind-key → probe --token --bind-key: a token-bound join with the operator’s own key', async () => {
    const dir = makeTempDir('cli-keys');
    const keyFile = join(dir, 'key.json');
    const room = roomName('bound');
    expect((await volly(['keygen', '--algorithm', 'X-Wing', '--out', keyFile])).code).toBe(0);
    const t = await volly(['token', '--room', room, '--identity', 'carol', '--bind-key', keyFile], keys);
    expect(t.code).toBe(0);
    const r = await volly(['probe', proxy.wsUrl, '--token', t.stdout.trim(), '--bind-key', keyFile, '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: true,
      mode: 'token-bound',
      algorithm: 'X-Wing',
      room: { name: room },
      participant: { identity: 'carol' },
    });
  });

  it('a token signed with an unknown key: exit 1, close 4401 and the proxy’s reason', async () => {
    const other = { LIVEKIT_KEYS: `stranger: ${'s'.repeat(40)}` };
    const t = await volly(['token', '--room', roomName('bad'), '--identity', 'mallory'], other);
    const r = await volly(['probe', proxy.wsUrl, '--token', t.stdout.trim()]);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('FAILED at join: close 4401 (Unauthorized) — token signed with an unknown API key');
    expect(r.stdout).not.toMatch(/^ {2}LiveKit/m);
  });

  it('a token LiveKit refuses: exit 1, close 4502 with LiveKit’s HTTP status and reason', async () => {
    const t = await volly(['token', '--room', roomName('refused'), '--identity', 'dave', '--grant', 'roomJoin=false'], keys);
    const r = await volly(['probe', proxy.wsUrl, '--token', t.stdout.trim(), '--json']);
    expect(r.code).toBe(1);
    const report = JSON.parse(r.stdout);
    expect(report).toMatchObject({ ok: false, failure: { stage: 'join', closeCode: 4502, liveKitStatus: 401 } });
    expect(report.failure.message).toMatch(/permission|not allowed|denied/i);
    expect(r.stderr).toMatch(/^volly-pq probe: FAILED at join: close 4502 \(Upstream\) LiveKit HTTP 401/);
  });

  it('pointed at LiveKit itself (no volly-pq.v1): exit 1 with the HTTP refusal', async () => {
    const r = await volly(['probe', livekit.wsUrl], keys);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAILED at connect: HTTP 401/);
  });
});
