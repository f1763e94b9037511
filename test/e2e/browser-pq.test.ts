// Two Chromium pages, each running the real livekit-client with
// installPqWebSocket, meet in one room through the proxy in front of the real
// LiveKit, for each KEM and handshake mode: media both ways (decoded), a data
// message both ways, then the proxy drops one page's signaling connection and
// livekit-client resumes through the proxy with media still flowing. The
// browser's own network log shows that in-band mode never puts the token or
// the join request in any URL.

import { CloseCode, fromBase64Url, KEM_ALGORITHMS, type KemAlgorithm, SESSION_ID_PARAM } from '@volly/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { type E2E, expectData, expectMediaFlowing, startE2E } from '../harness/test-page.ts';
import { until } from '../harness/wait.ts';
import type { Snapshot } from './page/app.ts';

let livekit: LiveKitServer;
let proxy: TestProxy;
let e2e: E2E;
const suiteStarted = Date.now();

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit);
  // The app's token server for token-bound pages: binds the token to the public key the page made.
  e2e = await startE2E({
    'POST /token': async (_req, res, body) => {
      const { room, identity, algorithm, publicKey } = JSON.parse(body) as { room: string; identity: string; algorithm: KemAlgorithm; publicKey: string };
      const pk = fromBase64Url(publicKey);
      if (!pk) throw new Error('publicKey is not base64url');
      const token = await proxy.token(room, identity, { bind: { algorithm, publicKey: pk } });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(token);
    },
  });
});

afterAll(async () => {
  await e2e?.close();
  await proxy?.close();
  await livekit?.stop();
  process.stderr.write(`[e2e] browser-pq suite took ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s\n`);
});

type Session = { end(code: number, reason: string): void; record?: { facts?: { identity?: string; flow?: string; algorithm?: string; sessionId?: string } } };

/** The proxy's live PQ sessions of one participant. */
function sessionsOf(identity: string): Session[] {
  return [...(proxy.proxy.ctx.live as Set<Session>)].filter((s) => s.record?.facts?.identity === identity);
}

const names = (s: Snapshot) => s.events.map((e) => e.name);
const LEAKS = /[?&](access_token|join_request)=/;

// Each scenario ends one page's signaling with a different close code, so both
// the sealed-error path (4502) and the plain drain close (1001) are resumed from
// in both handshake modes.
const matrix: Array<{ algorithm: KemAlgorithm; mode: 'in-band' | 'token-bound'; endCode: number }> = [
  { algorithm: 'ML-KEM-768', mode: 'in-band', endCode: CloseCode.Upstream },
  { algorithm: 'X-Wing', mode: 'in-band', endCode: CloseCode.GoingAway },
  { algorithm: 'ML-KEM-768', mode: 'token-bound', endCode: CloseCode.GoingAway },
  { algorithm: 'X-Wing', mode: 'token-bound', endCode: CloseCode.Upstream },
];

