// A CI-sized fuzz run of `volly-pq tunnel`'s server side: the tunnel is
// pointed at a hostile fake proxy that refuses upgrades with fuzzed statuses,
// headers and bodies, serves broken well-known documents, answers 101 wrongly
// or with junk frames, or relays the real proxy and tampers with one frame.
// The long run: VOLLY_FUZZ_INPUTS=50000 VOLLY_FUZZ_MINUTES=60 npx vitest run
// test/security/fuzz-tunnel-server.test.ts (it prints its figures; the run of
// record is in docs/reports/security.md). VOLLY_FUZZ_SEED picks another seed.

import { redactTokens } from '@volly/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTunnel, tunnelLog } from '../harness/tunnel.ts';
import { exchange } from './lib/fuzz-http-wire.ts';
import { frame } from './lib/fuzz-tunnel-frames.ts';
import { MARK } from './lib/fuzz-tunnel-server-plan.ts';
import { runServerFuzz, type ServerFuzzTarget, startServerFuzzTarget } from './lib/fuzz-tunnel-server-run.ts';

const SEED = Number(process.env.VOLLY_FUZZ_SEED ?? 20261129);
const INPUTS = Number(process.env.VOLLY_FUZZ_INPUTS ?? 500);
const LONG = process.env.VOLLY_FUZZ_INPUTS !== undefined;
const TIME_MS = LONG ? Number(process.env.VOLLY_FUZZ_MINUTES ?? 60) * 60_000 : 50_000;
const LANES = 24;

let target: ServerFuzzTarget;
beforeAll(async () => {
  target = await startServerFuzzTarget(LANES, SEED);
}, 60_000);
afterAll(async () => {
  await target?.close();
});

describe('fuzzing volly-pq tunnel from the server side (a hostile proxy)', () => {
  it(
    `${INPUTS} hostile answers (seed ${SEED}): both tunnels live, the SDK gets a status or a defined close, nothing unsealed or token-shaped reaches it, honest joins work`,
    async () => {
      const t0 = Date.now();
      const stats = await runServerFuzz(target, { inputs: INPUTS, concurrency: LANES, seed: SEED, timeLimitMs: TIME_MS });
      if (LONG || stats.findingCount) console.log(JSON.stringify({ ...stats, wallS: (Date.now() - t0) / 1000 }, null, 1));
      expect(stats.findings).toEqual([]);
      expect(stats.alive).toBe(true);
      expect(stats.inputs).toBe(INPUTS);
      for (const kind of ['status', 'bad-101', 'junk', 'mitm']) expect(Object.keys(stats.byPlan), kind).toContain(kind);
      expect(stats.docs.fuzzed).toBeGreaterThan(0);
      // via B and a MITM slot; via A too unless its last document was a fuzzed one (cached 5 min)
      expect(stats.canaries.ok + stats.canaries.refusedByCachedDocument).toBe(3);
      expect(stats.canaries.ok).toBeGreaterThanOrEqual(2);
      expect(stats.canaries.failed).toBe(0);
      // the tampered frames landed: some after the join, where the SDK already had a socket
      expect(Object.keys(stats.byPlan.mitm ?? {}).some((o) => o.startsWith('joined, then'))).toBe(true);
    },
    TIME_MS + 40_000,
  );

  // A failed document fetch is cached for 5 minutes (FAILED_FETCH_TTL_MS), so each kind gets a fresh tunnel.
  it('every kind of broken well-known document: a fresh tunnel answers the SDK with a status, shows none of it, lives on', async () => {
    const fake = target.fake;
    fake.honest = false;
    const outcomes: string[] = [];
    try {
      for (let kind = 0; kind < 12; kind++) {
        fake.docKind = kind;
        const tunnel = await startTunnel({ ...target.proxy, wsUrl: fake.wsUrl, url: fake.wsUrl.replace('ws:', 'http:') });
        try {
          const port = Number(new URL(tunnel.url).port);
          const req = `GET /rtc?access_token=${target.tokens[0]}&protocol=16 HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dm9sbHktZnV6ei1rZXkxMg==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
          const ex = await exchange({ host: '127.0.0.1', port, data: Buffer.from(req), silenceMs: 15_000, timeoutMs: 15_000 });
          outcomes.push(`${kind}: ${ex.outcome}`);
          const reply = ex.received.toString('latin1');
          // a document that still names the real key (the 10,000-copies one) may well work: then LiveKit's messages follow the 101
          const head = ex.status === 101 ? reply.slice(0, reply.indexOf('\r\n\r\n')) : reply;
          expect(ex.status, `document kind ${kind}: ${ex.outcome}`).not.toBeNull();
          expect(head).not.toContain(MARK);
          expect(redactTokens(head)).toBe(head);
          expect(await tunnel.metrics()).toContain('volly_tunnel_');
          expect(redactTokens(tunnelLog(tunnel))).toBe(tunnelLog(tunnel));
        } finally {
          await tunnel.close();
        }
      }
    } finally {
      fake.docKind = undefined;
    }
    expect(outcomes.filter((o) => o.endsWith('http 502')).length, outcomes.join(', ')).toBeGreaterThanOrEqual(8);
  }, 60_000);

  // A close frame the server sends before the session opened is unauthenticated: the SDK's refusal
  // body (and validate) says only the code's public name, never the frame's reason.
  it("a hostile server's unsealed close reason is not passed to the SDK as LiveKit's refusal", async () => {
    const id = 2_000_000_000;
    const reason = Buffer.from(`${MARK}: your token expired, log in at http://evil.example`);
    target.fake.plans.set(id, { kind: 'junk', frames: [frame(8, Buffer.concat([Buffer.from([0x11, 0x31]), reason]), { masked: false })], end: 'end' });
    const port = Number(new URL(target.tunnels.b.url).port);
    const req = `GET /fz/${id}/rtc?access_token=x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dm9sbHktZnV6ei1rZXkxMg==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    const ex = await exchange({ host: '127.0.0.1', port, data: Buffer.from(req), timeoutMs: 10_000 });
    expect(ex.status).toBe(401);
    expect(ex.received.toString('latin1')).not.toContain(MARK);
  });

  // A proxy that answers 101 and then says nothing: once the SDK gives up, the tunnel drops its
  // connection to that proxy at once (no close handshake with a peer that never opened a session).
  it('after a silent 101, the SDK leaving releases the connection to the proxy within 5 s', async () => {
    const id = 2_000_000_001;
    target.fake.plans.set(id, { kind: 'junk', frames: [], end: 'stay' });
    const port = Number(new URL(target.tunnels.b.url).port);
    const req = `GET /fz/${id}/rtc?access_token=x HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dm9sbHktZnV6ei1rZXkxMg==\r\nSec-WebSocket-Version: 13\r\n\r\n`;
    expect((await exchange({ host: '127.0.0.1', port, data: Buffer.from(req), silenceMs: 10_000, timeoutMs: 2000 })).outcome).toBe('stuck');
    const rec = target.fake.records.get(id);
    for (let t0 = Date.now(); !rec?.closed && Date.now() - t0 < 5_000; ) await new Promise((r) => setTimeout(r, 250));
    expect(rec?.closed).toBe(true);
  }, 40_000);
});
