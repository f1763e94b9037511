/**
 * TLS on the public listener, when a certificate is set (otherwise the proxy
 * serves plain HTTP and TLS ends at an ingress or load balancer in front).
 *
 * - Key exchange groups are OpenSSL's list (`ecdhCurve`), X25519MLKEM768 first
 *   by default, chosen by server preference (honorCipherOrder).
 * - The certificate and key files are re-read every `reloadIntervalMs` and a
 *   changed pair replaces the served one (`setSecureContext`) without a
 *   restart, whatever way they changed (Kubernetes swaps a symlink). A pair
 *   that does not load is logged once and the old one kept.
 * - Each connection's negotiated version and group are recorded. Node gives
 *   the group only to clients (`getEphemeralKeyInfo()` is null on a server
 *   socket), so it is read from the server's own SSL_SESSION: OpenSSL stores
 *   the group it used (`kex_group`, ASN.1 tag [19] of SSL_SESSION_ASN1 in
 *   ssl/ssl_asn1.c) and `getSession()` returns that DER. It is the group of
 *   this handshake in TLS 1.3 (also when resumed: a new key exchange), and of
 *   the session's original exchange for a resumed TLS 1.2 session, whose keys
 *   come from it.
 */
import { createHash, createPrivateKey, X509Certificate } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:https';
import { createSecureContext, type SecureContextOptions, TLSSocket } from 'node:tls';
import { TlsSettingError } from './errors.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

export const TLS_VERSIONS = ['TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof TLS_VERSIONS)[number];

export interface TlsSettings {
  readonly certFile: string;
  readonly keyFile: string;
  readonly minVersion: TlsVersion;
  /** OpenSSL group list (`:`-separated; OpenSSL 3.5 also takes `/` tuples and `*`/`?` prefixes). */
  readonly groups: string;
  readonly reloadIntervalMs: number;
}

/** What a session records of its client connection. */
export interface TlsFacts {
  /** TLSv1.2 | TLSv1.3 */
  readonly version: string;
  /** The key-exchange group by its OpenSSL name (X25519MLKEM768, X25519, P-256, ...), or "unknown". */
  readonly group: string;
  /** pq: a post-quantum or hybrid group; classical otherwise. */
  readonly kex: 'pq' | 'classical';
  readonly resumed: boolean;
}

/** IANA TLS group ids → the names VOLLY_TLS_GROUPS takes. Anything else is "0x…" (only configured groups can be negotiated). */
const GROUP_NAMES = new Map<number, string>([
  [0x0017, 'P-256'],
  [0x0018, 'P-384'],
  [0x0019, 'P-521'],
  [0x001a, 'brainpoolP256r1'],
  [0x001b, 'brainpoolP384r1'],
  [0x001c, 'brainpoolP512r1'],
  [0x001d, 'X25519'],
  [0x001e, 'X448'],
  [0x001f, 'brainpoolP256r1tls13'],
  [0x0020, 'brainpoolP384r1tls13'],
  [0x0021, 'brainpoolP512r1tls13'],
  [0x0100, 'ffdhe2048'],
  [0x0101, 'ffdhe3072'],
  [0x0102, 'ffdhe4096'],
  [0x0103, 'ffdhe6144'],
  [0x0104, 'ffdhe8192'],
  [0x0200, 'MLKEM512'],
  [0x0201, 'MLKEM768'],
  [0x0202, 'MLKEM1024'],
  [0x11eb, 'SecP256r1MLKEM768'],
  [0x11ec, 'X25519MLKEM768'],
  [0x11ed, 'SecP384r1MLKEM1024'],
]);
const PQ_GROUPS = new Set([0x0200, 0x0201, 0x0202, 0x11eb, 0x11ec, 0x11ed]);

export function groupName(id: number): string {
  return GROUP_NAMES.get(id) ?? `0x${id.toString(16).padStart(4, '0')}`;
}

export function isPqGroup(id: number): boolean {
  return PQ_GROUPS.has(id);
}

/** One DER header at `at`: tag (low-tag-number form), content start and length. */
function derHeader(der: Uint8Array, at: number): { tag: number; start: number; length: number } | undefined {
  if (at + 2 > der.length) return undefined;
  const tag = der[at]!;
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const n = length & 0x7f;
    if (n === 0 || n > 4 || start + n > der.length) return undefined;
    length = 0;
    for (let i = 0; i < n; i++) length = length * 256 + der[start + i]!;
    start += n;
  }
  return start + length <= der.length ? { tag, start, length } : undefined;
}

