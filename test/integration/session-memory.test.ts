// What the proxy keeps for an idle sealed session once it relays (issue 14,
// "Scale"): a real proxy process (inspector open) in front of the real
// LiveKit holds N idle volly-pq.v1 (in-band ML-KEM-768) and N volly-pq.v2
// (X-Wing) sessions; heap snapshots after a full GC with them open and after
// they closed say what each one costs. A relaying session needs its two
// sockets, its keys and its record: the upgrade request (headers, URL), the
// handshake's abort controller, inbox and timer, and the dial's closures must
// be gone, and the whole session must fit in a bounded heap share.

import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ChildProxy, startChildProxy } from '../harness/child-proxy.ts';
import { kemKeyFile } from '../harness/key-files.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { connectPq } from '../harness/pq-signal.ts';
import { token } from '../harness/tokens.ts';
import { connectV2 } from '../harness/v2-signal.ts';
import { census, type HeapCensus } from '../scripts/heap.ts';

const PER_PROTOCOL = 60;
/** Self bytes per idle session, all objects: ~11.5 KiB now, 20 (v1) and 31 KiB (v2) while the upgrade's state stayed. */
const MAX_HEAP_PER_SESSION = 14 * 1024;

const dir = mkdtempSync(join(tmpdir(), 'volly-session-memory-'));
const xwing = kemKeyFile();

let livekit: LiveKitServer;
let proxy: ChildProxy;

beforeAll(async () => {
  livekit = await startLiveKit({ logLevel: 'warn' });
  proxy = await startChildProxy(livekit, { env: { VOLLY_SERVER_KEYS: xwing, VOLLY_IDLE_TIMEOUT_MS: '120000', VOLLY_LOG_LEVEL: 'warn' } });
});
afterAll(async () => {
  await proxy?.stop();
  await livekit?.stop();
  // The snapshots are tens of MiB each.
  rmSync(dir, { recursive: true, force: true });
});

interface Held {
  close(): Promise<void>;
}

/** `n` idle sessions of each protocol, 10 at a time, 10 per room. */
async function openSessions(tag: string, n: number): Promise<Held[]> {
  const held: Held[] = [];
  for (let i = 0; i < n; i += 10) {
    const batch = Array.from({ length: Math.min(10, n - i) }, async (_, j) => {
      const k = i + j;
      // One identity per session: LiveKit would drop the first of two with the same identity in a room.
      const t = (p: string) => token(proxy, `mem-${tag}-${Math.floor(k / 10)}`, `${tag}-${p}-${k}`);
      const v1: Held = await connectPq(proxy.wsUrl, await t('v1'));
      const v2: Held = await connectV2(proxy.wsUrl, await t('v2'));
      return [v1, v2];
    });
    for (const pairOf of await Promise.all(batch)) held.push(...pairOf);
  }
  return held;
}

async function snapshot(name: string): Promise<HeapCensus> {
  await proxy.collectGarbage();
  const file = join(dir, `${name}.heapsnapshot`);
  await proxy.heapSnapshot(file);
  return census(file);
}

const grew = (base: HeapCensus, loaded: HeapCensus, name: string) => (loaded.get(name)?.count ?? 0) - (base.get(name)?.count ?? 0);

describe('memory per idle sealed session (child proxy, real LiveKit)', () => {
  it(`${PER_PROTOCOL} v1 + ${PER_PROTOCOL} v2 idle sessions keep no upgrade request or handshake state, and under ${MAX_HEAP_PER_SESSION / 1024} KiB of heap each`, {
    timeout: 180_000,
  }, async () => {
    // One-time costs (modules, compiled code, metric children) land before the measurement.
    await Promise.all((await openSessions('warm', 10)).map((s) => s.close()));
    const held = await openSessions('idle', PER_PROTOCOL);
    const sessions = held.length;
    expect(sessions).toBe(2 * PER_PROTOCOL);
    const loaded = await snapshot('loaded');
    await Promise.all(held.map((s) => s.close()));
    await expect.poll(() => proxy.metric('volly_sessions_active'), { timeout: 10_000 }).toBe(0);
    const base = await snapshot('base');

    // The census sees every session relaying…
    expect(grew(base, loaded, 'Relay')).toBe(sessions);
    // …and none of what only the upgrade and the handshake needed.
    for (const name of ['IncomingMessage', 'URL', 'AbortController', 'AbortSignal', 'Inbox'])
      expect({ name, grew: grew(base, loaded, name) }).toEqual({ name, grew: 0 });
    let bytes = 0;
    for (const [name, e] of loaded) bytes += e.bytes - (base.get(name)?.bytes ?? 0);
    expect(bytes / sessions).toBeLessThan(MAX_HEAP_PER_SESSION);
  });
});
