// What the E2EE browser tests (and the e2ee bench scenario) share: the E2EE
// page (page/e2ee-app.ts) and livekit-client's e2ee worker bundled and served
// on 127.0.0.1 next to the app's token server, which signs a volly-e2ee.v1
// statement with the app key (or another key, for the page that must be
// refused); one Chromium; and the offline check of a livekit-client frame
// against a raw media key, done here with node:crypto.

import { createDecipheriv, hkdfSync } from 'node:crypto';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { getSigner, type SigKeyPair, signE2eeStatement } from '@volly/shared';
import { AccessToken } from 'livekit-server-sdk';
import type { Page } from 'playwright-core';
import { bundlePage, launchBrowser, PAGE_HTML, type StaticServer, serveStatic, type TestBrowser } from '../harness/browser.ts';
import type { E2eeJoin, RemoteView, Ve } from './page/e2ee-app.ts';

export const E2EE_CONTEXT = 'volly-test/e2ee';
const PAGE = fileURLToPath(new URL('./page/e2ee-app.ts', import.meta.url));
// livekit-client exports no ./package.json; its main entry sits in dist/ next to the worker.
const WORKER = join(dirname(createRequire(import.meta.url).resolve('livekit-client')), 'livekit-client.e2ee.worker.mjs');

export interface E2eeSite {
  readonly app: SigKeyPair;
  readonly browser: TestBrowser;
  readonly site: StaticServer;
  open(name: string): Promise<E2eePage>;
  close(): Promise<void>;
}

export interface E2eePage {
  readonly name: string;
  readonly page: Page;
  readonly console: string[];
  join(o: Omit<E2eeJoin, 'appPublicKey' | 'context'>): Promise<void>;
  view(toneHz?: number): Promise<RemoteView[]>;
  call<K extends keyof Ve>(
    name: K,
    ...args: Ve[K] extends (...a: infer A) => unknown ? A : never
  ): Promise<Awaited<ReturnType<Extract<Ve[K], (...a: never[]) => unknown>>>>;
}

/** Serves the E2EE page and a token server signing with a fresh app key; `credentials` are the proxy's client API key and secret. */
export async function startE2eeSite(credentials: { apiKey: string; apiSecret: string }): Promise<E2eeSite> {
  const app = getSigner('ML-DSA-65').keygen();
  const other = getSigner('ML-DSA-65').keygen();
  const [page, worker] = await Promise.all([bundlePage(PAGE), bundlePage(WORKER)]);
  const js = 'text/javascript; charset=utf-8';
  const site = await serveStatic(
    { '/': { type: 'text/html; charset=utf-8', body: PAGE_HTML }, '/app.js': { type: js, body: page }, '/e2ee-worker.js': { type: js, body: worker } },
    {
      'POST /e2ee-token': async (_req, res, body) => {
        const q = JSON.parse(body) as { room: string; identity: string; signer: 'app' | 'other'; request?: Parameters<typeof signE2eeStatement>[0]['request'] };
        const at = new AccessToken(credentials.apiKey, credentials.apiSecret, { identity: q.identity, ttl: '10m' });
        at.addGrant({ roomJoin: true, room: q.room, canPublish: true, canSubscribe: true, canPublishData: true });
        const appSecretKey = (q.signer === 'other' ? other : app).secretKey;
        const statement = q.request ? signE2eeStatement({ appSecretKey, context: E2EE_CONTEXT, room: q.room, token: at, request: q.request }) : undefined;
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ token: await at.toJwt(), statement }));
      },
    },
  );
  const browser = await launchBrowser().catch(async (err) => {
    await site.close();
    throw err;
  });
  const appPublicKey = Buffer.from(app.publicKey).toString('base64url');
  return {
    app,
    browser,
    site,
    async open(name) {
      const p = await browser.newPage();
      const lines: string[] = [];
      p.on('console', (m) => lines.push(`[${name}] ${m.type()}: ${m.text()}`));
      p.on('pageerror', (e) => lines.push(`[${name}] pageerror: ${e.message}`));
      await p.goto(`${site.url}/`);
      await p.waitForFunction(() => (globalThis as unknown as { ve?: Ve }).ve?.ready === true, undefined, { timeout: 20_000 });
      const call = ((fn: string, ...args: unknown[]) =>
        p.evaluate(
          ([f, a]) => (globalThis as unknown as Record<string, Record<string, (...x: unknown[]) => unknown>>).ve?.[f as string]?.(...(a as unknown[])),
          [fn, args] as const,
        )) as E2eePage['call'];
      return {
        name,
        page: p,
        console: lines,
        call,
        view: (hz) => call('view', hz),
        async join(o) {
          const r = await call('join', { ...o, appPublicKey, context: E2EE_CONTEXT });
          if (!r.ok) throw new Error(`${name} failed to join: ${r.error}\n${lines.slice(-20).join('\n')}`);
        },
      };
    },
    async close() {
      await browser.close();
      await site.close();
    },
  };
}

/**
 * True when `frame` (a livekit-client encrypted audio frame: 1 clear byte,
 * AES-GCM ciphertext and tag, 12-byte IV, IV length, key index) opens under
 * the frame key livekit-client derives from `mediaKey` (HKDF-SHA256, salt
 * "LKFrameEncryptionKey", 128 zero bytes of info, AES-256 with keySize 256).
 */
export function opensWith(frame: Uint8Array, mediaKey: Uint8Array): boolean {
  const n = frame.length;
  const ivLength = frame[n - 2] as number;
  if (ivLength !== 12 || n < 1 + 16 + ivLength + 2) return false;
  const key = Buffer.from(hkdfSync('sha256', mediaKey, Buffer.from('LKFrameEncryptionKey'), new Uint8Array(128), 32));
  const iv = frame.subarray(n - 2 - ivLength, n - 2);
  const sealed = frame.subarray(1, n - 2 - ivLength);
  try {
    const d = createDecipheriv('aes-256-gcm', key, iv);
    d.setAAD(frame.subarray(0, 1));
    d.setAuthTag(sealed.subarray(sealed.length - 16));
    d.update(sealed.subarray(0, sealed.length - 16));
    d.final();
    return true;
  } catch {
    return false;
  }
}