/** `kex_group` of a DER SSL_SESSION (`[19] EXPLICIT INTEGER` in the outer SEQUENCE), or undefined. */
export function sessionKexGroup(der: Uint8Array): number | undefined {
  const seq = derHeader(der, 0);
  if (seq?.tag !== 0x30) return undefined;
  const end = seq.start + seq.length;
  for (let at = seq.start; at < end; ) {
    const h = derHeader(der, at);
    if (!h) return undefined;
    if (h.tag === 0xb3) {
      const int = derHeader(der, h.start);
      if (int?.tag !== 0x02 || int.length < 1 || int.length > 4) return undefined;
      let v = 0;
      for (let i = 0; i < int.length; i++) v = v * 256 + der[int.start + i]!;
      return v || undefined;
    }
    at = h.start + h.length;
  }
  return undefined;
}

const factsOf = new WeakMap<TLSSocket, TlsFacts>();

function describeSocket(socket: TLSSocket): TlsFacts {
  const session = socket.getSession();
  const id = session ? sessionKexGroup(session) : undefined;
  // The DER holds the master secret in TLS 1.2: do not keep it around.
  session?.fill(0);
  return {
    version: socket.getProtocol() ?? 'unknown',
    group: id === undefined ? 'unknown' : groupName(id),
    kex: id !== undefined && isPqGroup(id) ? 'pq' : 'classical',
    resumed: socket.isSessionReused(),
  };
}

/** The TLS facts of a client connection; undefined for plain HTTP. */
export function tlsFactsOf(socket: unknown): TlsFacts | undefined {
  if (!(socket instanceof TLSSocket) || !socket.encrypted) return undefined;
  let facts = factsOf.get(socket);
  if (!facts) {
    facts = describeSocket(socket);
    factsOf.set(socket, facts);
  }
  return facts;
}

/** Metric labels of a connection's TLS (tls_kex "none": plain HTTP, TLS ended before the proxy). */
export function tlsLabels(facts: TlsFacts | undefined): { tls_version: string; tls_group: string; tls_kex: string } {
  return facts ? { tls_version: facts.version, tls_group: facts.group, tls_kex: facts.kex } : { tls_version: 'none', tls_group: 'none', tls_kex: 'none' };
}

export interface TlsPair {
  readonly cert: Buffer;
  readonly key: Buffer;
}

