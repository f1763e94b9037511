// Refusals as a browser app on ANOTHER origin sees them (issue 12 item 15).
// The page is served by the e2e static server on 127.0.0.1:<A>, the proxy and
// LiveKit listen on 127.0.0.1:<B> and <C>: different ports, different origins,
// so every reply livekit-client reads from them is subject to CORS. The page
// runs the real livekit-client WITHOUT the shim: when the WebSocket upgrade is
// refused, livekit-client fetches `/rtc/v1/validate` from the same server and
// builds its ConnectionError from that reply's status and text. If Chromium
// blocks the reply for CORS, the app sees only "Failed to fetch"
// (ServerUnreachable, no status) instead of why it was refused.
//
// Each refusal is compared with the same page against LiveKit directly where
// LiveKit has an equivalent. Draining and busy never reach an HTTP reply the
// page can read (the listener is closed; a handshake slot is only taken by
// PQ upgrades, whose validate probe the shim answers in the page): for those
// the test records what the app sees and asserts a defined, prompt failure.

import { connect, type Socket } from 'node:net';
import { getKem, redactTokens, SUBPROTOCOL } from '@volly/shared';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { generateApiKeyPair, type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { getFreePort } from '../harness/ports.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { type E2E, startE2E, type TestPage } from '../harness/test-page.ts';
import { token } from '../harness/tokens.ts';
import type { ErrorInfo, JoinOptions, JoinResult } from './page/app.ts';

const ROOM = 'cors-room';
/** Room.connect wraps the signal client's error: "could not establish signal connection: " + its message. */
const SIGNAL_FAILED = 'could not establish signal connection: ';
/** What Chromium's fetch rejects with when it gets no readable reply (network error or CORS block). */
const FAILED_TO_FETCH = `${SIGNAL_FAILED}Failed to fetch`;

let livekit: LiveKitServer;
/** Default policy (prefer): classical clients are proxied, their tokens checked. */
let prefer: TestProxy;
/** VOLLY_PQ_POLICY=require: classical clients are refused with 403. */
let require_: TestProxy;
/** One handshake slot, no queue, long deadlines: one held PQ handshake makes it busy. */
let busy: TestProxy;
/** Drained by its test (kept apart so nothing else is refused). */
let draining: TestProxy;
let e2e: E2E;
const suiteStarted = Date.now();

beforeAll(async () => {
  livekit = await startLiveKit();
  [prefer, require_, busy, draining] = await Promise.all([
    startTestProxy(livekit),
    startTestProxy(livekit, { VOLLY_PQ_POLICY: 'require' }),
    startTestProxy(livekit, {
      VOLLY_MAX_HANDSHAKES: '1',
      VOLLY_HANDSHAKE_QUEUE: '0',
      VOLLY_HANDSHAKE_TIMEOUT_MS: '60000',
      VOLLY_FIRST_MESSAGE_TIMEOUT_MS: '60000',
    }),
    startTestProxy(livekit),
  ]);
  e2e = await startE2E();
});

afterEach(async () => {
  await e2e?.closePages();
});

afterAll(async () => {
  await e2e?.close();
  for (const p of [prefer, require_, busy, draining]) await p?.close();
  await livekit?.stop();
  process.stderr.write(`[e2e] browser-cors suite took ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s\n`);
});

type Key = { apiKey: string; apiSecret: string };

const keyOf = (p: TestProxy): Key => ({ apiKey: p.apiKey, apiSecret: p.apiSecret });
const liveKitKey = (): Key => ({ apiKey: livekit.apiKey, apiSecret: livekit.apiSecret });

/** A reply the page got from the server it connected to (its validate probe, mostly). */
interface SeenReply {
  path: string;
  status: number;
  allowOrigin: string | undefined;
}

interface Attempt {
  page: TestPage;
  result: JoinResult;
  error: ErrorInfo;
  ms: number;
  /** Replies from the server under test, as Chromium's network stack received them. */
  replies: SeenReply[];
  /** Requests Chromium failed for CORS (CDP Network.loadingFailed with a corsErrorStatus). */
  corsBlocked: string[];
}

/**
 * One join from a fresh page on the e2e origin to `url` (a different origin),
 * recording every reply from that server and every CORS block. The join must
 * fail: the result, its time and what the network saw are returned.
 */
async function attempt(name: string, url: string, opts: Omit<JoinOptions, 'url'>): Promise<Attempt> {
  const page = await e2e.open(name);
  const server = new URL(url.replace(/^ws/, 'http')).origin;
  expect(server, 'the page must be on another origin than the server').not.toBe(new URL(e2e.site.url).origin);
  const replies: SeenReply[] = [];
  page.page.on('response', (r) => {
    const u = new URL(r.url());
    if (u.origin === server) replies.push({ path: u.pathname, status: r.status(), allowOrigin: r.headers()['access-control-allow-origin'] });
  });
  const corsBlocked: string[] = [];
  const cdp = await page.page.context().newCDPSession(page.page);
  cdp.on('Network.loadingFailed', (e) => {
    if (e.corsErrorStatus) corsBlocked.push(`${e.corsErrorStatus.corsError} ${e.errorText}`);
  });
  await cdp.send('Network.enable');
  const t0 = Date.now();
  const result = await page.join({ url, ...opts });
  const ms = Date.now() - t0;
  // Chromium reports a CORS block over CDP a moment after the page's fetch has already failed.
  await new Promise((r) => setTimeout(r, 500));
  expect(result.ok, `expected a refusal; console:\n${consoleOf(page)}`).toBe(false);
  const error = (result as Extract<JoinResult, { ok: false }>).error;
  // Tokens sit in the validate URL; the record printed keeps only the error.
  process.stderr.write(`[e2e] cors ${name}: ${JSON.stringify(error)} in ${ms} ms\n`);
  return { page, result, error, ms, replies, corsBlocked };
}

/** The page's console for a failure message, without the tokens its URLs carry. */
const consoleOf = (p: TestPage): string => redactTokens(p.console.join('\n'));

/** Chromium handed the app every reply: no CORS block in CDP or on the console. */
function expectNothingBlocked(a: Attempt): void {
  expect(a.corsBlocked, 'requests Chromium blocked for CORS').toEqual([]);
  expect(a.page.console.filter((l) => /CORS policy|Access-Control-Allow-Origin/i.test(l)).map(redactTokens), 'CORS errors on the console').toEqual([]);
}

/** The app read the validate reply: it was answered with `status` and an Allow-Origin the page's origin passes. */
function expectValidateRead(a: Attempt, status: number): void {
  const validate = a.replies.filter((r) => r.path.endsWith('/validate'));
  expect(validate, 'the validate probe and its reply').toHaveLength(1);
  expect(validate[0]).toMatchObject({ status });
  expect(['*', new URL(e2e.site.url).origin]).toContain(validate[0]?.allowOrigin);
  expectNothingBlocked(a);
}

describe('refusals read by a page on another origin, unshimmed livekit-client', () => {
  it('control: the page joins through the proxy and directly', async () => {
    for (const [url, key] of [
      [prefer.wsUrl, keyOf(prefer)],
      [livekit.wsUrl, liveKitKey()],
    ] as const) {
      const page = await e2e.open('control');
      const r = await page.join({ url, mode: 'direct', token: await token(key, ROOM, `control-${url.slice(-5)}`) });
      expect(r, consoleOf(page)).toMatchObject({ ok: true, room: ROOM });
      await page.leave();
      await page.close();
    }
  });

  it('bad token (unknown key) under prefer: 401 NotAllowed with the reason, like direct LiveKit\'s "invalid API key"', async () => {
    const unknown = generateApiKeyPair();
    const direct = await attempt('bad-token-direct', livekit.wsUrl, { mode: 'direct', token: await token(unknown, ROOM, 'bad-direct') });
    expect(direct.error).toMatchObject({ isConnectionError: true, reasonOf: 'NotAllowed', status: 401 });
    expect(direct.error.message).toMatch(/invalid API key/);
    expectValidateRead(direct, 401);

    const via = await attempt('bad-token-proxy', prefer.wsUrl, { mode: 'direct', token: await token(unknown, ROOM, 'bad-proxy') });
    const { message, ...rest } = via.error;
    const { message: _directMessage, ...directRest } = direct.error;
    expect(rest).toEqual(directRest);
    expect(message).toBe(`${SIGNAL_FAILED}token signed with an unknown API key`);
    expectValidateRead(via, 401);
  });

  it('VOLLY_PQ_POLICY=require: the app sees 403 NotAllowed and the proxy\'s reason, not "Failed to fetch"', async () => {
    const via = await attempt('policy', require_.wsUrl, { mode: 'direct', token: await token(keyOf(require_), ROOM, 'policy') });
    expect(via.error).toMatchObject({
      isConnectionError: true,
      reasonOf: 'NotAllowed',
      status: 403,
      message: `${SIGNAL_FAILED}this server requires post-quantum signaling (volly-pq); classical clients are refused`,
    });
    expectValidateRead(via, 403);
  });

  it("PQ-bound token on a classical connection: 401 NotAllowed with the proxy's reason (LiveKit would ignore the binding)", async () => {
    const bind = { algorithm: 'ML-KEM-768' as const, publicKey: getKem('ML-KEM-768').keygen().publicKey };
    const via = await attempt('bound', prefer.wsUrl, { mode: 'direct', token: await token(keyOf(prefer), ROOM, 'bound', { bind }) });
    expect(via.error).toMatchObject({
      isConnectionError: true,
      reasonOf: 'NotAllowed',
      status: 401,
      message: `${SIGNAL_FAILED}token is bound to a post-quantum key; connect with volly-pq`,
    });
    expectValidateRead(via, 401);
  });
});

/**
 * A PQ upgrade on a raw TCP socket that then reads nothing and answers
 * nothing: it holds a handshake slot, and when the proxy closes it the close
 * handshake never completes, so the session stays live (and a drain stays in
 * progress) until the socket is destroyed.
 */
function holdHandshake(p: TestProxy, localAddress = '127.0.0.2'): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: p.proxy.port, localAddress }, () => {
      s.write(
        'GET /rtc HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
          `Sec-WebSocket-Key: ${Buffer.alloc(16, 7).toString('base64')}\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: ${SUBPROTOCOL}\r\n\r\n`,
      );
    });
    s.once('error', reject);
    s.once('data', (d: Buffer) => {
      s.pause();
      if (d.toString('latin1').startsWith('HTTP/1.1 101')) resolve(s);
      else reject(new Error(`upgrade refused: ${d.toString('latin1').split('\r\n')[0]}`));
    });
  });
}

