// `volly-pq probe`, `keygen` and `token` as a user runs them: the real bin in
// a child process, against a real proxy in front of the real LiveKit: a
// v1-only proxy, and one with v2 static keys and an ML-DSA-65 identity key,
// where probe speaks v2 by default and token/probe pin and verify its keys.

import { join } from 'node:path';
import { KEM_ALGORITHMS, peekTokenPayload, v2 } from '@volly/shared';
import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { volly } from '../../proxy/test/run-cli.js';
import { leakCounters } from '../harness/leaks.js';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.js';
import { LIVEKIT_VERSION } from '../harness/livekit-binary.ts';
import { metricSum } from '../harness/metrics.js';
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

describe('probe and token with the proxy’s keys (volly-pq.v2 and v1 pins)', () => {
  let v2proxy: TestProxy;
  const files: Record<'X-Wing' | 'ML-KEM-768' | 'ML-DSA-65' | 'stranger-kem' | 'stranger-sig', string> = {} as never;
  const probeJson = async (args: string[]) => {
    const r = await volly(['probe', v2proxy.wsUrl, ...args, '--json'], { LIVEKIT_KEYS: `${v2proxy.apiKey}: ${v2proxy.apiSecret}` });
    return { ...r, report: JSON.parse(r.stdout || '{}') };
  };
  const token = async (args: string[]) => {
    const r = await volly(['token', '--room', roomName('pin'), '--identity', 'pinned', ...args], { LIVEKIT_KEYS: `${v2proxy.apiKey}: ${v2proxy.apiSecret}` });
    expect(r.code, r.stderr).toBe(0);
    return r.stdout.trim();
  };
  const kemPins = (t: string) => (peekTokenPayload(t)?.video as { pqServerKemKeys?: string[] } | undefined)?.pqServerKemKeys;
  const documentFetches = async () => metricSum(await v2proxy.metrics(), 'volly_http_requests_total', 'route="well-known"');
  const v2Handshakes = async (flow: string, algorithm: string) =>
    metricSum(await v2proxy.metrics(), 'volly_handshake_duration_seconds_count', `protocol="v2",algorithm="${algorithm}",flow="${flow}"`);

  beforeAll(async () => {
    const dir = makeTempDir('cli-server-keys');
    const make = async (name: keyof typeof files, algorithm: string) => {
      files[name] = join(dir, `${name}.json`);
      expect((await volly(['keygen', '--algorithm', algorithm, '--out', files[name]])).code).toBe(0);
    };
    await make('X-Wing', 'X-Wing');
    await make('ML-KEM-768', 'ML-KEM-768');
    await make('ML-DSA-65', 'ML-DSA-65');
    await make('stranger-kem', 'X-Wing');
    await make('stranger-sig', 'ML-DSA-65');
    // X-Wing first: the current key, the one a client reading the document uses.
    v2proxy = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: [files['X-Wing'], files['ML-KEM-768'], files['ML-DSA-65']].join(',') });
  });
  afterAll(async () => {
    await v2proxy?.close();
  });

  it('auto speaks v2 to the key of the proxy’s document; the proxy counts a v2 handshake', async () => {
    const before = await v2Handshakes('unbound', 'X-Wing');
    const r = await volly(['probe', v2proxy.url], { LIVEKIT_KEYS: `${v2proxy.apiKey}: ${v2proxy.apiSecret}` });
    expect(r.code, r.stdout).toBe(0);
    expect(r.stdout).toMatch(/^ {2}protocol {5}volly-pq\.v2$/m);
    expect(r.stdout).toMatch(/^ {2}server key {3}X-Wing [0-9a-f]{32} \(from document\)$/m);
    expect(r.stdout.trimEnd().split('\n').pop()).toBe('OK');
    expect((await v2Handshakes('unbound', 'X-Wing')) - before).toBe(1);
  });

  it('--protocol v2 --mode token-bound --algorithm ML-KEM-768: a bound session to the ML-KEM-768 key', async () => {
    const before = await v2Handshakes('bound', 'ML-KEM-768');
    const { code, report } = await probeJson(['--protocol', 'v2', '--mode', 'token-bound', '--algorithm', 'ML-KEM-768']);
    expect(code).toBe(0);
    expect(report).toMatchObject({ ok: true, protocol: 'v2', mode: 'token-bound', algorithm: 'ML-KEM-768', serverKey: { algorithm: 'ML-KEM-768' } });
    expect((await v2Handshakes('bound', 'ML-KEM-768')) - before).toBe(1);
  });

  it('--server-key FILE: v2 to that key without fetching the document', async () => {
    const fetches = await documentFetches();
    const { code, report } = await probeJson(['--server-key', files['ML-KEM-768']]);
    expect(code).toBe(0);
    expect(report).toMatchObject({ ok: true, protocol: 'v2', algorithm: 'ML-KEM-768', serverKey: { from: 'option', pinned: false } });
    expect(await documentFetches()).toBe(fetches);
  });

  it('token --server-key pins the key (video.pqServerKemKeys); probe --token uses only the pinned key', async () => {
    const t = await token(['--server-key', files['ML-KEM-768']]);
    const ids = kemPins(t);
    const [mlkem] = v2.parseWellKnownDocument(await (await fetch(`${v2proxy.url}/.well-known/volly-pq`)).text()).filter((k) => k.algorithm === 'ML-KEM-768');
    expect(ids).toEqual([Buffer.from(mlkem?.id ?? []).toString('base64url')]);
    const { code, report } = await probeJson(['--token', t]);
    expect(code).toBe(0);
    expect(report).toMatchObject({ ok: true, protocol: 'v2', algorithm: 'ML-KEM-768', serverKey: { from: 'document', pinned: true } });
  });

  it('token --well-known pins every key of the document', async () => {
    const t = await token(['--well-known', v2proxy.url]);
    expect(kemPins(t)).toHaveLength(2);
    expect((await probeJson(['--token', t])).report).toMatchObject({ ok: true, protocol: 'v2', algorithm: 'X-Wing', serverKey: { pinned: true } });
  });

  it('a token pinning a key the proxy does not publish: exit 1 before dialing, nothing reaches LiveKit', async () => {
    const t = await token(['--server-key', files['stranger-kem']]);
    const before = await leakCounters(v2proxy);
    const { code, report, stderr } = await probeJson(['--token', t]);
    expect(code).toBe(1);
    expect(report).toMatchObject({
      ok: false,
      protocol: 'v2',
      failure: { stage: 'connect', message: 'no current v2 server key pinned by the token in the document' },
    });
    expect(stderr).toBe('volly-pq probe: FAILED at connect: no current v2 server key pinned by the token in the document\n');
    expect(await leakCounters(v2proxy)).toEqual(before);
  });

  it('v1 with an ML-DSA-65 pin: the proxy’s signature verifies; a stranger’s pin fails closed with 4526', async () => {
    const ok = await probeJson(['--protocol', 'v1', '--server-key', files['ML-DSA-65']]);
    expect(ok.code).toBe(0);
    expect(ok.report).toMatchObject({ ok: true, protocol: 'v1', serverKey: { algorithm: 'ML-DSA-65', from: 'option', pinned: true } });
    const pinnedByToken = await probeJson(['--token', await token(['--server-key', files['ML-DSA-65']])]);
    expect(pinnedByToken.report).toMatchObject({ ok: true, protocol: 'v1', serverKey: { from: 'token', pinned: true } });
    const before = await leakCounters(v2proxy);
    const bad = await probeJson(['--protocol', 'v1', '--server-key', files['stranger-sig']]);
    expect(await leakCounters(v2proxy)).toEqual(before); // the token never left the probe
    expect(bad.code).toBe(1);
    expect(bad.report).toMatchObject({ ok: false, protocol: 'v1', failure: { stage: 'handshake', closeCode: 4526 } });
  });

  it('auto against a v1-only proxy speaks v1 and says why', async () => {
    const r = await volly(['probe', proxy.url, '--json'], keys);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ ok: true, protocol: 'v1', fallback: expect.stringMatching(/^no v2 document: .*HTTP 404$/) });
  });
});
