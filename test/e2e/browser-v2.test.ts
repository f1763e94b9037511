// volly-pq.v2 in the browser: Chromium pages run the real livekit-client with
// installPqWebSocket({ protocol: 'v2' }) through the proxy (holding an X-Wing
// and an ML-KEM-768 static key made by `volly-pq keygen`) in front of the real
// LiveKit. For both algorithms and both token kinds two pages publish the fake
// camera and microphone, decode each other's media, exchange data and resume
// through the proxy after it ends one page's signaling. Chromium's own network
// events (CDP) show what left the browser: the upgrade carries the sealed early
// frame as its only query parameter and the ClientHello as a subprotocol, and
// no URL, header or WebSocket frame carries the token or an SDP in the clear.
// Refusals reach the app as the same ConnectionError as straight from LiveKit;
// a token pinning the proxy's key joins, one pinning a key the proxy lacks
// fails closed in the page with nothing reaching LiveKit.

import { join } from 'node:path';
import { addPqClaims, addServerKemKeys, CloseCode, fromBase64Url, getKem, KEM_ALGORITHMS, type KemAlgorithm, toHex, v2 } from '@volly/shared';
import { AccessToken, RoomServiceClient, type VideoGrant } from 'livekit-server-sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { volly } from '../../proxy/test/run-cli.ts';
import { nothingReachesLiveKit } from '../harness/leaks.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricSum } from '../harness/metrics.ts';
import { makeTempDir } from '../harness/process.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { type E2E, expectData, expectMediaFlowing, startE2E, type TestPage } from '../harness/test-page.ts';
import { fetchServerKeys } from '../harness/v2-signal.ts';
import { until } from '../harness/wait.ts';
import type { ErrorInfo, JoinOptions, JoinResult, Snapshot } from './page/app.ts';
import { expectNothingInTheClear, recordWire, type Wire } from './wire.ts';

let livekit: LiveKitServer;
let proxy: TestProxy;
let e2e: E2E;
let keys: v2.ServerStaticKey[];
const suiteStarted = Date.now();
/** A static key the proxy does not hold. */
const stranger = v2.staticKey('X-Wing', getKem('X-Wing').keygen().publicKey, 2_000_000_000);
const keyOf = (algorithm: KemAlgorithm) => keys.find((k) => k.algorithm === algorithm) as v2.ServerStaticKey;

type Kind = 'valid' | 'expired' | 'no-room-join' | 'other-room';
/** What the page asks the token server for (and what the tests make directly). */
interface TokenAsk {
  kind?: Kind;
  /** The v2 key the token pins (video.pqServerKemKeys). */
  pin?: KemAlgorithm | 'stranger';
}

/** A token of the given kind for `room`, signed with `key`; expired tokens ended 10 minutes ago. */
async function makeToken(room: string, identity: string, ask: TokenAsk, key = clientKey(), bind?: Parameters<typeof addPqClaims>[1]): Promise<string> {
  const kind = ask.kind ?? 'valid';
  const at = new AccessToken(key.apiKey, key.apiSecret, { identity, ttl: kind === 'expired' ? -600 : '10m' });
  const grant: VideoGrant =
    kind === 'no-room-join'
      ? { room, canPublish: true, canSubscribe: true, canPublishData: true }
      : { roomJoin: true, room: kind === 'other-room' ? 'no-such-room' : room, canPublish: true, canSubscribe: true, canPublishData: true };
  at.addGrant(grant);
  if (bind) addPqClaims(at, bind);
  if (ask.pin) addServerKemKeys(at, [ask.pin === 'stranger' ? stranger : keyOf(ask.pin)]);
  return at.toJwt();
}
const clientKey = () => ({ apiKey: proxy.apiKey, apiSecret: proxy.apiSecret });
const liveKitKey = () => ({ apiKey: livekit.apiKey, apiSecret: livekit.apiSecret });

beforeAll(async () => {
  const dir = makeTempDir('volly-browser-v2-');
  const files = await Promise.all(
    // X-Wing first: the current key, the one a page that reads the document uses.
    (['X-Wing', 'ML-KEM-768'] as const).map(async (algorithm) => {
      const out = join(dir, `${algorithm}.json`);
      const r = await volly(['keygen', '--algorithm', algorithm, '--out', out]);
      expect(r.code, r.stderr).toBe(0);
      return out;
    }),
  );
  // auto_create off, as in browser-errors: a room nobody created is LiveKit's 404.
  livekit = await startLiveKit({ room: { autoCreate: false } });
  proxy = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: files.join(','), VOLLY_DEMO: '1' });
  keys = await fetchServerKeys(proxy.url);
  // The app's token server for bound pages: binds the token to the key pair the page made.
  e2e = await startE2E({
    'POST /token': async (_req, res, body) => {
      const q = JSON.parse(body) as TokenAsk & { room: string; identity: string; algorithm: KemAlgorithm; publicKey: string };
      const publicKey = fromBase64Url(q.publicKey);
      if (!publicKey) throw new Error('publicKey is not base64url');
      res.writeHead(200, { 'content-type': 'text/plain' }).end(await makeToken(q.room, q.identity, q, clientKey(), { algorithm: q.algorithm, publicKey }));
    },
  });
});

