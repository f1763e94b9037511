// Round-trip emulation on loopback: a TCP relay between a client and a target
// port that holds every chunk for a fixed one-way delay in each direction
// (20 ms each way = 40 ms added RTT), so a join's round trips cost what they
// would over a real network while everything stays on 127.0.0.1. It delays
// data, FIN and resets alike and keeps their order; it does not emulate
// bandwidth, loss or kernel backpressure (signaling frames are small).
// The kernel completes the client's TCP handshake with the relay at once, so
// the round trip of the SYN / SYN-ACK would be lost: the relay makes it up by
// holding the client's first bytes until one RTT after the accept (the
// client's request then arrives 1.5 RTT after its connect(), as over a real
// network). TLS is not emulated (the benchmark speaks plain ws).
// selfCheck() measures the RTT the relay actually adds against a loopback
// echo server: the rtt scenario reports it beside its figures.

import { once } from 'node:events';
import { createServer, type Server, type Socket, connect as tcpConnect } from 'node:net';
import { LOOPBACK } from '../../harness/ports.ts';

export interface DelayRelay {
  /** The port clients connect to (on 127.0.0.1). */
  readonly port: number;
  readonly oneWayMs: number;
  /** ws://127.0.0.1:PORT, the base URL a WebSocket client uses instead of the target's. */
  readonly wsUrl: string;
  close(): Promise<void>;
}

type Item = { at: number; chunk: Buffer } | { at: number; end: 'fin' | 'reset' };

/** One direction: chunks leave `ms` after they arrived, in arrival order. */
class DelayLine {
  readonly #queue: Item[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  readonly dest: Socket;
  readonly ms: number;
  /** Nothing is sent on before this time (performance.now()), plus ms: the emulated TCP handshake. */
  readonly notBefore: number;
  constructor(dest: Socket, ms: number, notBefore = 0) {
    this.dest = dest;
    this.ms = ms;
    this.notBefore = notBefore;
  }

  push(item: { chunk: Buffer } | { end: 'fin' | 'reset' }): void {
    const now = performance.now();
    if (this.ms <= 0 && this.#queue.length === 0) {
      this.#emit(item);
      return;
    }
    this.#queue.push({ ...item, at: Math.max(now, this.notBefore) + this.ms });
    if (!this.#timer) this.#schedule();
  }

  #schedule(): void {
    const head = this.#queue[0];
    if (!head) return;
    this.#timer = setTimeout(() => this.#drain(), Math.max(0, head.at - performance.now()));
  }

  #drain(): void {
    this.#timer = undefined;
    const now = performance.now();
    // setTimeout may fire up to a millisecond early in performance.now() terms; 0.5 ms slack avoids a spin.
    while (this.#queue.length && (this.#queue[0] as Item).at <= now + 0.5) {
      this.#emit(this.#queue.shift() as Item);
    }
    this.#schedule();
  }

  #emit(item: { chunk: Buffer } | { end: 'fin' | 'reset' }): void {
    if (this.dest.destroyed) return;
    if ('chunk' in item) this.dest.write(item.chunk);
    else if (item.end === 'fin') this.dest.end();
    else this.dest.resetAndDestroy();
  }

  cancel(): void {
    clearTimeout(this.#timer);
    this.#queue.length = 0;
  }
}

/** Feeds `from` into `line`: data, then FIN (end) or a reset (error, or close without end). */
function feed(from: Socket, line: DelayLine): void {
  let ended = false;
  from.on('data', (chunk: Buffer) => line.push({ chunk }));
  from.on('end', () => {
    ended = true;
    line.push({ end: 'fin' });
  });
  from.on('error', () => {});
  from.on('close', () => {
    if (!ended) line.push({ end: 'reset' });
  });
}

export interface DelayRelayOptions {
  readonly targetPort: number;
  readonly targetHost?: string;
  /** Delay added in each direction; the added round trip is twice this. */
  readonly oneWayMs: number;
}

