// Refusals as the application sees them: the same page and the same
// livekit-client connect once straight to LiveKit (no shim, token signed with
// LiveKit's key) and once through the proxy with installPqWebSocket (token
// signed with the proxy's client key). Through the proxy the page must get
// livekit-client's own ConnectionError with LiveKit's reason and HTTP status,
// as it does directly — with the validate probe answered inside the page from
// the proxy's sealed error, never sent.
//
// LiveKit v1.13.5 refuses, before any signaling (rtcservice.go, auth.go):
//   expired token                -> 401 "invalid token: <jwt>, error: ... token is expired (exp)"
//   grant without roomJoin       -> 401 "permissions denied"
//   room that does not exist     -> 404 "requested room does not exist" (room.auto_create off)
// An expired token is refused by the proxy itself (it verifies first): 401
// "token expired" — the same category and status, in the proxy's words.

import { addPqClaims, fromBase64Url, type KemAlgorithm } from '@volly/shared';
import { AccessToken, RoomServiceClient, type VideoGrant } from 'livekit-server-sdk';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { type E2E, startE2E, type TestPage } from '../harness/test-page.ts';
import type { ErrorInfo, JoinOptions, JoinResult } from './page/app.ts';

const ROOM = 'lobby';
/** Room.connect wraps the signal client's error: "could not establish signal connection: " + its message. */
const SIGNAL_FAILED = 'could not establish signal connection: ';

let livekit: LiveKitServer;
let proxy: TestProxy;
let e2e: E2E;
const suiteStarted = Date.now();

type Kind = 'valid' | 'expired' | 'no-room-join' | 'other-room';

/** A token of the given kind, signed with `key`. Expired tokens ended 10 minutes ago (beyond any leeway). */
async function makeToken(kind: Kind, key: { apiKey: string; apiSecret: string }, identity: string, bind?: Parameters<typeof addPqClaims>[1]): Promise<string> {
  const at = new AccessToken(key.apiKey, key.apiSecret, { identity, ttl: kind === 'expired' ? -600 : '10m' });
  const grant: VideoGrant =
    kind === 'no-room-join'
      ? { room: ROOM, canPublish: true, canSubscribe: true }
      : { roomJoin: true, room: kind === 'other-room' ? 'no-such-room' : ROOM, canPublish: true, canSubscribe: true };
  at.addGrant(grant);
  if (bind) addPqClaims(at, bind);
  return at.toJwt();
}

const clientKey = () => ({ apiKey: proxy.apiKey, apiSecret: proxy.apiSecret });
const liveKitKey = () => ({ apiKey: livekit.apiKey, apiSecret: livekit.apiSecret });

