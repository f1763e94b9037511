// The demo page the proxy serves at /demo/ (VOLLY_DEMO=1), driven like a
// person would: two Chromium tabs open it, fill room and name, click Join.
// Each must show the other's video (decoded: videoWidth > 0) and a panel with
// the PQ session (algorithm, 32-char session id, 16-hex fingerprint, frame
// counts that keep growing). One page's screenshot is kept as
// test/artifacts/demo.png (a gitignored directory).

import { mkdir, readFile, stat } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../harness/browser.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { until } from '../harness/wait.ts';

const ARTIFACTS = fileURLToPath(new URL('../artifacts/', import.meta.url));
const SCREENSHOT = `${ARTIFACTS}demo.png`;

let livekit: LiveKitServer;
let proxy: TestProxy;
let browser: TestBrowser;
const suiteStarted = Date.now();

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit, { VOLLY_DEMO: '1' });
  browser = await launchBrowser({ contextOptions: { viewport: { width: 1280, height: 720 } } });
});

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await livekit?.stop();
  process.stderr.write(`[e2e] demo suite took ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s\n`);
});

interface Panel {
  status: string;
  algorithm: string;
  session: string;
  fingerprint: string;
  sealed: number;
  opened: number;
  remoteTracks: number;
  /** videoWidth of each remote <video> in #videos (figures not captioned "(you)"). */
  remoteVideoWidths: number[];
  localVideos: number;
}

function panel(page: Page): Promise<Panel> {
  return page.evaluate(() => {
    const text = (id: string) => document.getElementById(id)?.textContent?.trim() ?? '';
    const figures = [...document.querySelectorAll('#videos figure')];
    const isLocal = (f: Element) => (f.querySelector('figcaption')?.textContent ?? '').endsWith('(you)');
    return {
      status: text('status'),
      algorithm: text('pq-algorithm'),
      session: text('pq-session'),
      fingerprint: text('pq-fingerprint'),
      sealed: Number(text('pq-sealed')),
      opened: Number(text('pq-opened')),
      remoteTracks: Number(text('remote-tracks')),
      remoteVideoWidths: figures.filter((f) => !isLocal(f)).map((f) => (f.querySelector('video') as HTMLVideoElement | null)?.videoWidth ?? 0),
      localVideos: figures.filter(isLocal).length,
    };
  });
}

describe('the demo page served by the proxy', () => {
  it('two tabs join through the PQ proxy, see each other, and show the PQ session', async () => {
    const t0 = Date.now();
    const room = 'demo-e2e';
    const pages: Array<{ name: string; page: Page; console: string[] }> = [];
    for (const name of ['ada', 'bob']) {
      const page = await browser.newPage();
      const lines: string[] = [];
      page.on('console', (m) => lines.push(`[${name}] ${m.type()}: ${m.text()}`));
      page.on('pageerror', (e) => lines.push(`[${name}] pageerror: ${e.message}`));
      const res = await page.goto(`${proxy.url}/demo/`);
      expect(res?.status()).toBe(200);
      await page.fill('#room', room);
      await page.fill('#identity', name);
      await page.click('#join');
      pages.push({ name, page, console: lines });
    }

    const seen: Panel[] = [];
    for (const { name, page, console: lines } of pages) {
      const p = await until(
        `${name} to show a decoded remote video and a PQ session`,
        async () => {
          const s = await panel(page);
          if (s.status.startsWith('failed')) throw new Error(`${s.status}\n${lines.join('\n')}`);
          return s.remoteTracks >= 1 && s.remoteVideoWidths.some((w) => w > 0) && s.session !== '—' && s.sealed > 0 ? s : undefined;
        },
        45_000,
      );
      expect(p.status).toBe(`connected to ${room} as ${name}`);
      expect(p.localVideos).toBe(1);
      expect(p.algorithm).toBe('ML-KEM-768');
      expect(p.session).toMatch(/^[A-Za-z0-9_-]{32}$/);
      expect(p.fingerprint).toMatch(/^[0-9a-f]{16}$/);
      seen.push(p);
    }
    // Two sessions, two keys.
    expect(seen[0]?.session).not.toBe(seen[1]?.session);
    expect(seen[0]?.fingerprint).not.toBe(seen[1]?.fingerprint);

    // The frame counters keep moving (the panel refreshes every 500 ms; LiveKit pings every few seconds).
    for (const [i, { name, page }] of pages.entries()) {
      const before = seen[i] as Panel;
      await until(
        `${name}'s sealed and opened frame counts to grow`,
        async () => {
          const s = await panel(page);
          return s.sealed > before.sealed && s.opened > before.opened ? s : undefined;
        },
        30_000,
      );
    }
    const tJoined = Date.now();

    await mkdir(ARTIFACTS, { recursive: true });
    await (pages[0] as { page: Page }).page.screenshot({ path: SCREENSHOT, fullPage: true });
    const info = await stat(SCREENSHOT);
    expect(info.size).toBeGreaterThan(10_000);
    expect(info.size).toBeLessThan(20_000_000);
    const png = await readFile(SCREENSHOT);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    // IHDR: width and height of the 1280-wide viewport.
    expect(png.readUInt32BE(16)).toBe(1280);
    expect(png.readUInt32BE(20)).toBeGreaterThanOrEqual(400);

    for (const { page } of pages) await page.close();
    process.stderr.write(`[e2e] demo: both tabs up in ${tJoined - t0} ms; screenshot ${info.size} bytes at ${SCREENSHOT}\n`);
  });
});