afterEach(async () => {
  await e2e?.closePages();
});

afterAll(async () => {
  await e2e?.close();
  await proxy?.close();
  await livekit?.stop();
  process.stderr.write(`[e2e] browser-v2 suite took ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s\n`);
});

const createRoom = (name: string) => new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret).createRoom({ name, emptyTimeout: 600 });

type Session = { end(code: number, reason: string): void; record?: { facts?: { identity?: string; flow?: string; algorithm?: string; protocol?: string } } };
const sessionsOf = (identity: string): Session[] => [...(proxy.proxy.ctx.live as Set<Session>)].filter((s) => s.record?.facts?.identity === identity);
const proxyRtc = () => `${proxy.wsUrl}/rtc`;
const names = (s: Snapshot) => s.events.map((e) => e.name);

type Way = 'unbound' | 'bound';
/** Where the page's static key comes from: the proxy's document, the app (options), or the document filtered by the token's pin. */
type KeysFrom = 'document' | 'options' | 'pin';

/** Join options for a v2 page: unbound pages get a token, bound pages ask the token server (with the page's key). */
async function v2Join(room: string, identity: string, way: Way, algorithm: KemAlgorithm, from: KeysFrom, ask: TokenAsk = {}): Promise<JoinOptions> {
  const tokenAsk: TokenAsk = { ...ask, ...(from === 'pin' ? { pin: algorithm } : {}) };
  return {
    url: proxy.wsUrl,
    protocol: 'v2',
    mode: way === 'bound' ? 'token-bound' : 'in-band',
    algorithm,
    room,
    identity,
    publish: true,
    ...(from === 'options' ? { serverKemKeys: v2.wellKnownDocument([keyOf(algorithm)]) } : {}),
    ...(way === 'bound' ? { tokenRequest: tokenAsk } : { token: await makeToken(room, identity, tokenAsk) }),
  };
}

const matrix: Array<{ algorithm: KemAlgorithm; way: Way; from: KeysFrom; endCode: number }> = [
  { algorithm: 'X-Wing', way: 'unbound', from: 'document', endCode: CloseCode.Upstream },
  { algorithm: 'X-Wing', way: 'bound', from: 'document', endCode: CloseCode.GoingAway },
  { algorithm: 'ML-KEM-768', way: 'unbound', from: 'options', endCode: CloseCode.GoingAway },
  { algorithm: 'ML-KEM-768', way: 'bound', from: 'pin', endCode: CloseCode.Upstream },
];

