// The round-trip emulation relay (delay-relay.ts) adds the round trip it is
// configured for — and no more — and carries bytes intact and in order.

import { once } from 'node:events';
import { createServer, type Socket, connect as tcpConnect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { LOOPBACK } from '../../harness/ports.ts';
import { selfCheck, startDelayRelay } from './delay-relay.ts';

describe('delay relay', () => {
  it('adds 2 × the one-way delay to a round trip (20 ms each way: 40 ms)', async () => {
    // A delay line never delivers early: through the relay, no round trip is shorter than 40 ms and no connect + first
    // exchange shorter than 80 ms (the TCP handshake's round trip, made up by the relay, plus the exchange).
    // A busy shared box only adds delay, so the least of three checks bounds what the relay itself adds.
    const checks = [await selfCheck(20, 10), await selfCheck(20, 10), await selfCheck(20, 10)];
    for (const c of checks) {
      expect(c.expectedAddedMs).toBe(40);
      expect(c.throughRttMs).toBeGreaterThanOrEqual(40);
      expect(c.throughFirstExchangeMs).toBeGreaterThanOrEqual(80);
    }
    expect(Math.min(...checks.map((x) => x.measuredAddedMs))).toBeLessThan(50);
    expect(Math.min(...checks.map((x) => x.firstExchangeAddedMs))).toBeLessThan(95);
  });

  it('adds nothing measurable at 0 ms', async () => {
    const c = await selfCheck(0, 10);
    expect(c.measuredAddedMs).toBeLessThan(10);
  });

  it('carries 1 MiB in both directions intact and in order, and passes the FIN on', async () => {
    const conns = new Set<Socket>();
    const echo = createServer({ allowHalfOpen: true }, (s) => {
      conns.add(s);
      s.on('error', () => {});
      s.pipe(s);
    });
    echo.listen(0, LOOPBACK);
    await once(echo, 'listening');
    const relay = await startDelayRelay({ targetPort: (echo.address() as { port: number }).port, oneWayMs: 5 });
    try {
      const payload = Buffer.alloc(1024 * 1024);
      for (let i = 0; i < payload.length; i++) payload[i] = (i * 7 + (i >> 10)) & 0xff;
      const sock = tcpConnect({ port: relay.port, host: LOOPBACK, allowHalfOpen: true });
      const chunks: Buffer[] = [];
      sock.on('data', (c: Buffer) => chunks.push(c));
      await once(sock, 'connect');
      for (let off = 0; off < payload.length; off += 1000) sock.write(payload.subarray(off, off + 1000));
      sock.end();
      // The echo ends its side when our FIN reaches it through the relay; its FIN comes back the same way.
      await once(sock, 'end');
      expect(Buffer.concat(chunks).equals(payload)).toBe(true);
      sock.destroy();
    } finally {
      await relay.close();
      for (const s of conns) s.destroy();
      await new Promise<void>((r) => echo.close(() => r()));
    }
  });
});
