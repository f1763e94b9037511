// The browser suites' test page (test/e2e/page): the bundled page served on 127.0.0.1,
// one Chromium, and typed calls into the page's `window.vt` (page/app.ts).

import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import type { JoinOptions, JoinResult, Snapshot, TrackStats, Vt } from '../e2e/page/app.ts';
import {
  bundlePage,
  type Handler,
  launchBrowser,
  type NetworkRecord,
  PAGE_HTML,
  recordNetwork,
  type StaticServer,
  serveStatic,
  type TestBrowser,
} from './browser.ts';
import { until } from './wait.ts';

export const PAGE_ENTRY = fileURLToPath(new URL('../e2e/page/app.ts', import.meta.url));

export interface E2E {
  readonly browser: TestBrowser;
  readonly site: StaticServer;
  /** A fresh tab on the test page, with its network recorded from before the page loads. */
  open(name: string): Promise<TestPage>;
  /** Closes every page still open (the browser stays). */
  closePages(): Promise<void>;
  close(): Promise<void>;
}

export interface TestPage {
  readonly name: string;
  readonly page: Page;
  readonly net: NetworkRecord;
  /** Console lines and page errors, for failure messages. */
  readonly console: string[];
  join(opts: JoinOptions): Promise<JoinResult>;
  snapshot(): Promise<Snapshot>;
  stats(): Promise<TrackStats[]>;
  send(text: string): Promise<void>;
  leave(): Promise<void>;
  close(): Promise<void>;
}

type VtWindow = { vt: Vt };

/** Bundles the page, serves it (with the given extra endpoints), launches Chromium. */
export async function startE2E(handlers: Record<string, Handler> = {}): Promise<E2E> {
  const bundle = await bundlePage(PAGE_ENTRY);
  const site = await serveStatic(
    {
      '/': { type: 'text/html; charset=utf-8', body: PAGE_HTML },
      '/app.js': { type: 'text/javascript; charset=utf-8', body: bundle },
      '/favicon.ico': { type: 'image/x-icon', body: '' },
    },
    handlers,
  );
  let browser: TestBrowser;
  try {
    browser = await launchBrowser();
  } catch (err) {
    await site.close();
    throw err;
  }
  const pages = new Set<TestPage>();

  async function open(name: string): Promise<TestPage> {
    const page = await browser.newPage();
    const net = await recordNetwork(page);
    const consoleLines: string[] = [];
    page.on('console', (m) => consoleLines.push(`[${name}] ${m.type()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleLines.push(`[${name}] pageerror: ${e.message}`));
    await page.goto(`${site.url}/`);
    await page.waitForFunction(() => (globalThis as unknown as Partial<VtWindow>).vt?.ready === true, undefined, { timeout: 20_000 });
    const tp: TestPage = {
      name,
      page,
      net,
      console: consoleLines,
      join: (opts) => page.evaluate((o) => (globalThis as unknown as VtWindow).vt.join(o), opts),
      snapshot: () => page.evaluate(() => (globalThis as unknown as VtWindow).vt.snapshot()),
      stats: () => page.evaluate(() => (globalThis as unknown as VtWindow).vt.stats()),
      send: (text) => page.evaluate((t) => (globalThis as unknown as VtWindow).vt.send(t), text),
      leave: () => page.evaluate(() => (globalThis as unknown as VtWindow).vt.leave()),
      async close() {
        pages.delete(tp);
        await page.close().catch(() => {});
      },
    };
    pages.add(tp);
    return tp;
  }

  return {
    browser,
    site,
    open,
    async closePages() {
      for (const p of [...pages]) await p.close();
    },
    async close() {
      for (const p of [...pages]) await p.close();
      await browser.close();
      await site.close();
    },
  };
}

/** Stats of the tracks `page` receives from `from`, by kind. */
export async function received(page: TestPage, from: string): Promise<Record<string, TrackStats>> {
  const out: Record<string, TrackStats> = {};
  for (const s of await page.stats()) if (s.from === from) out[s.kind] = s;
  return out;
}

/** Waits until `page` receives audio and video from `from` with bytes and decoded frames/samples growing. */
export async function expectMediaFlowing(page: TestPage, from: string, timeoutMs = 20_000): Promise<Record<string, TrackStats>> {
  const before = await until(
    `${page.name} to receive audio and video from ${from}`,
    async () => {
      const r = await received(page, from);
      return r.audio && r.video && r.video.decoded > 0 && r.audio.bytesReceived > 0 ? r : undefined;
    },
    timeoutMs,
  );
  return until(
    `${page.name}'s media from ${from} to keep flowing`,
    async () => {
      const r = await received(page, from);
      const grew = (k: 'audio' | 'video') =>
        !!r[k] && r[k].bytesReceived > (before[k] as TrackStats).bytesReceived && r[k].decoded > (before[k] as TrackStats).decoded;
      return grew('audio') && grew('video') ? r : undefined;
    },
    timeoutMs,
  );
}

/** `from` sends `text` over a reliable data channel; waits until `to` received it from `fromIdentity`. */
export async function expectData(from: TestPage, to: TestPage, fromIdentity: string, text: string): Promise<void> {
  await from.send(text);
  await until(`${to.name} to receive ${JSON.stringify(text)}`, async () => (await to.snapshot()).data.some((d) => d.text === text && d.from === fromIdentity));
}
