// The Python `livekit` realtime SDK (PyPI, pinned in test/clients/python/
// requirements.txt, run from the venv setup-venv.sh makes), unmodified,
// through the proxy in front of the real LiveKit: a Python bot publishes a
// microphone track fed with a 440 Hz sine, and a headless Chromium page with
// the real livekit-client subscribes, plays it and measures it with WebAudio:
// the sound must be loud and its dominant frequency 440 Hz, as a listener
// would hear it. Pointed straight at the proxy, the bot's signaling is
// classical (`prefer` lets it through) and the proxy counts it so; pointed at
// `volly-pq tunnel`, the same bot's signaling reaches the proxy as volly-pq.v2
// and the proxy counts it as a PQ session, not a classical one, while a wire
// tap between tunnel and proxy sees no token, identity, room or SDP in clear.

import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { bundlePage, launchBrowser, PAGE_HTML, type StaticServer, serveStatic, type TestBrowser } from '../harness/browser.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricSum } from '../harness/metrics.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { python, runPython } from '../harness/python.ts';
import { startTunnel, startWireTap, v2ProxyEnv } from '../harness/tunnel.ts';
import { until } from '../harness/wait.ts';
import type { Listener, Tone } from './python/listener-page.ts';

const TONE_HZ = 440;
const BOT = 'python-bot';

let livekit: LiveKitServer;
let proxy: TestProxy;
let browser: TestBrowser;
let site: StaticServer;
const suiteStarted = Date.now();

beforeAll(async () => {
  const bundle = bundlePage(fileURLToPath(new URL('./python/listener-page.ts', import.meta.url)));
  // Makes the venv if this machine has none yet (an install from PyPI), else instant.
  await python();
  livekit = await startLiveKit();
  // With the proxy's v2 static key the tunnel can speak v2; classical clients are served all the same (`prefer`).
  proxy = await startTestProxy(livekit, v2ProxyEnv());
  site = await serveStatic({
    '/': { type: 'text/html; charset=utf-8', body: PAGE_HTML },
    '/app.js': { type: 'text/javascript; charset=utf-8', body: await bundle },
  });
  browser = await launchBrowser();
});

afterAll(async () => {
  await browser?.close();
  await site?.close();
  await proxy?.close();
  await livekit?.stop();
  process.stderr.write(`[clients] python-sdk suite took ${((Date.now() - suiteStarted) / 1000).toFixed(1)} s\n`);
});

type Live = { record?: { mode?: string; facts?: { identity?: string; protocol?: string } } };
/** The proxy's live sessions for an identity: how it carries each one's signaling. */
const sessionsOf = (identity: string) =>
  [...(proxy.proxy.ctx.live as Set<Live>)]
    .filter((s) => s.record?.facts?.identity === identity)
    .map((s) => ({ mode: s.record?.mode, protocol: s.record?.facts?.protocol }));
const ended = (text: string, labels: Record<string, string>) => metricSum(text, 'volly_sessions_total', labels);

