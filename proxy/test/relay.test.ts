// The relay and the PQ inbox (../src/relay.ts, ../src/pq/inbox.ts) over pairs
// of real `ws` sockets on loopback: order per direction, the inbox handing its
// unread frames to the relay with their types, close propagation both ways,
// the idle timeout, and a slow reader pausing the other side.

import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import WebSocket, { WebSocketServer } from 'ws';
import { createLogger } from '../src/log.js';
import { createMetrics } from '../src/metrics.js';
import { Inbox } from '../src/pq/inbox.js';
import { type Message, Relay, type RelayTransforms } from '../src/relay.js';
import { SessionRecord } from '../src/session-record.js';

const limits = {
  maxFrameBytes: 1 << 20,
  maxBufferedBytes: 64 * 1024,
  idleTimeoutMs: 400,
  handshakeTimeoutMs: 1000,
  maxHandshakes: 1,
  maxHandshakesPerSource: 1,
  handshakeQueue: 0,
  firstMessageTimeoutMs: 1000,
  drainTimeoutMs: 1000,
  tokenLeewaySeconds: 0,
};
const closers: Array<() => void> = [];
afterEach(() => {
  for (const c of closers.splice(0)) c();
});

/** A connected pair: `near` is the server side the relay holds, `far` the peer that talks to it. */
async function pair(): Promise<{ near: WebSocket; far: WebSocket }> {
  const wss = new WebSocketServer({ host: '127.0.0.1', port: 0 });
  await new Promise((r) => wss.once('listening', r));
  const far = new WebSocket(`ws://127.0.0.1:${(wss.address() as AddressInfo).port}`);
  const near = await new Promise<WebSocket>((r) => wss.once('connection', r));
  await new Promise((r) => far.once('open', r));
  closers.push(() => {
    far.terminate();
    near.terminate();
    wss.close();
  });
  return { near, far };
}

const passThrough: RelayTransforms = {
  fromClient: (data, isBinary) => (isBinary ? data : data.toString('utf8')),
  toClient: (m) => m,
  rewrite: () => null,
};

function relay(client: WebSocket, upstream: WebSocket, t: RelayTransforms = passThrough, idleTimeoutMs = limits.idleTimeoutMs) {
  const metrics = createMetrics();
  const record = new SessionRecord('classical', '/rtc', '127.0.0.1', undefined, createLogger('silent'), metrics);
  return new Relay(client, upstream, t, record, metrics, { ...limits, idleTimeoutMs });
}

const received = (ws: WebSocket, n: number) =>
  new Promise<Array<[string, boolean]>>((resolve) => {
    const got: Array<[string, boolean]> = [];
    ws.on('message', (d: Buffer, isBinary) => {
      got.push([d.toString(), isBinary]);
      if (got.length === n) resolve(got);
    });
  });
const closed = (ws: WebSocket) =>
  new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));

describe('Inbox → Relay', () => {
  it('frames that arrive in one write before the relay starts are handed over in order, with their types', async () => {
    const c = await pair();
    const u = await pair();
    const inbox = new Inbox(c.near, 16, () => {
      throw new Error('overflow');
    });
    // Five frames in one TCP write, while "the handshake" is still going on.
    const sock = (c.far as unknown as { _socket: import('node:net').Socket })._socket;
    sock.cork();
    for (const m of ['a', 'b', 'c']) c.far.send(Buffer.from(m));
    c.far.send('text');
    c.far.send(Buffer.from('d'));
    sock.uncork();
    const first = await inbox.next(new AbortController().signal);
    expect(first.data.toString()).toBe('a');
    const atLiveKit = received(u.far, 4);
    relay(c.near, u.near).start([], inbox.handOver());
    expect(await atLiveKit).toEqual([
      ['b', true],
      ['c', true],
      ['text', false],
      ['d', true],
    ]);
  });

  it('one frame over the limit calls overflow; next() rejects on abort and after its timeout', async () => {
    const c = await pair();
    let overflowed = 0;
    const inbox = new Inbox(c.near, 2, () => overflowed++);
    for (const m of ['1', '2', '3']) c.far.send(m);
    await expect.poll(() => overflowed).toBe(1);
    await inbox.next(new AbortController().signal);
    await inbox.next(new AbortController().signal);
    const ac = new AbortController();
    const waiting = inbox.next(ac.signal);
    ac.abort(new Error('left'));
    await expect(waiting).rejects.toThrow('left');
    await expect(inbox.next(new AbortController().signal, 50, 'pq_handshake')).rejects.toMatchObject({ code: 'ERR_STAGE_TIMEOUT' });
  });
});

describe('Relay', () => {
  it('keeps order both ways and passes each side’s close to the other', async () => {
    const c = await pair();
    const u = await pair();
    relay(c.near, u.near).start([]);
    const up = received(u.far, 50);
    const down = received(c.far, 50);
    for (let i = 0; i < 50; i++) {
      c.far.send(`c${i}`);
      u.far.send(Buffer.from(`u${i}`));
    }
    expect((await up).map(([m]) => m)).toEqual(Array.from({ length: 50 }, (_, i) => `c${i}`));
    expect((await down).map(([m]) => m)).toEqual(Array.from({ length: 50 }, (_, i) => `u${i}`));
    const clientSees = closed(c.far);
    u.far.close(4000, 'room closed');
    expect(await clientSees).toEqual({ code: 4000, reason: 'room closed' });
  });

  it('a silent client is closed with 4408 at the idle timeout, and LiveKit’s side with it', async () => {
    const c = await pair();
    const u = await pair();
    relay(c.near, u.near).start([]);
    const t0 = performance.now();
    const [client, upstream] = await Promise.all([closed(c.far), closed(u.far)]);
    expect(client.code).toBe(4408);
    expect(upstream.code).toBe(1000);
    expect(performance.now() - t0).toBeGreaterThanOrEqual(380);
  });

  it('a client that stops reading pauses LiveKit’s side: the relay pauses reading LiveKit', async () => {
    const c = await pair();
    const u = await pair();
    let pauses = 0;
    const pause = u.near.pause.bind(u.near);
    u.near.pause = () => {
      pauses++;
      pause();
    };
    // A silent client would meet the idle timeout first on a slow machine: give it time.
    relay(c.near, u.near, passThrough, 60_000).start([]);
    (c.far as unknown as { _socket: import('node:net').Socket })._socket.pause();
    // 48 MiB toward a reader that does not read: more than the loopback socket buffers absorb.
    const chunk = Buffer.alloc(1 << 20, 1);
    for (let i = 0; i < 48; i++) u.far.send(chunk);
    await expect.poll(() => pauses, { timeout: 30_000 }).toBeGreaterThan(0);
  });

  it('transforms: a throwing fromClient ends the session with its code and dispose runs once', async () => {
    const c = await pair();
    const u = await pair();
    let disposed = 0;
    const t: RelayTransforms = {
      ...passThrough,
      fromClient: (): Message => {
        throw Object.assign(new Error('bad frame'), { closeCode: 4400 });
      },
      publicReason: () => 'Malformed',
      dispose: () => disposed++,
    };
    relay(c.near, u.near, t).start([]);
    const client = closed(c.far);
    c.far.send('x');
    expect(await client).toEqual({ code: 4400, reason: 'Malformed' });
    expect(disposed).toBe(1);
  });
});
