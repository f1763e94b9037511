// Free loopback ports for servers the tests start (LiveKit, Redis, proxies).
//
// A port is found by binding 127.0.0.1:0 and closing again, so there is a
// small window in which something else may take it; callers that start a
// server on it should retry on EADDRINUSE. Within one test process no port is
// handed out twice (TCP and UDP kept apart), which is what keeps two LiveKit
// nodes started side by side from colliding on their media ports.

import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

export const LOOPBACK = '127.0.0.1';

const handedOut = { tcp: new Set<number>(), udp: new Set<number>() };

function tcpOnce(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', reject);
    srv.listen({ host, port: 0, exclusive: true }, () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

function udpOnce(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const sock = createSocket('udp4');
    sock.unref();
    sock.once('error', reject);
    sock.bind({ address: host, port: 0, exclusive: true }, () => {
      const { port } = sock.address();
      sock.close(() => resolve(port));
    });
  });
}

/** Is `port` free for TCP on `host` right now? */
export function isTcpPortFree(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.unref();
    srv.once('error', () => resolve(false));
    srv.listen({ host, port, exclusive: true }, () => srv.close(() => resolve(true)));
  });
}

/** Is `port` free for UDP on `host` right now? */
export function isUdpPortFree(port: number, host = LOOPBACK): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createSocket('udp4');
    sock.unref();
    sock.once('error', () => resolve(false));
    sock.bind({ address: host, port, exclusive: true }, () => sock.close(() => resolve(true)));
  });
}

async function pick(kind: 'tcp' | 'udp', host: string): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = kind === 'tcp' ? await tcpOnce(host) : await udpOnce(host);
    // Keep clear of ports handed out before, in either protocol: a LiveKit
    // node uses one number for TCP (signaling, ICE/TCP) and UDP alike in logs,
    // and distinct numbers make failures easier to read.
    if (port > 0 && !handedOut.tcp.has(port) && !handedOut.udp.has(port)) {
      handedOut[kind].add(port);
      return port;
    }
  }
  throw new Error(`could not find a free ${kind.toUpperCase()} port on ${host}`);
}

/** A free TCP port on 127.0.0.1 (or `host`), never one handed out before by this process. */
export function getFreePort(host = LOOPBACK): Promise<number> {
  return pick('tcp', host);
}

/** A free UDP port on 127.0.0.1 (or `host`), never one handed out before by this process. */
export function getFreeUdpPort(host = LOOPBACK): Promise<number> {
  return pick('udp', host);
}

/** `n` distinct free TCP ports. */
export async function getFreePorts(n: number, host = LOOPBACK): Promise<number[]> {
  const ports: number[] = [];
  for (let i = 0; i < n; i++) ports.push(await pick('tcp', host));
  return ports;
}

/** Forget a port handed out before (after its server stopped for good). */
export function releasePort(port: number): void {
  handedOut.tcp.delete(port);
  handedOut.udp.delete(port);
}
