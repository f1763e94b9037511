// @volly/shared as a user installs it: `npm pack` of shared/, installed with
// one `npm install` into a Vite app outside the workspace beside
// livekit-client (both from the npm registry), built for production with
// `vite build`, served as static files and opened in headless Chromium. The
// page (vite-app/main.ts, written as the package README says) makes its key
// pair, asks the app's token server for a token bound to it, installs the
// shim with its defaults and joins a real LiveKit through the real proxy: the
// proxy counts a volly-pq.v2 bound session. A token bound to a key the page
// does not hold ends in the ConnectionError the README describes, with
// nothing reaching LiveKit. Prints the bundle size (total and gzip).

import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { addPqClaims, fromBase64Url, type KemAlgorithm } from '@volly/shared';
import { AccessToken } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { volly } from '../../proxy/test/run-cli.ts';
import { launchBrowser, type StaticServer, serveStatic, type TestBrowser } from '../harness/browser.ts';
import { nothingReachesLiveKit } from '../harness/leaks.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricSum } from '../harness/metrics.ts';
import { makeTempDir } from '../harness/process.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { type Built, buildApp, type Installed, installApp, type Packed, packShared } from './vite-app/prepare.ts';

let packed: Packed;
let installed: Installed;
let built: Built;
let baseline: Built;
let livekit: LiveKitServer;
let proxy: TestProxy;
let site: StaticServer;
let browser: TestBrowser;

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.svg': 'image/svg+xml' };
const typeOf = (path: string) => TYPES[path.slice(path.lastIndexOf('.'))] ?? 'application/octet-stream';

beforeAll(async () => {
  packed = await packShared(mkdtempSync(join(tmpdir(), 'volly-pack-')));
  installed = await installApp(packed);
  built = await buildApp(installed.dir);
  baseline = await buildApp(installed.dir, true);
  const keyFile = join(makeTempDir('vite-app'), 'x-wing.json');
  const kg = await volly(['keygen', '--algorithm', 'X-Wing', '--out', keyFile]);
  expect(kg.code, kg.stderr).toBe(0);
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: keyFile });
  const files = Object.fromEntries([...built.files].map(([path, body]) => [path, { type: typeOf(path), body: body.toString('utf8') }]));
  if (files['/index.html']) files['/'] = files['/index.html'];
  // The app's token server, as the README shows it: the page's raw public key arrives base64url in a POST body.
  site = await serveStatic(files, {
    'POST /token': async (_req, res, body) => {
      const q = JSON.parse(body) as { room: string; identity: string; algorithm: KemAlgorithm; publicKey: string };
      const publicKey = fromBase64Url(q.publicKey);
      if (!publicKey) return void res.writeHead(400).end('publicKey is not base64url');
      const at = new AccessToken(proxy.apiKey, proxy.apiSecret, { identity: q.identity, ttl: '10m' });
      at.addGrant({ roomJoin: true, room: q.room, canPublish: true, canSubscribe: true });
      addPqClaims(at, { algorithm: q.algorithm, publicKey });
      res.writeHead(200, { 'content-type': 'text/plain' }).end(await at.toJwt());
    },
  });
  browser = await launchBrowser();
  process.stderr.write(
    `[e2e] vite app: npm pack ${packed.size} B (${packed.files.length} files, ${packed.unpackedSize} B unpacked); ` +
      `install of vite+livekit-client ${installed.baseMs ? `${installed.baseMs} ms` : 'cached'}, npm install <tarball> ${installed.installMs} ms; ` +
      `vite build ${built.ms} ms: JavaScript ${built.js.bytes} B, ${built.js.gzip} B gzipped ` +
      `(livekit-client alone ${baseline.js.bytes} B, ${baseline.js.gzip} B gzipped: @volly/shared adds ${built.js.bytes - baseline.js.bytes} B, ` +
      `${built.js.gzip - baseline.js.gzip} B gzipped)\n`,
  );
}, 900_000);

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await proxy?.close();
  await livekit?.stop();
});

/** livekit-client's ConnectionErrorReason.NotAllowed (the library itself is for browsers, not this Node test). */
const NOT_ALLOWED = 0;

