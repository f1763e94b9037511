// Server authentication in the browser (docs/PROTOCOL.md section 10): the same
// page and the real livekit-client with installPqWebSocket, the pins carried
// in the token (video.pqServerKeys, from the proxy's GET /server-keys), so the
// app changes nothing but its token server. In-band and token-bound, the
// page's pure-JS ML-DSA-65 verifies the proxy's signature and the join goes
// through; pinned to a key the proxy does not sign with, the page fails the
// connection (4526) before anything is sealed: no VollyConnect reaches the
// proxy and the validate probe never leaves the page.

import { join } from 'node:path';
import { addServerKeys, fromBase64Url, getSigner, type KemAlgorithm, type ServerKeyJson, serverKey, serverKeyJson } from '@volly/shared';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { volly } from '../../proxy/test/run-cli.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricSum } from '../harness/metrics.ts';
import { makeTempDir } from '../harness/process.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { type E2E, startE2E } from '../harness/test-page.ts';
import { token } from '../harness/tokens.ts';
import type { ErrorInfo, JoinResult } from './page/app.ts';

let livekit: LiveKitServer;
let proxy: TestProxy;
let e2e: E2E;
let published: Array<Required<ServerKeyJson>>;
/** A key the proxy does not hold. */
const stranger = serverKeyJson(serverKey(getSigner('ML-DSA-65').keygen().publicKey));
const suiteStarted = Date.now();

beforeAll(async () => {
  const file = join(makeTempDir('volly-browser-pins-'), 'server.json');
  const r = await volly(['keygen', '--algorithm', 'ML-DSA-65', '--out', file]);
  expect(r.code, r.stderr).toBe(0);
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: file });
  published = ((await (await fetch(`${proxy.adminUrl}/server-keys`)).json()) as { keys: Array<Required<ServerKeyJson>> }).keys;
  // The app's token server: binds the page's KEM key and pins the keys it is told to.
  e2e = await startE2E({
    'POST /token': async (_req, res, body) => {
      const q = JSON.parse(body) as { room: string; identity: string; algorithm: KemAlgorithm; publicKey: string; pins: 'published' | 'stranger' };
      const publicKey = fromBase64Url(q.publicKey);
      if (!publicKey) throw new Error('publicKey is not base64url');
      const t = await proxy.token(q.room, q.identity, {
        bind: { algorithm: q.algorithm, publicKey, serverKeys: q.pins === 'stranger' ? [stranger] : published },
      });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(t);
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
  process.stderr.write(`[e2e] browser-pins suite took ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s\n`);
});

/** The proxy's counters that tell whether a VollyConnect was opened (handshake duration) and how sessions ended. */
async function counters(): Promise<{ keyed: number; serverAuthFailures: number }> {
  const text = await proxy.metrics();
  return {
    keyed: metricSum(text, 'volly_handshake_duration_seconds_count'),
    serverAuthFailures: metricSum(text, 'volly_failures_total', { code: '4526' }),
  };
}

describe('pins in the token, verified in the page', () => {
  for (const algorithm of ['ML-KEM-768', 'X-Wing'] as const) {
    it(`${algorithm}: in-band and token-bound joins are authenticated by the published key`, async () => {
      const keyId = published[0]?.keyId;
      for (const mode of ['in-band', 'token-bound'] as const) {
        const page = await e2e.open(`${mode}-${algorithm}`);
        const identity = `pinned-${mode}`;
        const result = await page.join(
          mode === 'in-band'
            ? { url: proxy.wsUrl, mode, algorithm, token: await token(proxy, 'pins', identity, { extra: (at) => addServerKeys(at, published) }) }
            : { url: proxy.wsUrl, mode, algorithm, room: 'pins', identity, tokenRequest: { pins: 'published' } },
        );
        expect(result, page.console.join('\n')).toMatchObject({ ok: true, room: 'pins' });
        const { sockets } = await page.snapshot();
        expect(sockets[0]?.pq).toMatchObject({ mode, algorithm, serverKeysFrom: 'token', serverKeyId: keyId });
        await page.leave();
        await page.close();
      }
    });
  }

  it('pinned to a key the proxy does not hold: the join fails, nothing sealed reaches the proxy, the validate probe stays in the page', async () => {
    for (const mode of ['in-band', 'token-bound'] as const) {
      const before = await counters();
      const page = await e2e.open(`stranger-${mode}`);
      const identity = `stranger-${mode}`;
      const result: JoinResult = await page.join(
        mode === 'in-band'
          ? { url: proxy.wsUrl, mode, token: await token(proxy, 'pins', identity, { extra: (at) => addServerKeys(at, [stranger]) }) }
          : { url: proxy.wsUrl, mode, room: 'pins', identity, tokenRequest: { pins: 'stranger' } },
      );
      expect(result.ok, page.console.join('\n')).toBe(false);
      const error = (result as { error: ErrorInfo }).error;
      // livekit-client's own error for a failed signal connection whose validate probe answered 526.
      expect(error.isConnectionError).toBe(true);
      expect(error.reasonOf).not.toBe('NotAllowed');
      const after = await counters();
      expect(after.keyed).toBe(before.keyed);
      expect(after.serverAuthFailures).toBeGreaterThan(before.serverAuthFailures);
      const urls = page.net.all();
      expect(urls.filter((u) => /\/validate/.test(u))).toEqual([]);
      if (mode === 'in-band') expect(urls.filter((u) => /[?&](access_token|join_request)=/.test(u))).toEqual([]);
      const { sockets } = await page.snapshot();
      expect(sockets.every((s) => s.pq.serverKeyId === undefined && s.pq.serverKeysFrom === 'token')).toBe(true);
      process.stderr.write(
        `[e2e] pinned to a stranger key, ${mode}: ${JSON.stringify({ reasonOf: error.reasonOf, status: error.status, message: error.message })}\n`,
      );
      await page.close();
    }
  });
});