/** Reads both files (the error names the file that failed). */
export function readPair(s: Pick<TlsSettings, 'certFile' | 'keyFile'>): TlsPair {
  const read = (file: string, what: string) => {
    try {
      return readFileSync(file);
    } catch (err) {
      throw new TlsSettingError(`cannot read the ${what} ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  return { cert: read(s.certFile, 'certificate'), key: read(s.keyFile, 'key') };
}

export function contextOptions(s: Omit<TlsSettings, 'certFile' | 'keyFile' | 'reloadIntervalMs'>, pair: TlsPair): SecureContextOptions {
  return { cert: pair.cert, key: pair.key, minVersion: s.minVersion, ecdhCurve: s.groups, honorCipherOrder: true };
}

/** Checks a group list against this OpenSSL; throws with OpenSSL's reason. */
export function checkGroups(groups: string): void {
  try {
    createSecureContext({ ecdhCurve: groups });
  } catch (err) {
    throw new TlsSettingError(
      `OpenSSL ${process.versions.openssl} does not accept "${groups}" (${(err as Error).message}); names are OpenSSL's: X25519MLKEM768 (OpenSSL 3.5+), X25519, P-256, ...`,
    );
  }
}

export interface CertInfo {
  readonly subject: string;
  readonly fingerprint256: string;
  readonly validTo: string;
  readonly notAfterSeconds: number;
}

/** Loads the pair as the server would, so a broken pair is refused before it is served; the error names the file at fault. */
export function checkPair(s: TlsSettings, pair: TlsPair): CertInfo {
  let x: X509Certificate;
  try {
    x = new X509Certificate(pair.cert);
  } catch {
    throw new TlsSettingError(`the certificate ${s.certFile} is not a PEM certificate`);
  }
  try {
    createPrivateKey(pair.key);
  } catch {
    throw new TlsSettingError(`the key ${s.keyFile} is not a PEM private key (or it is encrypted)`);
  }
  if (!x.checkPrivateKey(createPrivateKey(pair.key))) throw new TlsSettingError(`the key ${s.keyFile} does not match the certificate ${s.certFile}`);
  createSecureContext(contextOptions(s, pair));
  return {
    subject: x.subject.replace(/\n/g, ', '),
    fingerprint256: x.fingerprint256,
    validTo: x.validTo,
    notAfterSeconds: Math.floor(Date.parse(x.validTo) / 1000),
  };
}

export interface TlsListener {
  readonly server: Server;
  /** Re-reads the files now (also done every reloadIntervalMs); true when a new pair is served. */
  reload(): boolean;
  stop(): void;
}

/** An HTTPS server for the public listener, with the certificate reloader and per-connection TLS metrics. */
export function createTlsListener(s: TlsSettings, opts: { log: Logger; metrics: Metrics; handshakeTimeoutMs: number }): TlsListener {
  const { log, metrics } = opts;
  const digest = (p: TlsPair) => createHash('sha256').update(p.cert).update('\0').update(p.key).digest('hex');
  const first = readPair(s);
  const info = checkPair(s, first);
  let served = digest(first);
  let refused = '';
  const server = createServer({ ...contextOptions(s, first), handshakeTimeout: opts.handshakeTimeoutMs, connectionsCheckingInterval: 1_000 });
  metrics.tlsCertificateExpiry.set(info.notAfterSeconds);
  log.info(
    { event: 'tls_certificate', subject: info.subject, fingerprint256: info.fingerprint256, validTo: info.validTo, minVersion: s.minVersion, groups: s.groups },
    'serving TLS',
  );

  server.on('secureConnection', (socket: TLSSocket) => {
    metrics.tlsHandshakes.inc(tlsLabels(tlsFactsOf(socket)));
  });
  server.on('tlsClientError', (err: NodeJS.ErrnoException, socket: TLSSocket) => {
    const code = err.code ?? 'unknown';
    metrics.tlsErrors.inc({ code });
    log.debug({ event: 'tls_error', code, remote: socket.remoteAddress, err: err.message }, 'TLS handshake failed');
  });

  const reload = (): boolean => {
    let d: string | undefined;
    try {
      const pair = readPair(s);
      d = digest(pair);
      if (d === served || d === refused) return false;
      const next = checkPair(s, pair);
      server.setSecureContext(contextOptions(s, pair));
      served = d;
      refused = '';
      metrics.tlsReloads.inc({ result: 'ok' });
      metrics.tlsCertificateExpiry.set(next.notAfterSeconds);
      log.info({ event: 'tls_reloaded', subject: next.subject, fingerprint256: next.fingerprint256, validTo: next.validTo }, 'TLS certificate reloaded');
      return true;
    } catch (err) {
      const why = (err as Error).message.split('\n')[0] ?? 'error';
      // Once per distinct failure: a half-written pair settles by the next check.
      const key = d ?? why;
      if (key === refused) return false;
      refused = key;
      metrics.tlsReloads.inc({ result: 'error' });
      log.warn(
        { event: 'tls_reload_failed', certFile: s.certFile, keyFile: s.keyFile, err: why },
        'TLS certificate not reloaded; the previous one is still served',
      );
      return false;
    }
  };
  const timer = setInterval(reload, s.reloadIntervalMs);
  timer.unref();
  return { server, reload, stop: () => clearInterval(timer) };
}
