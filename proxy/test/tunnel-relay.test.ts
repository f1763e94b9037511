// The tunnel's relay between an SDK socket and a PQ session, with both ends
// replaced by recording fakes (the real ones are exercised in
// test/clients/tunnel*.test.ts): frames keep their type, each direction is
// paused while the other side's buffer is over the high-water mark, and the
// first close crosses with its code (or as a dropped socket for 1006).

import { EventEmitter } from 'node:events';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { WebSocket } from 'ws';
import { createLogger } from '../src/log.js';
import { HIGH_WATER } from '../src/tunnel/backpressure.js';
import type { PqDial } from '../src/tunnel/dial.js';
import { createTunnelMetrics } from '../src/tunnel/metrics.js';
import { TunnelSessionRecord } from '../src/tunnel/record.js';
import { relay } from '../src/tunnel/relay.js';

class FakeSdk extends EventEmitter {
  readonly OPEN = 1;
  readyState = 1;
  bufferedAmount = 0;
  paused = false;
  readonly sent: { data: unknown; binary: boolean }[] = [];
  closed: [number, string] | 'terminated' | undefined;
  send(data: unknown, opts: { binary: boolean }) {
    this.sent.push({ data, binary: opts.binary });
  }
  pause() {
    this.paused = true;
  }
  resume() {
    this.paused = false;
  }
  close(code: number, reason: string) {
    this.closed = [code, reason];
  }
  terminate() {
    this.closed = 'terminated';
  }
}

function setup() {
  const sdk = new FakeSdk();
  const inner = {
    paused: false,
    pause() {
      inner.paused = true;
    },
    resume() {
      inner.paused = false;
    },
  };
  const pq = {
    OPEN: 1,
    readyState: 1,
    bufferedAmount: 0,
    sent: [] as unknown[],
    closed: undefined as [number, string] | undefined,
    onmessage: null as ((ev: unknown) => void) | null,
    onclose: null as ((ev: unknown) => void) | null,
    onerror: null,
    send(d: unknown) {
      pq.sent.push(d);
    },
    close(code: number, reason: string) {
      pq.closed = [code, reason];
    },
  };
  const metrics = createTunnelMetrics();
  const record = new TunnelSessionRecord(createLogger('silent'), metrics, '/rtc', false);
  record.opened({ protocol: 'volly-pq.v2', mode: 'unbound', algorithm: 'X-Wing' } as never);
  const early = [{ data: new Uint8Array([9]).buffer }] as MessageEvent[];
  relay(sdk as unknown as WebSocket, { pq, inner: () => inner } as unknown as PqDial, early, record);
  return { sdk, pq, inner, metrics };
}

describe('relay', () => {
  afterEach(() => vi.useRealTimers());

  it('relays text as text and binary as binary, early frames first', () => {
    const { sdk, pq } = setup();
    pq.onmessage?.({ data: 'hello' });
    expect(sdk.sent.map((s) => s.binary)).toEqual([true, false]);
    sdk.emit('message', Buffer.from([1, 2]), true);
    sdk.emit('message', Buffer.from('hi'), false);
    expect(pq.sent).toEqual([new Uint8Array([1, 2]), 'hi']);
  });

  it('pauses the SDK while the PQ side is backed up, and the proxy side while the SDK is', async () => {
    vi.useFakeTimers();
    const { sdk, pq, inner, metrics } = setup();
    pq.bufferedAmount = HIGH_WATER + 1;
    sdk.emit('message', Buffer.from([1]), true);
    expect(sdk.paused).toBe(true);
    pq.bufferedAmount = 0;
    vi.advanceTimersByTime(20);
    expect(sdk.paused).toBe(false);

    sdk.bufferedAmount = HIGH_WATER + 1;
    pq.onmessage?.({ data: 'x' });
    expect(inner.paused).toBe(true);
    sdk.bufferedAmount = 0;
    vi.advanceTimersByTime(20);
    expect(inner.paused).toBe(false);
    expect((await metrics.registry.getSingleMetricAsString('volly_tunnel_backpressure_pauses_total')).match(/ 1$/gm)).toHaveLength(2);
  });

  it("carries the proxy's close code to the SDK, and drops the SDK's socket for 1006", () => {
    const a = setup();
    a.pq.onclose?.({ code: 4401, reason: 'token expired' });
    expect(a.sdk.closed).toEqual([4401, 'token expired']);
    const b = setup();
    b.pq.onclose?.({ code: 1006, reason: '' });
    expect(b.sdk.closed).toBe('terminated');
  });

  it("carries the SDK's close to the proxy (1005 as 1000)", () => {
    const { sdk, pq } = setup();
    sdk.emit('close', 1005, Buffer.alloc(0));
    expect(pq.closed).toEqual([1000, '']);
  });
});
