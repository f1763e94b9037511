// volly-e2ee.v1 in Chromium with the real livekit-client through the real
// proxy in front of the real LiveKit (docs/E2EE.md). Three participants
// (alice, bob, carol) with app-signed statements publish a solid colour and a
// 440 Hz tone each; every one of them recovers the other two's colour and
// tone. In the same room, a page without any key provider (eve, which also
// captures alice's encrypted audio frames as LiveKit forwards them) and a page
// whose statement another key signed (mallory) receive the tracks and decode
// neither colour nor tone, and mallory is reported to the others. Then carol
// leaves, having kept every media key shared with her: alice rotates at once,
// bob keeps decoding alice, and none of carol's keys opens alice's frames sent
// after the rotation, while her last key does open the frames before it.

import { RoomServiceClient } from 'livekit-server-sdk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { until } from '../harness/wait.ts';
import { type E2eePage, type E2eeSite, opensWith, startE2eeSite } from './e2ee-support.ts';
import type { Rgb } from './page/e2ee-media.ts';

const ROOM = 'e2ee-room';
const COLOURS: Record<string, Rgb> = { alice: { r: 220, g: 30, b: 30 }, bob: { r: 30, g: 200, b: 40 }, carol: { r: 40, g: 60, b: 220 } };
const MEMBERS = Object.keys(COLOURS);
const TONE = 440;

let livekit: LiveKitServer;
let proxy: TestProxy;
let site: E2eeSite;
const pages: Record<string, E2eePage> = {};

// Canvas -> I420 -> VP8 -> RGB shifts saturated channels by up to ~50 (limited vs full range); the palette is far apart.
const near = (a: Rgb | null, b: Rgb, tolerance = 70) => !!a && Math.max(Math.abs(a.r - b.r), Math.abs(a.g - b.g), Math.abs(a.b - b.b)) <= tolerance;
const hexBytes = (hex: string) => new Uint8Array(Buffer.from(hex, 'hex'));
const dump = () =>
  Object.values(pages)
    .flatMap((p) => p.console.slice(-15))
    .join('\n');

beforeAll(async () => {
  livekit = await startLiveKit();
  proxy = await startTestProxy(livekit);
  await new RoomServiceClient(livekit.url, livekit.apiKey, livekit.apiSecret).createRoom({ name: ROOM, emptyTimeout: 600 });
  site = await startE2eeSite({ apiKey: proxy.apiKey, apiSecret: proxy.apiSecret });
  for (const id of MEMBERS) {
    pages[id] = await site.open(id);
    await pages[id].join({ url: proxy.wsUrl, room: ROOM, identity: id, mode: 'pq', colour: COLOURS[id], toneHz: TONE, spyKeys: id === 'carol' });
  }
  pages.eve = await site.open('eve');
  await pages.eve.join({ url: proxy.wsUrl, room: ROOM, identity: 'eve', mode: 'plain', capture: 'alice' });
  pages.mallory = await site.open('mallory');
  await pages.mallory.join({ url: proxy.wsUrl, room: ROOM, identity: 'mallory', mode: 'pq', signer: 'other' });
}, 180_000);

afterAll(async () => {
  await site?.close();
  await proxy?.close();
  await livekit?.stop();
});

