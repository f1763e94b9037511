// Headless Debian Chromium for the end-to-end tests, driven by playwright-core,
// plus the two things a page needs: an esbuild bundle of its script (the real
// livekit-client and @volly/shared's browser entry) and a tiny static HTTP
// server on 127.0.0.1 that serves it, with room for test-defined endpoints
// (e.g. a token server).
//
// Chromium is Debian's (`apt-get install chromium`), never a Playwright
// download.
//
// WebRTC on one machine: LiveKit offers a single candidate, 127.0.0.1:<udp>.
// Chromium never gathers on the loopback interface (net::GetNetworkList skips
// it; --allow-loopback-in-peer-connection no longer changes that in Chromium
// 156), so its host candidate is the machine's own interface address, and the
// ICE checks and media go from that address to 127.0.0.1 and back: both ends
// are local, so the packets stay on the loopback path and never reach a wire.
// By default Chromium hides host candidates behind random mDNS names and
// announces them by multicast on that interface; WebRtcHideLocalIpsWithMdns is
// disabled so candidates are plain addresses and nothing is multicast.

import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { build } from 'esbuild';
import { type BrowserContext, type BrowserContextOptions, chromium, type Page } from 'playwright-core';

export const CHROMIUM_PATH = process.env.VOLLY_CHROMIUM ?? '/usr/bin/chromium';

/** The flags the design names for every test browser. */
export const BASE_FLAGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--use-fake-ui-for-media-stream',
  '--use-fake-device-for-media-stream',
];

/**
 * Features to disable. Chromium honours only the last `--disable-features`
 * switch, and Playwright passes its own first, so this list repeats
 * Playwright's (1.65: the ones that keep the browser off Google's servers
 * and quiet at startup) and adds WebRtcHideLocalIpsWithMdns.
 */
export const DISABLED_FEATURES = [
  'WebRtcHideLocalIpsWithMdns',
  'AvoidUnnecessaryBeforeUnloadCheckSync',
  'DestroyProfileOnBrowserClose',
  'HttpsUpgrades',
  'HttpsFirstBalancedModeAutoEnable',
  'LensOverlay',
  'MediaRouter',
  'PaintHolding',
  'ThirdPartyStoragePartitioning',
  'AvoidCorsURLLoaderRestartOnRedirect',
  'OptimizationHints',
  'NetworkTimeServiceQuerying',
  'AimEnabled',
  'PreconnectToSearch',
  'Translate',
  'InterestFeedContentSuggestions',
  'CertificateTransparencyComponentUpdater',
];

/** What WebRTC needs between a page and LiveKit on 127.0.0.1 (plain host candidates; remote audio may play unprompted). */
export const WEBRTC_LOOPBACK_FLAGS = [`--disable-features=${DISABLED_FEATURES.join(',')}`, '--autoplay-policy=no-user-gesture-required'];

export interface TestBrowser {
  /** One browser with a fresh profile (user-data-dir) of its own, removed on close. */
  readonly context: BrowserContext;
  readonly userDataDir: string;
  /** A new tab in that profile. */
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/** Throws a clear error when Debian's chromium is not installed. */
export function assertChromium(): void {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}: the browser tests need Debian's chromium (apt-get install chromium), or VOLLY_CHROMIUM=/path`);
  }
}

export interface LaunchOptions {
  /** Extra Chromium switches. */
  args?: string[];
  contextOptions?: BrowserContextOptions;
}

/**
 * Launches Debian Chromium headless with a fresh user-data-dir (a temp
 * directory, deleted on close). Camera and microphone are Chromium's fake
 * devices (a test pattern and a beep), allowed without a prompt.
 */
