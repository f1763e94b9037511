// Handshake slots (../src/limiter.ts): a per-address share, a FIFO queue with
// a deadline instead of an immediate 429, waiters that leave give their share
// back, and every slot is released exactly once.

import { afterEach, describe, expect, it, vi } from 'vitest';
import { type Admission, HandshakeLimiter } from '../src/limiter.js';
import { createMetrics } from '../src/metrics.js';

const limits = { maxHandshakes: 2, maxHandshakesPerSource: 2, handshakeQueue: 2, handshakeTimeoutMs: 1000 };
const never = () => {};
const granted = (a: Admission | Promise<Admission>) => {
  if ('then' in a || !a.ok) throw new Error('expected a slot now');
  return a.slot;
};
const metric = async (m: ReturnType<typeof createMetrics>, name: string) =>
  (await m.registry.getSingleMetricAsString(name)).split('\n').filter((l) => !l.startsWith('#'));

afterEach(() => vi.useRealTimers());

describe('HandshakeLimiter', () => {
  it('grants up to maxHandshakes at once, then queues in FIFO order as slots free', async () => {
    const l = new HandshakeLimiter(limits, createMetrics());
    const a = granted(l.admit('1.1.1.1', never));
    granted(l.admit('2.2.2.2', never));
    const order: string[] = [];
    const w1 = (l.admit('3.3.3.3', never) as Promise<Admission>).then((x) => {
      order.push('w1');
      return x;
    });
    const w2 = (l.admit('4.4.4.4', never) as Promise<Admission>).then((x) => {
      order.push('w2');
      return x;
    });
    a.release();
    a.release(); // idempotent: frees one slot, not two
    expect((await w1).ok).toBe(true);
    expect(order).toEqual(['w1']);
    expect(l.active).toBe(2);
    void w2;
  });

  it('a full queue refuses at once; one address cannot hold more than its share (slots + waits)', () => {
    const m = createMetrics();
    const l = new HandshakeLimiter(limits, m);
    granted(l.admit('1.1.1.1', never));
    granted(l.admit('1.1.1.1', never));
    expect(l.admit('1.1.1.1', never)).toEqual({ ok: false, reason: 'source' });
    void l.admit('2.2.2.2', never);
    void l.admit('3.3.3.3', never);
    expect(l.admit('4.4.4.4', never)).toEqual({ ok: false, reason: 'busy' });
  });

  it('a waiter expires with busy at the handshake timeout and gives its share back', async () => {
    vi.useFakeTimers();
    const m = createMetrics();
    const l = new HandshakeLimiter(limits, m);
    granted(l.admit('1.1.1.1', never));
    granted(l.admit('2.2.2.2', never));
    const w = l.admit('3.3.3.3', never) as Promise<Admission>;
    vi.advanceTimersByTime(1000);
    expect(await w).toEqual({ ok: false, reason: 'busy' });
    expect(await metric(m, 'volly_handshake_queue_total')).toEqual([
      'volly_handshake_queue_total{result="queued"} 1',
      'volly_handshake_queue_total{result="expired"} 1',
    ]);
  });

  it('a waiter whose client leaves is dropped from the queue and never gets a slot', async () => {
    const l = new HandshakeLimiter({ ...limits, maxHandshakes: 1 }, createMetrics());
    const s = granted(l.admit('1.1.1.1', never));
    let leave = () => {};
    const w = l.admit('2.2.2.2', (cb) => (leave = cb)) as Promise<Admission>;
    const next = l.admit('3.3.3.3', never) as Promise<Admission>;
    leave();
    expect(await w).toEqual({ ok: false, reason: 'gone' });
    s.release();
    expect((await next).ok).toBe(true);
    expect(l.active).toBe(1);
  });
});