describe('two browsers over volly-pq.v2', () => {
  it('covers both algorithms and both token kinds', () => {
    expect(new Set(matrix.map((m) => m.algorithm))).toEqual(new Set(KEM_ALGORITHMS));
    expect(new Set(matrix.map((m) => `${m.algorithm} ${m.way}`)).size).toBe(4);
  });

  for (const { algorithm, way, from, endCode } of matrix) {
    it(`${algorithm}, ${way} (key from ${from}): media and data both ways, a resume after close ${endCode}, nothing in the clear`, async () => {
      const t0 = Date.now();
      const room = `v2-${way}-${algorithm}`.toLowerCase().replace(/[^a-z0-9-]/g, '');
      await createRoom(room);
      const metricsBefore = await proxy.metrics();
      const [alice, bob] = [await e2e.open('alice'), await e2e.open('bob')];
      const wires = await Promise.all([recordWire(alice.page), recordWire(bob.page)]);
      const [oa, ob] = [await v2Join(room, 'alice', way, algorithm, from), await v2Join(room, 'bob', way, algorithm, from)];
      const [ja, jb] = await Promise.all([alice.join(oa), bob.join(ob)]);
      expect(ja, alice.console.join('\n')).toMatchObject({ ok: true, room });
      expect(jb, bob.console.join('\n')).toMatchObject({ ok: true, room });
      const keyFrom = from === 'options' ? 'options' : 'document';
      for (const p of [alice, bob]) {
        const pq = (await p.snapshot()).sockets[0]?.pq;
        expect(pq).toMatchObject({
          protocol: 'volly-pq.v2',
          mode: way,
          algorithm,
          retries: 0,
          serverKeysFrom: keyFrom,
          serverKeyId: toHex(keyOf(algorithm).id),
        });
        expect(pq?.fingerprint).toMatch(/^[0-9a-f]{16}$/);
      }
      expect(sessionsOf('alice').map((s) => s.record?.facts)).toMatchObject([{ protocol: 'v2', flow: way, algorithm }]);

      const aFromB = await expectMediaFlowing(alice, 'bob');
      await expectMediaFlowing(bob, 'alice');
      await expectData(alice, bob, 'alice', `hello bob (${algorithm} ${way})`);
      await expectData(bob, alice, 'bob', `hello alice (${algorithm} ${way})`);
      const tMedia = Date.now();

      // The proxy ends alice's signaling; livekit-client resumes through the proxy over v2.
      const [old] = sessionsOf('alice');
      const socketsBefore = (await alice.snapshot()).sockets.length;
      old?.end(endCode, endCode === CloseCode.GoingAway ? 'proxy draining; reconnect' : 'test: upstream lost');
      const after = await until('alice to reconnect', async () => ((s) => (names(s).includes('reconnected') ? s : undefined))(await alice.snapshot()), 30_000);
      expect(names(after), JSON.stringify(after.events)).toContain('signalReconnecting');
      expect(names(after)).not.toContain('reconnecting');
      expect(after.state).toBe('connected');
      expect(after.localSid).toBe(ja.ok ? ja.localSid : '?');
      expect(after.sockets.length).toBeGreaterThan(socketsBefore);
      expect(after.sockets.at(-1)).toMatchObject({ readyState: 1, pq: { protocol: 'volly-pq.v2', mode: way, algorithm } });
      const now = sessionsOf('alice');
      expect(now).toHaveLength(1);
      expect(now[0]).not.toBe(old);
      expect(now[0]?.record?.facts).toMatchObject({ protocol: 'v2', flow: way, algorithm });
      // The page read the proxy's document once (the resume used the cached key), or never when the app gave the key.
      const documentFetches = alice.net.requests.filter((u) => u === `${proxy.url}/.well-known/volly-pq`).length;
      expect(documentFetches).toBe(from === 'options' ? 0 : 1);
      const aFromB2 = await expectMediaFlowing(alice, 'bob');
      expect(aFromB2.video?.bytesReceived).toBeGreaterThan(aFromB.video?.bytesReceived ?? 0);
      await expectMediaFlowing(bob, 'alice');
      await expectData(alice, bob, 'alice', 'still here after the resume');
      expect((await bob.snapshot()).events.filter((e) => e.name === 'participantDisconnected')).toEqual([]);

      // The proxy counted three v2 handshakes of this algorithm and flow (two joins, one resume).
      const handshakes = (text: string) => metricSum(text, 'volly_handshake_duration_seconds_count', `protocol="v2",algorithm="${algorithm}",flow="${way}"`);
      expect(handshakes(await proxy.metrics()) - handshakes(metricsBefore)).toBe(3);
      // What the browsers sent: two joins and a resume, none with anything in the clear (frames seen, so the check bites).
      const upgrades = expectNothingInTheClear(wires[0], proxyRtc(), oa.token) + expectNothingInTheClear(wires[1], proxyRtc(), ob.token);
      expect(upgrades).toBe(3);
      expect(wires[0].frames.length).toBeGreaterThan(3);
      await alice.leave();
      await bob.leave();
      const ended = (text: string) => metricSum(text, 'volly_sessions_total', 'protocol="v2"');
      await until('the proxy to count the ended v2 sessions', async () => ended(await proxy.metrics()) - ended(metricsBefore) >= 3);
      process.stderr.write(
        `[e2e] v2 ${algorithm} ${way}: joined+media+data in ${((tMedia - t0) / 1000).toFixed(1)} s; resumed after close ${endCode} in ${((Date.now() - tMedia) / 1000).toFixed(1)} s\n`,
      );
    });
  }
});

