// The attacking side of test/faults/resources.test.ts, as a child process of
// its own (`fork`, IPC), so its thousands of sockets and timers neither share
// the honest clients' event loop nor their open-file table. It speaks raw
// TCP: WebSocket upgrades written by hand and frames parsed by hand, so it
// can do what no WebSocket library does — stop halfway, dribble bytes, drop.
//
// Messages (parent → child) and the answer to each (child → parent):
//   { id, cmd: 'slowloris', port, count, dribble, byteEveryMs, concurrency }
//       `count` upgrades to /rtc offering volly-pq.v1; `dribble` of them (a
//       fraction) then send a binary frame header claiming 1200 bytes and one
//       payload byte every `byteEveryMs`; the others send nothing.
//       → { opened, statuses: {101: n, 429: n, ...}, errors, ms }
//   { id, cmd: 'flood', port, count, concurrency, maxMs, perSecond? }
//       connection churn (paced at perSecond when given): connect+close; upgrade with the subprotocol and
//       drop at the 101; upgrade without it (no token); garbage bytes.
//       → { done, byKind, statuses: {'pq-upgrade-drop 429': n, ...}, errors, ms }
//   { id, cmd: 'storm', port, parallel, perSecond, dribble, byteEveryMs }
//       starts lib/storm.ts: one address hammering for handshake slots
//       (held ones join the half-open tally of `report`). → {}
//   { id, cmd: 'calm' } → stops starting tries (the storm's and a running
//       flood's); the storm's figures.
//   { id, cmd: 'headers', port, count, byteEveryMs }
//       TCP slowloris on the HTTP request itself: the request line, then one
//       header byte every `byteEveryMs`, never the blank line.
//       → { opened }
//   { id, cmd: 'report' }
//       → { open, closeCodes: {4408: n, ...}, closedAfterMs: [min, max],
//           httpReplies: {408: n, ...}, headerClosedAfterMs: [min, max],
//           headersOpen }
//   { id, cmd: 'stop' } → destroys every socket; answers {}.
// Only loopback; every loop is bounded in count and time.

import { randomBytes } from 'node:crypto';
import { all, dial, frameHeader, type Half, HOST, halves, headerSocks, openUpgrade, pool, SUBPROTOCOL, setLocalAddress } from './raw-upgrade.ts';
import { calm, startStorm } from './storm.ts';

// `--local-address 127.0.0.2`: the attacker's one source address (default: the system's choice, 127.0.0.1).
const at = process.argv.indexOf('--local-address');
setLocalAddress(at >= 0 ? process.argv[at + 1] : undefined);

let dribbleTimer: ReturnType<typeof setInterval> | undefined;
/** `calm` ends a running flood too: no flood connection starts after this time. */
let floodStop = Number.POSITIVE_INFINITY;
let headerTimer: ReturnType<typeof setInterval> | undefined;

/** Writes one byte to every `1/slices` of the dribbling sockets each tick: `byteEveryMs` per socket. */
function startDribble(byteEveryMs: number): void {
  if (dribbleTimer) return;
  const slices = 20;
  let slice = 0;
  dribbleTimer = setInterval(() => {
    const s = slice++ % slices;
    for (let i = s; i < halves.length; i += slices) {
      const h = halves[i] as Half;
      if (h.dribble && h.closedAt === undefined && !h.sock.destroyed) h.sock.write(Buffer.of(0x41));
    }
  }, byteEveryMs / slices);
}

async function slowloris(m: { port: number; count: number; dribble: number; byteEveryMs: number; concurrency?: number }) {
  const t0 = performance.now();
  const statuses: Record<string, number> = {};
  let errors = 0;
  await pool(m.count, m.concurrency ?? 64, async (i) => {
    const dribble = i < m.count * m.dribble;
    const { status, sock } = await openUpgrade(m.port, true, true, dribble);
    statuses[status] = (statuses[status] ?? 0) + 1;
    if (status === 0) errors++;
    if (status === 101 && dribble) sock.write(frameHeader());
  });
  startDribble(m.byteEveryMs);
  return { opened: statuses[101] ?? 0, statuses, errors, ms: Math.round(performance.now() - t0) };
}