export async function startDelayRelay(o: DelayRelayOptions): Promise<DelayRelay> {
  const sockets = new Set<Socket>();
  const lines = new Set<DelayLine>();
  const server: Server = createServer({ allowHalfOpen: true, noDelay: true }, (client) => {
    const upstream = tcpConnect({ port: o.targetPort, host: o.targetHost ?? LOOPBACK, allowHalfOpen: true, noDelay: true });
    // The client's first bytes leave no earlier than one RTT after the accept (the handshake's round trip).
    const toUpstream = new DelayLine(upstream, o.oneWayMs, performance.now() + 2 * o.oneWayMs);
    const toClient = new DelayLine(client, o.oneWayMs);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
    }
    lines.add(toUpstream).add(toClient);
    feed(client, toUpstream);
    feed(upstream, toClient);
    // Both sides closed: nothing more can arrive; drop the lines' references.
    let open = 2;
    const closed = () => {
      if (--open > 0) return;
      lines.delete(toUpstream);
      lines.delete(toClient);
    };
    client.once('close', closed);
    upstream.once('close', closed);
  });
  server.listen(0, LOOPBACK);
  await once(server, 'listening');
  const port = (server.address() as { port: number }).port;
  return {
    port,
    oneWayMs: o.oneWayMs,
    wsUrl: `ws://${LOOPBACK}:${port}`,
    async close() {
      for (const l of lines) l.cancel();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/**
 * With a loopback echo server, through `via` or directly: the time from
 * connect() to the first echo (TCP handshake + one exchange), and the median
 * round trip of `n` further small exchanges (ms).
 */
async function echoRtt(echoPort: number, n: number, via?: DelayRelay): Promise<{ first: number; rtt: number }> {
  const c0 = performance.now();
  const sock = tcpConnect({ port: via?.port ?? echoPort, host: LOOPBACK, noDelay: true });
  sock.on('error', () => {});
  await once(sock, 'connect');
  const times: number[] = [];
  let first = Number.NaN;
  try {
    const got = once(sock, 'data');
    sock.write('x');
    await got;
    first = performance.now() - c0;
    for (let i = 0; i < n; i++) {
      const t0 = performance.now();
      const got = once(sock, 'data');
      sock.write('x');
      await got;
      times.push(performance.now() - t0);
    }
  } finally {
    sock.destroy();
  }
  times.sort((a, b) => a - b);
  return { first, rtt: times[Math.floor(times.length / 2)] as number };
}

export interface SelfCheck {
  readonly oneWayMs: number;
  /** The round trip the relay should add: 2 × oneWayMs. */
  readonly expectedAddedMs: number;
  /** Measured: median RTT through the relay minus median RTT direct, to a loopback echo server. */
  readonly measuredAddedMs: number;
  /** Measured: connect() to the first echo, through the relay minus direct (should be 2 RTT: handshake + exchange). */
  readonly firstExchangeAddedMs: number;
  /** The same through the relay, not less the direct figure (a lower bound: a delay line never fires early). */
  readonly throughRttMs: number;
  readonly throughFirstExchangeMs: number;
}

/** Measures the RTT a relay with `oneWayMs` adds, against a loopback echo server of its own. */
export async function selfCheck(oneWayMs: number, samples = 10): Promise<SelfCheck> {
  const conns = new Set<Socket>();
  const echo = createServer((s) => {
    conns.add(s);
    s.setNoDelay(true);
    s.on('error', () => {});
    s.pipe(s);
  });
  echo.listen(0, LOOPBACK);
  await once(echo, 'listening');
  const echoPort = (echo.address() as { port: number }).port;
  const relay = await startDelayRelay({ targetPort: echoPort, oneWayMs });
  try {
    await echoRtt(echoPort, 2); // warm-up: a cold first connect would shrink the difference
    const direct = await echoRtt(echoPort, samples);
    const through = await echoRtt(echoPort, samples, relay);
    return {
      oneWayMs,
      expectedAddedMs: 2 * oneWayMs,
      measuredAddedMs: through.rtt - direct.rtt,
      firstExchangeAddedMs: through.first - direct.first,
      throughRttMs: through.rtt,
      throughFirstExchangeMs: through.first,
    };
  } finally {
    await relay.close();
    for (const s of conns) s.destroy();
    await new Promise<void>((r) => echo.close(() => r()));
  }
}