beforeAll(async () => {
  // auto_create off: a token for a room nobody created is refused (404), as a
  // deployment that creates rooms through RoomService does.
  livekit = await startLiveKit({ room: { autoCreate: false } });
  proxy = await startTestProxy(livekit);
  await new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret).createRoom({ name: ROOM, emptyTimeout: 600 });
  e2e = await startE2E({
    // Token server for token-bound pages: binds a token of the requested kind to the page's key.
    'POST /token': async (_req, res, body) => {
      const r = JSON.parse(body) as { kind: Kind; identity: string; algorithm: KemAlgorithm; publicKey: string };
      const pk = fromBase64Url(r.publicKey);
      if (!pk) throw new Error('publicKey is not base64url');
      res.writeHead(200, { 'content-type': 'text/plain' }).end(await makeToken(r.kind, clientKey(), r.identity, { algorithm: r.algorithm, publicKey: pk }));
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
  process.stderr.write(`[e2e] browser-errors suite took ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s\n`);
});

type Way = 'direct' | 'in-band' | 'token-bound';

interface Attempt {
  result: JoinResult;
  page: TestPage;
}

/** One connection attempt from a fresh page; the page stays open for its network log. */
async function attempt(kind: Kind, way: Way, algorithm: KemAlgorithm = 'ML-KEM-768'): Promise<Attempt> {
  const page = await e2e.open(`${way}-${kind}`);
  const identity = `${way}-${kind}`;
  const opts: JoinOptions =
    way === 'direct'
      ? { url: livekit.wsUrl, mode: 'direct', token: await makeToken(kind, liveKitKey(), identity) }
      : way === 'in-band'
        ? { url: proxy.wsUrl, mode: 'in-band', algorithm, token: await makeToken(kind, clientKey(), identity) }
        : { url: proxy.wsUrl, mode: 'token-bound', algorithm, room: ROOM, identity, tokenRequest: { kind } };
  const result = await page.join(opts);
  return { result, page };
}

function errorOf(a: Attempt): ErrorInfo {
  expect(a.result.ok, `expected a refusal; console:\n${a.page.console.join('\n')}`).toBe(false);
  return (a.result as Extract<JoinResult, { ok: false }>).error;
}

/** Through the proxy: the validate probe never left the page, and in-band nothing secret was in a URL. */
function expectNothingLeft(a: Attempt, way: Way): void {
  const urls = a.page.net.all();
  expect(urls.filter((u) => /\/validate/.test(u))).toEqual([]);
  expect(urls.filter((u) => /[?&]join_request=/.test(u))).toEqual([]);
  if (way === 'in-band') expect(urls.filter((u) => /[?&]access_token=/.test(u))).toEqual([]);
}

describe('refusals through the proxy match LiveKit', () => {
  it('control: the same page joins the room both directly and through the proxy', async () => {
    for (const way of ['direct', 'in-band', 'token-bound'] as const) {
      const a = await attempt('valid', way);
      expect(a.result, a.page.console.join('\n')).toMatchObject({ ok: true, room: ROOM });
      await a.page.leave();
      // Direct, livekit-client puts the token and join request in the URL, and the recorder sees them.
      if (way === 'direct') expect(a.page.net.all().some((u) => /[?&]access_token=.*join_request=|[?&]join_request=.*access_token=/.test(u))).toBe(true);
      await a.page.close();
    }
  });

  it('expired token: NotAllowed 401 either way, "expired" in both reasons', async () => {
    const direct = errorOf(await attempt('expired', 'direct'));
    expect(direct).toMatchObject({ isConnectionError: true, reasonOf: 'NotAllowed', status: 401 });
    expect(direct.message).toMatch(/token is expired/);
    for (const way of ['in-band', 'token-bound'] as const) {
      const a = await attempt('expired', way);
      const viaProxy = errorOf(a);
      expect(viaProxy, way).toMatchObject({
        isConnectionError: true,
        name: direct.name,
        reason: direct.reason,
        reasonOf: 'NotAllowed',
        reasonName: direct.reasonName,
        status: direct.status,
      });
      expect(viaProxy.message).toMatch(/expired/);
      expectNothingLeft(a, way);
      process.stderr.write(
        `[e2e] expired token, ${way}: ${JSON.stringify(viaProxy.message)}; direct: ${JSON.stringify(direct.message.replace(/invalid token: [^,]+/, 'invalid token: <jwt>'))}\n`,
      );
    }
  });

  it('grant without roomJoin: LiveKit\'s own 401 "permissions denied", identical through the proxy', async () => {
    const direct = errorOf(await attempt('no-room-join', 'direct'));
    expect(direct).toMatchObject({ isConnectionError: true, reasonOf: 'NotAllowed', status: 401, message: `${SIGNAL_FAILED}permissions denied` });
    for (const way of ['in-band', 'token-bound'] as const) {
      for (const algorithm of ['ML-KEM-768', 'X-Wing'] as const) {
        const a = await attempt('no-room-join', way, algorithm);
        expect(errorOf(a), `${way} ${algorithm}`).toEqual(direct);
        expectNothingLeft(a, way);
      }
    }
  });

  it("token for a room that does not exist: LiveKit's own 404, identical through the proxy", async () => {
    const direct = errorOf(await attempt('other-room', 'direct'));
    expect(direct).toMatchObject({ isConnectionError: true, reasonOf: 'NotAllowed', status: 404, message: `${SIGNAL_FAILED}requested room does not exist` });
    for (const way of ['in-band', 'token-bound'] as const) {
      const a = await attempt('other-room', way);
      expect(errorOf(a), way).toEqual(direct);
      expectNothingLeft(a, way);
    }
  });
});