describe('refusals over v2 match LiveKit', () => {
  const ROOM = 'v2-lobby';
  beforeAll(() => createRoom(ROOM));

  async function attempt(
    kind: Kind,
    way: Way | 'direct',
    algorithm: KemAlgorithm = 'X-Wing',
    publish = false,
  ): Promise<{ result: JoinResult; page: TestPage; wire: Wire; token?: string }> {
    const identity = `${way}-${kind}`;
    const page = await e2e.open(identity);
    const wire = await recordWire(page.page);
    const opts: JoinOptions =
      way === 'direct'
        ? { url: livekit.wsUrl, mode: 'direct', publish, token: await makeToken(ROOM, identity, { kind }, liveKitKey()) }
        : { ...(await v2Join(ROOM, identity, way, algorithm, 'document', { kind })), publish };
    return { result: await page.join(opts), page, wire, ...(opts.token ? { token: opts.token } : {}) };
  }
  const errorOf = (a: { result: JoinResult; page: TestPage }): ErrorInfo => {
    expect(a.result.ok, a.page.console.join('\n')).toBe(false);
    return (a.result as Extract<JoinResult, { ok: false }>).error;
  };

  it('control: straight to LiveKit the recorder sees the token in the URL and the SDP in a frame', async () => {
    const a = await attempt('valid', 'direct', 'X-Wing', true);
    expect(a.result, a.page.console.join('\n')).toMatchObject({ ok: true, room: ROOM });
    await until('the SDP offer to be sent', async () => a.wire.frames.some((f) => f.text.includes('a=ice-ufrag')));
    expect(a.wire.all().some((x) => x.includes('access_token=') && x.includes('join_request='))).toBe(true);
    expect(() => expectNothingInTheClear(a.wire, proxyRtc(), a.token)).toThrow();
    await a.page.leave();
  });

  for (const kind of ['expired', 'no-room-join', 'other-room'] as const) {
    it(`${kind}: the same ConnectionError reason and status as straight from LiveKit, nothing in the clear`, async () => {
      const direct = errorOf(await attempt(kind, 'direct'));
      expect(direct).toMatchObject({ isConnectionError: true, reasonOf: 'NotAllowed', status: kind === 'other-room' ? 404 : 401 });
      for (const [way, algorithm] of [
        ['unbound', 'X-Wing'],
        ['bound', 'ML-KEM-768'],
      ] as const) {
        const a = await attempt(kind, way, algorithm);
        const viaProxy = errorOf(a);
        // An expired token is refused by the proxy in its own words; LiveKit's refusals come through verbatim.
        if (kind === 'expired') {
          expect(viaProxy, way).toMatchObject({ ...direct, message: expect.stringMatching(/expired/) });
        } else expect(viaProxy, way).toEqual(direct);
        expect(a.page.net.all().filter((u) => /\/validate/.test(u))).toEqual([]);
        expect(expectNothingInTheClear(a.wire, proxyRtc(), a.token)).toBeGreaterThanOrEqual(1);
      }
    });
  }
});

describe('v2 keys pinned in the token', () => {
  it('pinned to the proxy’s (non-current) ML-KEM-768 key: joins with that key', async () => {
    const page = await e2e.open('pinned');
    await createRoom('v2-pins');
    const result = await page.join({ ...(await v2Join('v2-pins', 'pinned', 'unbound', 'ML-KEM-768', 'pin')), publish: false });
    expect(result, page.console.join('\n')).toMatchObject({ ok: true, room: 'v2-pins' });
    expect((await page.snapshot()).sockets[0]?.pq).toMatchObject({
      protocol: 'volly-pq.v2',
      algorithm: 'ML-KEM-768',
      serverKeysFrom: 'document',
      serverKeyId: toHex(keyOf('ML-KEM-768').id),
    });
    await page.leave();
  });

  it('pinned to a key the proxy lacks: fails closed in the page, nothing reaches LiveKit', async () => {
    for (const way of ['unbound', 'bound'] as const) {
      const identity = `stranger-${way}`;
      const page = await e2e.open(identity);
      const opts = { ...(await v2Join('v2-pins', identity, way, 'X-Wing', 'document', { pin: 'stranger' })), publish: false };
      const result = await nothingReachesLiveKit(proxy, livekit, identity, () => page.join(opts));
      expect(result.ok, page.console.join('\n')).toBe(false);
      const error = (result as { error: ErrorInfo }).error;
      expect(error).toMatchObject({ isConnectionError: true });
      expect(error.reasonOf).not.toBe('NotAllowed');
      process.stderr.write(
        `[e2e] v2 pinned to a stranger key, ${way}: ${JSON.stringify({ reasonOf: error.reasonOf, status: error.status, message: error.message })}\n`,
      );
      // No upgrade was even attempted: the page found no pinned key and sent nothing.
      expect(page.net.websockets).toEqual([]);
      expect(page.net.all().filter((u) => /\/validate|[?&](access_token|join_request|volly_early)=/.test(u))).toEqual([]);
      expect((await page.snapshot()).sockets.every((s) => s.pq.serverKeyId === undefined)).toBe(true);
    }
  });
});

describe('the demo page over v2', () => {
  it('shows the negotiated protocol in its panel', async () => {
    const page = await e2e.browser.newPage();
    await page.goto(`${proxy.url}/demo/`);
    await page.fill('#room', 'demo-v2');
    await createRoom('demo-v2');
    await page.fill('#identity', 'ada');
    await page.click('#join');
    const text = (id: string) => page.evaluate((i) => document.getElementById(i)?.textContent?.trim() ?? '', id);
    await until('the demo panel to show a v2 session', async () => ((await text('pq-session')) !== '—' ? true : undefined), 30_000);
    expect(await text('status')).toBe('connected to demo-v2 as ada');
    expect(await text('pq-protocol')).toBe('volly-pq.v2');
    expect(await text('pq-mode')).toBe('unbound');
    expect(await text('pq-algorithm')).toBe('X-Wing');
    await page.close();
  });
});
