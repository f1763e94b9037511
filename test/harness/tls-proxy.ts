// The TLS suites' proxy and clients (test/tls): the proxy with TLS on its listener (in this
// process, its log lines captured), and volly-pq.v1 / classical clients over
// wss:// whose TLS options (trusted CA, offered groups, versions) the test sets.

import type { TLSSocket } from 'node:tls';
import type { Config, createLogger, RunningProxy } from '@volly/proxy';
import type { addPqClaims } from '@volly/shared';
import WebSocket, { type ClientOptions } from 'ws';
import type { LiveKitServer } from './livekit.ts';
import { connectPq, type PqConnectOptions, type PqSignal } from './pq-signal.ts';
import { startTestProxy } from './proxy.ts';

export type LogLine = Record<string, unknown> & { event?: string };

export interface TlsProxy {
  readonly proxy: RunningProxy;
  readonly config: Config;
  readonly port: number;
  readonly adminUrl: string;
  readonly apiKey: string;
  readonly apiSecret: string;
  readonly logs: LogLine[];
  token(room: string, identity: string, bind?: Parameters<typeof addPqClaims>[1]): Promise<string>;
  /** The proxy's Prometheus text. */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

/** The proxy in front of `livekit` with the given certificate, its log lines kept; settings in `env` override. */
export async function startTlsProxy(livekit: LiveKitServer, cert: { certPath: string; keyPath: string }, env: Record<string, string> = {}): Promise<TlsProxy> {
  const logs: LogLine[] = [];
  const p = await startTestProxy(
    livekit,
    { VOLLY_TLS_CERT: cert.certPath, VOLLY_TLS_KEY: cert.keyPath, VOLLY_LOG_LEVEL: 'info', ...env },
    { logger: capturingLogger(logs) },
  );
  return { ...p, port: p.proxy.port, logs, token: (room, identity, bind) => p.token(room, identity, bind ? { bind } : {}) };
}

/** A logger with pino's call shape, log(obj, msg), that keeps every line in `logs` (level in `level`). */
function capturingLogger(logs: LogLine[]): ReturnType<typeof createLogger> {
  const logger: object = new Proxy(
    {},
    {
      get: (_t, level) => (level === 'child' ? () => logger : (obj: object, msg?: string) => void logs.push({ level: String(level), ...obj, msg })),
    },
  );
  return logger as ReturnType<typeof createLogger>;
}

/** TLS options of a test client: the test CA, and what it offers. */
export interface ClientTls {
  ca: string;
  /** OpenSSL group list the client offers (`*` marks the ones it sends key shares for). */
  ecdhCurve?: string;
  minVersion?: 'TLSv1.2' | 'TLSv1.3';
  maxVersion?: 'TLSv1.2' | 'TLSv1.3';
}

/** The `ws` WebSocket with these TLS options, as a browser-like constructor, remembering each socket it opens. */
function tlsWebSocket(tls: ClientTls, opened: WebSocket[]): typeof globalThis.WebSocket {
  class TlsWebSocket extends WebSocket {
    constructor(url: string | URL, protocols?: string | string[]) {
      super(url, protocols, { ...tls, perMessageDeflate: false } as ClientOptions);
      opened.push(this);
    }
  }
  return TlsWebSocket as unknown as typeof globalThis.WebSocket;
}

/** The client side's view of a TLS connection. */
export interface ClientView {
  readonly version: string | null;
  /** getEphemeralKeyInfo().name, spelled as OpenSSL group names (prime256v1 → P-256). */
  readonly group: string | undefined;
  readonly fingerprint256: string | undefined;
}

const CURVE_ALIASES: Record<string, string> = { prime256v1: 'P-256', secp256r1: 'P-256', secp384r1: 'P-384', secp521r1: 'P-521' };

export function clientView(socket: TLSSocket): ClientView {
  const name = socket.getEphemeralKeyInfo()?.name;
  return {
    version: socket.getProtocol(),
    group: name === undefined ? undefined : (CURVE_ALIASES[name] ?? name),
    fingerprint256: socket.getPeerX509Certificate()?.fingerprint256,
  };
}

/**
 * A sealed volly-pq.v1 join over wss:// through harness/pq-signal.ts's
 * connectPq (PqWebSocket, as browsers use it) on the `ws` package with these
 * TLS options.
 */
export async function connectPqTls(url: string, token: string, tls: ClientTls, opts: PqConnectOptions = {}): Promise<{ sig: PqSignal; client: ClientView }> {
  const opened: WebSocket[] = [];
  const sig = await connectPq(url, token, { ...opts, WebSocket: tlsWebSocket(tls, opened) });
  const socket = (opened[0] as unknown as { _socket: TLSSocket })._socket;
  return { sig, client: clientView(socket) };
}

/** The session lines the proxy logged for one identity. */
export function sessionLines(logs: LogLine[], identity: string): { start: LogLine | undefined; end: LogLine | undefined } {
  const mine = logs.filter((l) => l.identity === identity);
  return { start: mine.find((l) => l.event === 'session_start'), end: mine.find((l) => l.event === 'session_end') };
}