describe('volly-e2ee.v1 in Chromium through the proxy', () => {
  it('three participants decode each other: colour and tone recovered', async () => {
    for (const me of MEMBERS) {
      await until(
        `${me} to decode the others' colour and tone`,
        async () => {
          const v = await (pages[me] as E2eePage).view(TONE);
          const others = v.filter((r) => MEMBERS.includes(r.identity));
          const ok = others.length === 2 && others.every((r) => near(r.colour, COLOURS[r.identity] as Rgb) && r.tone > 0.9);
          return ok ? v : undefined;
        },
        60_000,
        500,
      ).catch(async (err) => {
        const page = pages[me] as E2eePage;
        const [v, ev] = await Promise.all([page.view(TONE), page.call('events')]);
        throw new Error(`${(err as Error).message}\nview ${JSON.stringify(v)}\nevents ${ev.join('\n')}\n${dump()}`);
      });
    }
    const m = await (pages.alice as E2eePage).call('metrics');
    expect(m.verified.sort()).toEqual(['bob', 'carol']);
    expect(m.keysRotated).toBeGreaterThanOrEqual(1);
  }, 120_000);

  it('a page without keys and a page with a statement from another key receive the tracks but decode nothing useful', async () => {
    await until(
      'alice to report mallory',
      async () => (await (pages.alice as E2eePage).call('events')).some((e) => e.startsWith('statement-rejected') && e.includes('mallory')),
      30_000,
    );
    for (const outsider of ['eve', 'mallory']) {
      const page = pages[outsider] as E2eePage;
      await until(`${outsider} to subscribe to all three`, async () => (await page.view()).filter((r) => MEMBERS.includes(r.identity)).length === 3, 30_000);
      // Give the decoder time: frames flow for several seconds before we look.
      await new Promise((r) => setTimeout(r, 3000));
      for (const r of (await page.view(TONE)).filter((x) => MEMBERS.includes(x.identity))) {
        expect(near(r.colour, COLOURS[r.identity] as Rgb), `${outsider} recovered ${r.identity}'s colour: ${JSON.stringify(r)}`).toBe(false);
        // Garbage Opus is noise, low-pitched but broadband: far from the members' > 0.9.
        expect(r.tone, `${outsider} heard ${r.identity}'s tone`).toBeLessThan(0.5);
      }
    }
    expect((await (pages.mallory as E2eePage).call('metrics')).sharesAccepted).toBe(0);
    // What LiveKit forwarded to eve is ciphertext: alice's frames carry key indices and open under no random key.
    const frames = await (pages.eve as E2eePage).call('captured', 0);
    expect(frames.length, (await (pages.eve as E2eePage).call('events')).join('\n')).toBeGreaterThan(20);
    expect(frames.every((f) => f.keyIndex >= 0 && f.keyIndex < 16)).toBe(true);
  }, 120_000);

  it('carol leaves: alice rotates, bob keeps decoding, carol keys do not open frames sent after the rotation', async () => {
    const alice = pages.alice as E2eePage;
    const carolKeys = (await (pages.carol as E2eePage).call('spied')).filter((k) => k.sender === 'alice');
    expect(carolKeys.length).toBeGreaterThan(0);
    const carolLast = carolKeys.reduce((a, b) => (b.generation > a.generation ? b : a));
    const before = (await alice.call('metrics')).generation;
    expect(carolLast.generation).toBe(before);
    const leftAt = await alice.call('now');
    await (pages.carol as E2eePage).call('leave');
    const rotated = await until(
      'alice to rotate for the leave',
      async () =>
        (await alice.call('events'))
          .map((e) => e.match(/^key-rotated (.*)$/)?.[1])
          .filter((x): x is string => !!x)
          .map((x) => JSON.parse(x) as { generation: number; reason: string; keyIndex: number; ms: number })
          .find((e) => e.reason === 'leave'),
      30_000,
    );
    expect(rotated.generation).toBeGreaterThan(before);
    const rotatedAt = await alice.call('now');
    process.stderr.write(`[e2ee] leave -> rotation seen after ${rotatedAt - leftAt} ms (rotation itself ${rotated.ms} ms)\n`);
    await new Promise((r) => setTimeout(r, 3000));
    await until(
      'bob to decode alice after the rotation',
      async () => near((await (pages.bob as E2eePage).view(TONE)).find((r) => r.identity === 'alice')?.colour ?? null, COLOURS.alice as Rgb),
      20_000,
    );
    const frames = await (pages.eve as E2eePage).call('captured', 0);
    const after = frames.filter((f) => f.t > rotatedAt + 1000 && f.keyIndex === rotated.keyIndex).map((f) => hexBytes(f.hex));
    const beforeLeave = frames.filter((f) => f.t < leftAt && f.keyIndex === carolLast.generation % 16).map((f) => hexBytes(f.hex));
    expect(after.length).toBeGreaterThan(20);
    expect(beforeLeave.length).toBeGreaterThan(20);
    // Control: carol's last key opens what alice sent while carol was there (the check works).
    expect(beforeLeave.filter((f) => opensWith(f, hexBytes(carolLast.key))).length).toBe(beforeLeave.length);
    for (const k of carolKeys)
      expect(
        after.some((f) => opensWith(f, hexBytes(k.key))),
        `carol's generation ${k.generation} key`,
      ).toBe(false);
    expect((await alice.call('metrics')).verified.sort()).toEqual(['bob']);
  }, 120_000);
});
