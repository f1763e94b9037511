/**
 * `volly-pq tunnel` options → the tunnel's settings, checked before anything
 * listens. The listener is loopback-only unless --allow-remote: what reaches
 * it travels in clear (the SDK's token, identity, SDP), so it must not leave
 * the host (or the pod, as a sidecar) it runs on.
 */
import { isIP } from 'node:net';
import { type KemKeyPair, type PqProtocolChoice, SERVER_KEY_ALGORITHM, type ServerKey, serverKey, v2 } from '@volly/shared';
import { KeyFileError, kemKeyOf, readKeyFileJson } from '../key-file.js';
import { TunnelError } from './errors.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

export interface TunnelSettings {
  readonly listen: HostPort;
  /** Where /metrics is served; undefined: nowhere. */
  readonly adminListen: HostPort | undefined;
  /** The proxy's signaling base, ws: or wss: (a path prefix is kept). */
  readonly server: URL;
  /** The proxy's HTTP base (http: or https:), for Twirp and the rest. */
  readonly serverHttp: URL;
  readonly protocol: PqProtocolChoice;
  /** v2 static keys given on the command line (else the well-known document). */
  readonly serverKemKeys: readonly v2.ServerStaticKey[] | undefined;
  /** v1 server identity pins (ML-DSA-65): the proxy must sign each v1 handshake with one. */
  readonly serverSigKeys: readonly ServerKey[] | undefined;
  readonly wellKnownUrl: string | undefined;
  /** Key pairs token-bound tokens may be bound to. */
  readonly keyPairs: readonly KemKeyPair[];
  readonly logLevel: string;
}

export interface TunnelCliOptions {
  listen: string;
  server?: string;
  protocol: string;
  serverKey?: string[];
  wellKnownUrl?: string;
  bindKey?: string[];
  adminListen?: string;
  allowRemote?: boolean;
  logLevel: string;
}

export function parseHostPort(text: string, option: string): HostPort {
  const m = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(text.trim());
  const port = m ? Number(m[2]) : -1;
  if (!m || port > 65_535) throw new TunnelError('ERR_TUNNEL_LISTEN', `${option}: expected host:port, got "${text}"`);
  return { host: (m[1] as string).replace(/^\[|\]$/g, ''), port };
}

/** 127.0.0.0/8, ::1 and `localhost`: the only hosts a tunnel listens on without --allow-remote. */
export function isLoopbackHost(host: string): boolean {
  if (host === 'localhost') return true;
  if (isIP(host) === 4) return host.startsWith('127.');
  return host === '::1';
}

function loopbackOnly(hp: HostPort, option: string, allowRemote: boolean): HostPort {
  if (!allowRemote && !isLoopbackHost(hp.host))
    throw new TunnelError(
      'ERR_TUNNEL_REMOTE_LISTEN',
      `${option} ${hp.host}: not a loopback address; the tunnel's side is in clear (tokens, SDP), so it listens on loopback unless --allow-remote`,
    );
  return hp;
}

function serverUrls(text: string | undefined): { server: URL; serverHttp: URL } {
  if (!text) throw new TunnelError('ERR_TUNNEL_SERVER_URL', '--server: the proxy URL is required (wss://proxy.example)');
  let server: URL;
  try {
    server = new URL(text);
  } catch {
    throw new TunnelError('ERR_TUNNEL_SERVER_URL', `--server: not a URL: "${text}"`);
  }
  const http = { 'wss:': 'https:', 'ws:': 'http:', 'https:': 'https:', 'http:': 'http:' }[server.protocol];
  if (!http || server.search || server.hash || server.username || server.password)
    throw new TunnelError('ERR_TUNNEL_SERVER_URL', '--server: expected wss://host[:port][/prefix] (ws:// for tests), no query or credentials');
  server.protocol = http === 'https:' ? 'wss:' : 'ws:';
  server.pathname = server.pathname.replace(/\/+$/, '');
  const serverHttp = new URL(server.href);
  serverHttp.protocol = http;
  return { server, serverHttp };
}

export interface ServerKeysFromFile {
  readonly kem: v2.ServerStaticKey[];
  readonly sig: ServerKey[];
}

/**
 * A --server-key file: the proxy's well-known document as served, a keygen KEM
 * key file (v2 static key; the public half is enough), or a keygen ML-DSA-65
 * key file (a v1 server identity pin, as the admin `GET /server-keys` lists).
 */
export function readServerKeys(file: string): ServerKeysFromFile {
  try {
    const doc = readKeyFileJson(file);
    if ('protocol' in doc) return { kem: v2.parseWellKnownDocument(JSON.stringify(doc)), sig: [] };
    if (doc.algorithm === SERVER_KEY_ALGORITHM) return { kem: [], sig: [serverKey({ algorithm: SERVER_KEY_ALGORITHM, publicKey: String(doc.publicKey) })] };
    const key = kemKeyOf(doc, false);
    // A key file carries no expiry: the key is used until the proxy refuses it (4421).
    const notAfter = typeof doc.notAfter === 'number' ? doc.notAfter : Number.MAX_SAFE_INTEGER;
    return { kem: [v2.staticKey(key.algorithm, key.publicKey, notAfter)], sig: [] };
  } catch (err) {
    throw new TunnelError('ERR_TUNNEL_SERVER_KEY', `--server-key ${file}: ${(err as Error).message}`);
  }
}

function readBindKey(file: string): KemKeyPair {
  try {
    return kemKeyOf(readKeyFileJson(file), true).keyPair as KemKeyPair;
  } catch (err) {
    const why = err instanceof KeyFileError ? err.message : 'unreadable';
    throw new TunnelError('ERR_TUNNEL_BIND_KEY', `--bind-key ${file}: ${why}`);
  }
}

export function tunnelSettings(o: TunnelCliOptions): TunnelSettings {
  const allowRemote = o.allowRemote === true;
  if (!['v1', 'v2', 'auto'].includes(o.protocol)) throw new TunnelError('ERR_TUNNEL_PROTOCOL', `--protocol: expected v2, v1 or auto, got "${o.protocol}"`);
  const files = (o.serverKey ?? []).map(readServerKeys);
  const serverKemKeys = files.flatMap((f) => f.kem);
  const serverSigKeys = files.flatMap((f) => f.sig);
  return {
    listen: loopbackOnly(parseHostPort(o.listen, '--listen'), '--listen', allowRemote),
    // Metrics hold no secret: a sidecar's may listen on the pod address for Prometheus.
    adminListen: o.adminListen ? parseHostPort(o.adminListen, '--admin-listen') : undefined,
    ...serverUrls(o.server),
    protocol: o.protocol as PqProtocolChoice,
    serverKemKeys: serverKemKeys.length ? serverKemKeys : undefined,
    serverSigKeys: serverSigKeys.length ? serverSigKeys : undefined,
    wellKnownUrl: o.wellKnownUrl,
    keyPairs: (o.bindKey ?? []).map(readBindKey),
    logLevel: o.logLevel,
  };
}