describe('refusals with no HTTP reply the page can read', () => {
  it('draining: the listener is closed, so the app gets the same prompt "Failed to fetch" as from a port nothing listens on', async () => {
    // An earlier request leaves an idle keep-alive connection to the proxy in the browser's pool: the drain must not answer on it either.
    const earlier = await e2e.open('draining-earlier');
    expect(await earlier.page.evaluate((u) => fetch(u).then((r) => r.status), `${draining.url}/`)).toBe(200);
    const holder = await holdHandshake(draining);
    const drained = draining.proxy.drain(60_000);
    try {
      // The drain is in progress: the held session keeps it from finishing.
      await new Promise((r) => setTimeout(r, 200));
      expect(draining.proxy.ctx.draining).toBe(true);
      expect(draining.proxy.ctx.live.size).toBe(1);
      const via = await attempt('draining', draining.wsUrl, { mode: 'direct', token: await token(keyOf(draining), ROOM, 'draining') });
      expect(draining.proxy.ctx.live.size, 'the drain was still in progress during the attempt').toBe(1);
      // Equivalent without the proxy: LiveKit not listening at all.
      const closedPort = await getFreePort();
      const nobody = await attempt('nobody', `ws://127.0.0.1:${closedPort}`, { mode: 'direct', token: await token(liveKitKey(), ROOM, 'nobody') });
      expect(via.error).toEqual(nobody.error);
      expect(via.error).toMatchObject({ isConnectionError: true, reasonOf: 'ServerUnreachable', message: FAILED_TO_FETCH });
      expect(via.error.status).toBeUndefined();
      // Nothing answered: no reply was blocked, there was none; and it failed promptly, not at livekit-client's 15 s timeout.
      expect(via.replies).toEqual([]);
      expectNothingBlocked(via);
      expect(via.ms).toBeLessThan(10_000);
    } finally {
      holder.destroy();
      await drained;
    }
  });

  it('busy: an unshimmed page takes no handshake slot and joins; a shimmed page is refused promptly, its probe answered in the page', async () => {
    // Slot taken by a held PQ handshake from another address (so the refusal is "busy", not "source").
    const holder = await holdHandshake(busy);
    try {
      expect(busy.proxy.ctx.limiter.active).toBe(1);
      const plain = await e2e.open('busy-plain');
      const joined = await plain.join({ url: busy.wsUrl, mode: 'direct', token: await token(keyOf(busy), ROOM, 'busy-plain') });
      expect(joined, consoleOf(plain)).toMatchObject({ ok: true, room: ROOM });
      await plain.leave();

      const before = await busy.metrics();
      const pq = await attempt('busy-pq', busy.wsUrl, { mode: 'in-band', token: await token(keyOf(busy), ROOM, 'busy-pq') });
      const after = await busy.metrics();
      const refusals = (t: string) => Number(/^volly_handshake_refusals_total\{reason="busy"\} (\S+)$/m.exec(t)?.[1] ?? 0);
      expect(refusals(after) - refusals(before)).toBe(1);
      // The browser hides a refused upgrade's status from every page (CORS or not); the shim reports the proxy unreachable.
      // With no failure from the PQ session to answer its probe with, the shim fails the probe as a network error would.
      expect(pq.error).toMatchObject({
        isConnectionError: true,
        reasonOf: 'ServerUnreachable',
        message: `${SIGNAL_FAILED}volly-pq: signaling connection failed before the PQ session`,
      });
      expect(pq.error.status).toBeUndefined();
      expect(pq.ms).toBeLessThan(10_000);
      // The validate probe never left the page (it carries the token): no proxy reply to block.
      expect(pq.page.net.all().filter((u) => u.includes('/validate'))).toEqual([]);
      expect(pq.replies).toEqual([]);
      expectNothingBlocked(pq);
    } finally {
      holder.destroy();
    }
  });
});
