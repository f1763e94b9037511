// The demo page's E2EE switch (proxy/demo, docs/E2EE.md): two tabs join with
// "E2EE" ticked (the default), each shows media E2EE on with a key generation,
// the other as verified, and decodes the other's end-to-end encrypted video;
// the on/off button turns it off and the panel says so.

import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser, type TestBrowser } from '../harness/browser.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { until } from '../harness/wait.ts';

let livekit: LiveKitServer;
let proxy: TestProxy;
let browser: TestBrowser;

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit, { VOLLY_DEMO: '1' });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await proxy?.close();
  await livekit?.stop();
});

const state = (page: Page) =>
  page.evaluate(() => {
    const text = (id: string) => document.getElementById(id)?.textContent?.trim() ?? '';
    const remote = [...document.querySelectorAll('#videos figure')].filter((f) => !(f.querySelector('figcaption')?.textContent ?? '').endsWith('(you)'));
    return {
      e2ee: text('e2ee-state'),
      peers: text('e2ee-peers'),
      rotated: Number(text('e2ee-rotated')),
      status: text('status'),
      remoteWidth: Math.max(0, ...remote.map((f) => (f.querySelector('video') as HTMLVideoElement | null)?.videoWidth ?? 0)),
    };
  });

describe('the demo page E2EE switch', () => {
  it('shows E2EE on with verified peers and decoded video, and turns it off', async () => {
    const pages: Page[] = [];
    for (const name of ['ada', 'bob']) {
      const page = await browser.newPage();
      await page.goto(`${proxy.url}/demo/`);
      expect(await page.isChecked('#e2ee')).toBe(true);
      await page.fill('#room', 'demo-e2ee');
      await page.fill('#identity', name);
      await page.click('#join');
      pages.push(page);
    }
    for (const page of pages) {
      const s = await until(
        'E2EE on, one verified peer, decoded remote video',
        async () => {
          const s = await state(page);
          if (s.status.startsWith('failed') || s.status.startsWith('E2EE:')) throw new Error(s.status);
          return s.e2ee.startsWith('on, key generation') && s.peers.startsWith('1 verified') && s.remoteWidth > 0 ? s : undefined;
        },
        60_000,
      );
      expect(s.rotated).toBeGreaterThanOrEqual(1);
    }
    await (pages[0] as Page).click('#e2ee-toggle');
    await until('ada to show E2EE off', async () => (await state(pages[0] as Page)).e2ee === 'off', 10_000);
  }, 120_000);
});