describe('two browsers through the PQ proxy', () => {
  it('covers every algorithm and mode', () => {
    expect(new Set(matrix.map((m) => m.algorithm))).toEqual(new Set(KEM_ALGORITHMS));
  });

  for (const { algorithm, mode, endCode } of matrix) {
    it(`${algorithm}, ${mode}: media and data both ways, then a resume through the proxy after close ${endCode}`, async () => {
      const t0 = Date.now();
      const room = `e2e-${mode}-${algorithm}`.toLowerCase().replace(/[^a-z0-9-]/g, '');
      const alice = await e2e.open('alice');
      const bob = await e2e.open('bob');
      try {
        const join = async (p: TestPage, identity: string) =>
          p.join({
            url: proxy.wsUrl,
            mode,
            algorithm,
            room,
            identity,
            publish: true,
            ...(mode === 'in-band' ? { token: await proxy.token(room, identity) } : {}),
          });
        const [ja, jb] = await Promise.all([join(alice, 'alice'), join(bob, 'bob')]);
        expect(ja, alice.console.join('\n')).toMatchObject({ ok: true, room });
        expect(jb, bob.console.join('\n')).toMatchObject({ ok: true, room });

        // Signaling went through PqWebSocket, keyed with the algorithm, in the mode asked for.
        for (const p of [alice, bob]) {
          const s = await p.snapshot();
          expect(s.sockets.length).toBeGreaterThanOrEqual(1);
          expect(s.sockets[0]?.pq).toMatchObject({ mode, algorithm });
          expect(s.sockets[0]?.pq?.fingerprint).toMatch(/^[0-9a-f]{16}$/);
        }
        expect(sessionsOf('alice')).toHaveLength(1);
        expect(sessionsOf('alice')[0]?.record?.facts).toMatchObject({ flow: mode, algorithm });

        // Media both ways, decoded.
        const aFromB = await expectMediaFlowing(alice, 'bob');
        await expectMediaFlowing(bob, 'alice');
        // Data both ways.
        await expectData(alice, bob, 'alice', `hello bob (${algorithm} ${mode})`);
        await expectData(bob, alice, 'bob', `hello alice (${algorithm} ${mode})`);
        const tMedia = Date.now();

        // The proxy drops alice's signaling; livekit-client resumes through the proxy.
        const [old] = sessionsOf('alice');
        const socketsBefore = (await alice.snapshot()).sockets.length;
        old?.end(endCode, endCode === CloseCode.GoingAway ? 'proxy draining; reconnect' : 'test: upstream lost');
        const after = await until(
          'alice to reconnect',
          async () => {
            const s = await alice.snapshot();
            return names(s).includes('reconnected') ? s : undefined;
          },
          30_000,
        );
        // A resume (signal reconnect, same participant), not a full reconnect.
        expect(names(after), JSON.stringify(after.events)).toContain('signalReconnecting');
        expect(names(after)).not.toContain('reconnecting');
        expect(after.state).toBe('connected');
        expect(after.localSid).toBe(ja.ok ? ja.localSid : '?');
        // A new PQ socket, a new proxy session, same mode and algorithm.
        expect(after.sockets.length).toBeGreaterThan(socketsBefore);
        const latest = after.sockets.at(-1);
        expect(latest?.pq).toMatchObject({ mode, algorithm });
        expect(latest?.readyState).toBe(1);
        const now = sessionsOf('alice');
        expect(now).toHaveLength(1);
        expect(now[0]).not.toBe(old);
        expect(now[0]?.record?.facts).toMatchObject({ flow: mode, algorithm });

        // Media keeps flowing both ways, and data still crosses.
        const aFromB2 = await expectMediaFlowing(alice, 'bob');
        expect(aFromB2.video?.bytesReceived).toBeGreaterThan(aFromB.video?.bytesReceived ?? 0);
        await expectMediaFlowing(bob, 'alice');
        await expectData(alice, bob, 'alice', 'still here after the resume');
        // Bob never saw alice leave.
        const bobEvents = await bob.snapshot();
        expect(bobEvents.events.filter((e) => e.name === 'participantDisconnected')).toEqual([]);

        // What the browser sent: in-band, no URL of any kind carries the token or the join request.
        const urls = [...alice.net.all(), ...bob.net.all()];
        const wsUrls = [...alice.net.websockets, ...bob.net.websockets];
        // Two joins and a resume, seen by Playwright and by Chromium's own network events (CDP).
        expect(wsUrls.filter((u) => u.startsWith(`${proxy.wsUrl}/rtc`)).length).toBeGreaterThanOrEqual(3);
        expect([...alice.net.cdp, ...bob.net.cdp].filter((u) => u.startsWith(`${proxy.wsUrl}/rtc`)).length).toBeGreaterThanOrEqual(3);
        expect(urls.filter((u) => /join_request=/.test(u))).toEqual([]);
        if (mode === 'in-band') {
          expect(urls.filter((u) => LEAKS.test(u))).toEqual([]);
        } else {
          // Token-bound: the URL carries the (key-bound) token and the client's session id, nothing else.
          for (const u of wsUrls) expect([...new URL(u).searchParams.keys()]).toEqual(['access_token', SESSION_ID_PARAM]);
        }
        process.stderr.write(
          `[e2e] ${algorithm} ${mode}: joined+media+data in ${((tMedia - t0) / 1000).toFixed(1)} s; resumed after close ${endCode} in ${((Date.now() - tMedia) / 1000).toFixed(1)} s; ` +
            `media path ${aFromB2.video?.path ?? '?'}\n`,
        );
      } finally {
        await alice.leave().catch(() => {});
        await bob.leave().catch(() => {});
        await alice.close();
        await bob.close();
      }
    });
  }
});