/** Windows of the page's analysis, once the tone is audible: ten, 150 ms apart. */
async function listen(measure: () => Promise<Tone | undefined>): Promise<Tone[]> {
  await until('the page to hear the bot', async () => ((await measure())?.rms ?? 0) > 0.02, 40_000);
  // Opus and the jitter buffer settle in the first half second.
  await new Promise((r) => setTimeout(r, 500));
  const windows: Tone[] = [];
  while (windows.length < 10) {
    windows.push((await measure()) as Tone);
    await new Promise((r) => setTimeout(r, 150));
  }
  return windows;
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;

/**
 * The bot joins `room` at `botUrl`, publishes the tone, and a page joined
 * through the proxy measures it. Checks the proxy's view of the bot with
 * `whileLive` before the bot leaves; returns the proxy's metrics from before
 * and after, and the bot's token (to look for on a wire).
 */
async function botToPage(room: string, botUrl: string, whileLive: () => Promise<void>): Promise<{ before: string; after: string; botToken: string }> {
  const t0 = Date.now();
  const before = await proxy.metrics();
  const botToken = await proxy.token(room, BOT);
  const page = await browser.newPage();
  const lines: string[] = [];
  page.on('console', (m) => lines.push(`${m.type()}: ${m.text()}`));
  page.on('pageerror', (e) => lines.push(`pageerror: ${e.message}`));
  const bot = await runPython('publish_tone.py', ['--url', botUrl, '--seconds', '240', '--hz', String(TONE_HZ)], {
    env: { LIVEKIT_TOKEN: botToken },
    name: `python bot (${room})`,
    timeoutMs: 270_000,
  });
  try {
    await page.goto(`${site.url}/`);
    await page.waitForFunction(() => (globalThis as unknown as { listener?: Listener }).listener?.ready === true, undefined, { timeout: 30_000 });
    const joined = await page.evaluate(([url, token, from]) => (globalThis as unknown as { listener: Listener }).listener.join(url, token, from), [
      proxy.wsUrl,
      await proxy.token(room, 'listener'),
      BOT,
    ] as const);
    expect(joined, lines.join('\n')).toEqual({ ok: true });

    const connected = await bot.status('connected', 60_000);
    expect(connected).toMatchObject({ room, identity: BOT, participant_sid: expect.stringMatching(/^PA_/) });
    expect(await bot.status('published', 60_000)).toMatchObject({ track_sid: expect.stringMatching(/^TR_/) });
    const tJoined = Date.now();

    const windows = await listen(() => page.evaluate(() => (globalThis as unknown as { listener: Listener }).listener.measure()));
    const state = await page.evaluate(() => (globalThis as unknown as { listener: Listener }).listener.state());
    const detail = JSON.stringify({ windows, state, console: lines.slice(-10) });
    expect(state.subscribed, detail).toContain(BOT);
    // What a listener checks: it is loud, and it is the 440 Hz tone (FFT bins are under 6 Hz), clean, all along.
    const onPitch = windows.filter((w) => Math.abs(w.peakHz - TONE_HZ) < 12 && w.rms > 0.05);
    expect(onPitch.length, detail).toBeGreaterThanOrEqual(8);
    expect(median(windows.map((w) => w.rms)), detail).toBeGreaterThan(0.1);
    expect(median(windows.map((w) => w.purity)), detail).toBeGreaterThan(0.5);
    await whileLive();

    expect(await bot.stop()).toBe(0);
    expect(bot.statuses.map((s) => s.event)).toContain('done');
    // The bot's session has ended (the page is still in): the proxy counted it.
    await until('the proxy to end the bot’s session', async () => sessionsOf(BOT).length === 0, 20_000);
    const after = await proxy.metrics();
    const hz = median(windows.map((w) => w.peakHz));
    process.stderr.write(
      `[clients] python-sdk ${room}: joined+published in ${((tJoined - t0) / 1000).toFixed(1)} s, tone heard at ${hz.toFixed(1)} Hz, RMS ${median(windows.map((w) => w.rms)).toFixed(2)}, ${((Date.now() - t0) / 1000).toFixed(1)} s in all\n`,
    );
    return { before, after, botToken };
  } finally {
    await bot.stop(5_000);
    await page.evaluate(() => (globalThis as unknown as { listener: Listener }).listener.leave()).catch(() => {});
    await page.close().catch(() => {});
  }
}

/** What must not cross the tunnel→proxy link readable: the bot's token, identity and room, and any SDP. */
const secretsOf = (token: string, room: string) => [token, BOT, room, 'a=ice-ufrag', 'a=fingerprint'];

describe('the Python livekit SDK through volly-signaling', () => {
  // Generous: on a loaded 2-core machine the bot's and the page's joins and Opus start-up can take a while.
  const SLOW = 180_000;

  it('straight to the proxy: a Chromium page hears its 440 Hz tone, and the proxy counts it classical', { timeout: SLOW }, async () => {
    // A tap in front of the proxy: the control for the PQ case's, it must see everything in the clear here.
    const tap = await startWireTap(proxy);
    try {
      const { before, after, botToken } = await botToPage('python-classical', tap.proxy.wsUrl, async () => {
        expect(sessionsOf(BOT)).toEqual([{ mode: 'classical', protocol: undefined }]);
      });
      expect(ended(after, { mode: 'classical' }) - ended(before, { mode: 'classical' })).toBe(1);
      expect(ended(after, { mode: 'pq' }) - ended(before, { mode: 'pq' })).toBe(0);
      const wire = tap.captured();
      for (const s of secretsOf(botToken, 'python-classical')) expect(wire.includes(s), `${s.slice(0, 12)}… on a classical wire`).toBe(true);
    } finally {
      await tap.close();
    }
  });

  it('through volly-pq tunnel: the page hears the tone, the proxy counts the bot as a v2 PQ session, nothing in the clear', { timeout: SLOW }, async () => {
    const tap = await startWireTap(proxy);
    const tunnel = await startTunnel(tap.proxy, { protocol: 'v2' });
    try {
      const { before, after, botToken } = await botToPage('python-pq', tunnel.wsUrl, async () => {
        expect(sessionsOf(BOT)).toEqual([{ mode: 'pq', protocol: 'v2' }]);
      });
      expect(ended(after, { protocol: 'v2' }) - ended(before, { protocol: 'v2' })).toBe(1);
      expect(ended(after, { mode: 'classical' }) - ended(before, { mode: 'classical' })).toBe(0);
      // The tap carried the bot's whole session (kilobytes of signaling), none of it readable.
      const wire = tap.captured();
      expect(tap.connections).toBeGreaterThanOrEqual(1);
      expect(wire.length).toBeGreaterThan(4_000);
      for (const s of secretsOf(botToken, 'python-pq')) expect(wire.includes(s), `${s.slice(0, 12)}… in the clear between tunnel and proxy`).toBe(false);
    } finally {
      await tunnel.close();
      await tap.close();
    }
  });
});