type PageResult = {
  ok: boolean;
  room?: string;
  identity?: string;
  name?: string;
  message?: string;
  reason?: number;
  status?: number;
  pq?: Record<string, unknown>;
};

async function openApp(room: string, identity: string, extra = ''): Promise<PageResult> {
  const page = await browser.newPage();
  const logs: string[] = [];
  page.on('console', (m) => logs.push(m.text()));
  page.on('pageerror', (e) => logs.push(String(e)));
  try {
    await page.goto(`${site.url}/?url=${encodeURIComponent(proxy.wsUrl)}&room=${room}&identity=${identity}${extra}`);
    const result = (await page.evaluate(() => (window as unknown as { volly: Promise<unknown> }).volly)) as PageResult;
    expect(result, logs.join('\n')).toBeDefined();
    return result;
  } finally {
    await page.close();
  }
}

describe('@volly/shared from npm pack in a Vite app', () => {
  it('packs only what a user needs: the built library, its types, README and LICENSE', () => {
    const others = packed.files.filter((f) => !f.startsWith('dist/'));
    expect(others).toEqual(['LICENSE', 'README.md', 'package.json']);
    expect(packed.files).toEqual(expect.arrayContaining(['dist/index.js', 'dist/index.d.ts', 'dist/browser.js', 'dist/browser.d.ts']));
    expect(packed.files.filter((f) => /\.map$|\.tsbuildinfo$|(^|\/)(src|test|bench|scripts|proto|test-vectors)\//.test(f))).toEqual([]);
  });

  it('installs with one npm install beside livekit-client and builds a browser bundle with nothing of Node', () => {
    expect(built.files.has('/index.html')).toBe(true);
    const js = [...built.files].filter(([p]) => p.endsWith('.js')).map(([, b]) => b.toString('utf8'));
    expect(js.length).toBeGreaterThan(0);
    // The browser condition: pure-JS noble crypto; no import of a Node module, no sodium-native
    // (schedule.ts only feature-detects process.getBuiltinModule, which a browser lacks).
    expect(js.filter((s) => s.includes('sodium-native') || /\bfrom\s*["'`]node:|\b(require|import)\(\s*["'`]node:/.test(s))).toEqual([]);
    expect(js.some((s) => s.includes('volly-pq.v2'))).toBe(true);
    // What the package adds to a livekit-client app, gzipped: about 42 KiB today (bundle-size.test.ts); 64 KiB means a heavy dependency crept in.
    expect(built.js.gzip - baseline.js.gzip).toBeGreaterThan(0);
    expect(built.js.gzip - baseline.js.gzip).toBeLessThan(64 * 1024);
  });

  it('joins through the proxy as a volly-pq.v2 bound session with the shim’s defaults', async () => {
    const before = await proxy.metrics();
    const r = await openApp('vite-room', 'vite-user');
    expect(r).toMatchObject({ ok: true, room: 'vite-room', identity: 'vite-user', pq: { protocol: 'volly-pq.v2', mode: 'bound', algorithm: 'X-Wing' } });
    const after = await proxy.metrics();
    // The session's algorithm is the proxy's static key's (X-Wing); the page's bound key is ML-KEM-768.
    const v2Bound = (t: string) => metricSum(t, 'volly_handshake_duration_seconds_count', 'protocol="v2",algorithm="X-Wing",flow="bound"');
    expect(v2Bound(after) - v2Bound(before)).toBe(1);
    expect(metricSum(after, 'volly_sessions_total', 'mode="classical"')).toBe(0);
  });

  it('a token bound to a key the page does not hold: ConnectionError NotAllowed (401), nothing reaches LiveKit', async () => {
    const r = await nothingReachesLiveKit(proxy, livekit, 'vite-stranger', () => openApp('vite-room', 'vite-stranger', '&foreign=1'));
    expect(r).toMatchObject({ ok: false, name: 'ConnectionError', reason: NOT_ALLOWED, status: 401 });
    expect(r.message).toContain('the token is bound to a key this client does not hold');
  });
});