async function flood(m: { port: number; count: number; concurrency: number; maxMs: number; perSecond?: number }) {
  const t0 = performance.now();
  floodStop = Number.POSITIVE_INFINITY;
  const byKind: Record<string, number> = {};
  const statuses: Record<string, number> = {};
  let errors = 0;
  const kinds = ['connect-close', 'pq-upgrade-drop', 'classical-no-token', 'garbage'] as const;
  const perSecond = m.perSecond;
  const done = await pool(
    m.count,
    m.concurrency,
    async (i) => {
      // Paced: connection i starts no earlier than i / perSecond after the first.
      if (perSecond) await new Promise((r) => setTimeout(r, Math.max(0, t0 + (1000 * i) / perSecond - performance.now())));
      const kind = kinds[i % kinds.length] as (typeof kinds)[number];
      byKind[kind] = (byKind[kind] ?? 0) + 1;
      if (kind === 'pq-upgrade-drop' || kind === 'classical-no-token') {
        const { status } = await openUpgrade(m.port, kind === 'pq-upgrade-drop', false);
        statuses[`${kind} ${status}`] = (statuses[`${kind} ${status}`] ?? 0) + 1;
        if (status === 0) errors++;
        return;
      }
      await new Promise<void>((resolve) => {
        const sock = dial(m.port);
        sock.once('connect', () => {
          if (kind === 'garbage') sock.write(randomBytes(512));
          sock.destroy();
          resolve();
        });
        sock.once('error', () => {
          errors++;
          resolve();
        });
      });
    },
    () => Math.min(t0 + m.maxMs, floodStop),
  );
  return { done, byKind, statuses, errors, ms: Math.round(performance.now() - t0) };
}

async function headers(m: { port: number; count: number; byteEveryMs: number }) {
  await pool(m.count, 64, async () => {
    await new Promise<void>((resolve) => {
      const sock = dial(m.port);
      const rec: (typeof headerSocks)[number] = { sock, openedAt: performance.now() };
      headerSocks.push(rec);
      let reply = '';
      sock.on('data', (d: Buffer) => {
        reply += d.toString('latin1');
        rec.status ??= Number(/^HTTP\/1\.1 (\d{3})/.exec(reply)?.[1] ?? 0) || undefined;
      });
      sock.on('close', () => {
        rec.closedAt = performance.now();
      });
      sock.once('connect', () => {
        rec.openedAt = performance.now();
        sock.write(
          `GET /rtc HTTP/1.1\r\nHost: ${HOST}:${m.port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Protocol: ${SUBPROTOCOL}\r\nX-Slow: `,
        );
        resolve();
      });
      sock.once('error', () => resolve());
    });
  });
  if (!headerTimer) {
    const slices = 10;
    let slice = 0;
    headerTimer = setInterval(() => {
      const s = slice++ % slices;
      for (let i = s; i < headerSocks.length; i += slices) {
        const h = headerSocks[i] as (typeof headerSocks)[number];
        if (h.closedAt === undefined && !h.sock.destroyed) h.sock.write('a');
      }
    }, m.byteEveryMs / slices);
  }
  return { opened: headerSocks.length };
}

function range(xs: number[]): [number, number] | null {
  return xs.length ? [Math.round(Math.min(...xs)), Math.round(Math.max(...xs))] : null;
}

/** How many are still open; of the closed, how many per outcome and after how long. */
function tally(socks: ReadonlyArray<{ openedAt: number; closedAt?: number }>, outcome: (i: number) => number | undefined) {
  const by: Record<string, number> = {};
  const after: number[] = [];
  let open = 0;
  for (const [i, s] of socks.entries()) {
    if (s.closedAt === undefined) {
      open++;
      continue;
    }
    const k = String(outcome(i) ?? 'none');
    by[k] = (by[k] ?? 0) + 1;
    after.push(s.closedAt - s.openedAt);
  }
  return { open, by, after: range(after) };
}

function report() {
  const h = tally(halves, (i) => halves[i]?.closeCode);
  const r = tally(headerSocks, (i) => headerSocks[i]?.status);
  return {
    halves: halves.length,
    open: h.open,
    closeCodes: h.by,
    closedAfterMs: h.after,
    headers: headerSocks.length,
    headersOpen: r.open,
    httpReplies: r.by,
    headerClosedAfterMs: r.after,
    sockets: all.size,
  };
}

function stop() {
  void calm();
  clearInterval(dribbleTimer);
  clearInterval(headerTimer);
  dribbleTimer = headerTimer = undefined;
  for (const s of all) s.destroy();
  halves.length = 0;
  headerSocks.length = 0;
  return {};
}

type Msg = { id: number; cmd: string } & Record<string, unknown>;
process.on('message', async (raw) => {
  const m = raw as Msg;
  let out: unknown;
  try {
    switch (m.cmd) {
      case 'slowloris':
        out = await slowloris(m as never);
        break;
      case 'flood':
        out = await flood(m as never);
        break;
      case 'headers':
        out = await headers(m as never);
        break;
      case 'storm':
        startDribble(Number(m.byteEveryMs));
        startStorm(m as never);
        out = {};
        break;
      case 'calm':
        floodStop = performance.now();
        out = await calm();
        break;
      case 'report':
        out = report();
        break;
      case 'stop':
        out = stop();
        break;
      default:
        throw new Error(`unknown command ${m.cmd}`);
    }
    process.send?.({ id: m.id, ok: true, value: out });
  } catch (err) {
    process.send?.({ id: m.id, ok: false, error: String((err as Error)?.stack ?? err) });
  }
});
// The parent is gone (or let go of us): leave with it.
process.on('disconnect', () => process.exit(0));
// A hard stop in case the parent never says so: no attacker outlives 10 minutes.
setTimeout(() => process.exit(3), 600_000).unref();