export async function launchBrowser(opts: LaunchOptions = {}): Promise<TestBrowser> {
  assertChromium();
  const userDataDir = await mkdtemp(join(tmpdir(), 'volly-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: CHROMIUM_PATH,
      headless: true,
      args: [...BASE_FLAGS, ...WEBRTC_LOOPBACK_FLAGS, ...(opts.args ?? [])],
      // Playwright must not install handlers that outlive the test worker's own.
      handleSIGINT: false,
      handleSIGTERM: false,
      handleSIGHUP: false,
      timeout: 60_000,
      ...opts.contextOptions,
    });
  } catch (err) {
    await rm(userDataDir, { recursive: true, force: true });
    throw err;
  }
  // A persistent context opens with one blank tab; close it so pages are only ours.
  for (const p of context.pages()) await p.close().catch(() => {});
  return {
    context,
    userDataDir,
    newPage: () => context.newPage(),
    async close() {
      await context.close().catch(() => {});
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}

// ---------------------------------------------------------------------------
// Bundling

export interface BundleOptions {
  /** Minify (default false: readable stacks in page errors). */
  minify?: boolean;
  /** Values for `define` (e.g. build-time constants). */
  define?: Record<string, string>;
}

/**
 * Bundles `entry` (a TS/JS module) for the browser as one ESM file: esbuild
 * with platform 'browser', so @volly/shared resolves through its `browser`
 * export condition (dist/browser.js: pure-JS noble crypto, nothing from node:*).
 */
export async function bundlePage(entry: string, opts: BundleOptions = {}): Promise<string> {
  const result = await build({
    entryPoints: [entry],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    minify: opts.minify ?? false,
    sourcemap: false,
    logLevel: 'silent',
    ...(opts.define ? { define: opts.define } : {}),
  });
  const out = result.outputFiles[0];
  if (!out) throw new Error(`esbuild produced no output for ${entry}`);
  return out.text;
}

// ---------------------------------------------------------------------------
// Static server

export type Handler = (req: IncomingMessage, res: ServerResponse, body: string) => void | Promise<void>;

export interface StaticServer {
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** Every request the server saw: method and URL (path and query). */
  readonly requests: Array<{ method: string; url: string }>;
  close(): Promise<void>;
}

export interface StaticRoute {
  readonly type: string;
  readonly body: string;
}

/**
 * A tiny HTTP server on 127.0.0.1: fixed files (path -> content) and
 * handlers (`'POST /token'` -> function). Anything else is 404.
 */
export async function serveStatic(files: Record<string, StaticRoute>, handlers: Record<string, Handler> = {}): Promise<StaticServer> {
  const requests: Array<{ method: string; url: string }> = [];
  const server = createServer(async (req, res) => {
    const method = req.method ?? 'GET';
    const url = req.url ?? '/';
    requests.push({ method, url });
    const path = new URL(url, 'http://x').pathname;
    try {
      const handler = handlers[`${method} ${path}`];
      if (handler) {
        const chunks: Buffer[] = [];
        for await (const c of req) chunks.push(c as Buffer);
        await handler(req, res, Buffer.concat(chunks).toString('utf8'));
        return;
      }
      const file = method === 'GET' ? files[path] : undefined;
      if (!file) {
        res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
        return;
      }
      res.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
    } catch (err) {
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
      res.end(String((err as Error)?.message ?? err));
    }
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0 }, () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A minimal HTML page that loads `/app.js` as a module. */
export const PAGE_HTML =
  '<!doctype html><html><head><meta charset="utf-8"><title>volly e2e</title></head><body><script type="module" src="/app.js"></script></body></html>';

// ---------------------------------------------------------------------------
// Network recording

export interface NetworkRecord {
  /** Every URL the page asked for over HTTP(S) (Playwright's request events). */
  readonly requests: string[];
  /** Every WebSocket URL the page opened (Playwright's websocket events). */
  readonly websockets: string[];
  /** URLs Chromium's own network stack reported over CDP (requests and WebSocket handshakes). */
  readonly cdp: string[];
  /** All of the above. */
  all(): string[];
}

/**
 * Records what the page's browser sends, as the browser sees it: Playwright's
 * request and websocket events, and CDP Network events (requestWillBeSent,
 * webSocketCreated, webSocketWillSendHandshakeRequest), which also cover
 * requests Playwright does not surface (e.g. from workers of the page).
 */
export async function recordNetwork(page: Page): Promise<NetworkRecord> {
  const requests: string[] = [];
  const websockets: string[] = [];
  const cdp: string[] = [];
  page.on('request', (r) => requests.push(r.url()));
  page.on('websocket', (ws) => websockets.push(ws.url()));
  const session = await page.context().newCDPSession(page);
  session.on('Network.requestWillBeSent', (e) => cdp.push(e.request.url));
  session.on('Network.webSocketCreated', (e) => cdp.push(e.url));
  session.on('Network.webSocketWillSendHandshakeRequest', (e) => {
    const url = (e.request as { url?: string }).url;
    if (url) cdp.push(url);
  });
  await session.send('Network.enable');
  return { requests, websockets, cdp, all: () => [...requests, ...websockets, ...cdp] };
}
