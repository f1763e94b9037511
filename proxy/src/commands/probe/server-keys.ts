/**
 * The proxy's keys as `volly-pq token` and `volly-pq probe` take them: key
 * files from `volly-pq keygen` (the public half is enough: X-Wing or
 * ML-KEM-768 for volly-pq.v2's static keys, ML-DSA-65 for v1's server
 * identity) and the proxy's well-known document (v2 keys only).
 */
import { isKemAlgorithm, type ServerKey, serverKey, v2 } from '@volly/shared';
import { KeyFileError, kemKeyOf, readKeyFileJson } from '../../key-file.js';
import { UsageError } from '../common.js';

/** How long a key file without `notAfter` counts as current (as the proxy announces it). */
const DEFAULT_LIFETIME_S = 365 * 24 * 3600;

export interface ServerKeys {
  /** volly-pq.v2 static KEM keys. */
  readonly kem: v2.ServerStaticKey[];
  /** volly-pq.v1 ML-DSA-65 identity keys (signature pins). */
  readonly sig: ServerKey[];
}

/** Reads `--server-key` files; a bad file is a usage error naming it and what is wrong, never key bytes. */
export function readServerKeyFiles(files: readonly string[], option = '--server-key'): ServerKeys {
  const out: ServerKeys = { kem: [], sig: [] };
  const nowSeconds = Math.floor(Date.now() / 1000);
  for (const file of files) {
    const bad = (why: string) => new UsageError(`${option} ${file}: ${why}`);
    let doc: Record<string, unknown>;
    try {
      doc = readKeyFileJson(file);
      if (typeof doc.algorithm === 'string' && isKemAlgorithm(doc.algorithm)) {
        const { algorithm, publicKey } = kemKeyOf({ ...doc, secretKey: undefined }, false);
        const notAfter = Number.isSafeInteger(doc.notAfter) ? (doc.notAfter as number) : nowSeconds + DEFAULT_LIFETIME_S;
        out.kem.push(v2.staticKey(algorithm, publicKey, notAfter));
        continue;
      }
    } catch (err) {
      if (err instanceof KeyFileError) throw bad(err.message);
      throw err;
    }
    try {
      const keyId = typeof doc.keyId === 'string' ? { keyId: doc.keyId } : {};
      out.sig.push(serverKey({ algorithm: String(doc.algorithm), publicKey: String(doc.publicKey), ...keyId }));
    } catch (err) {
      throw bad(`not a server key from volly-pq keygen (X-Wing, ML-KEM-768 or ML-DSA-65): ${(err as Error).message}`);
    }
  }
  return out;
}

/** The document's URL for `--well-known`: a bare origin (http, https, ws or wss) gets /.well-known/volly-pq. */
export function wellKnownUrl(text: string, option = '--well-known'): string {
  let u: URL;
  try {
    u = new URL(text);
  } catch {
    throw new UsageError(`${option}: not a URL: "${text}"`);
  }
  const scheme = { 'http:': 'http:', 'https:': 'https:', 'ws:': 'http:', 'wss:': 'https:' }[u.protocol];
  if (!scheme) throw new UsageError(`${option}: expected http://, https://, ws:// or wss://, got ${u.protocol}`);
  u.protocol = scheme;
  if (u.pathname === '/' || u.pathname === '') u.pathname = v2.WELL_KNOWN_PATH;
  u.search = '';
  u.hash = '';
  return u.href;
}

/** Why a document could not be had (404, unreachable, not a document): a message fit for the report. */
export class DocumentError extends Error {
  readonly code = 'ERR_V2_DOCUMENT';
}

/** GETs and checks the proxy's well-known document (no redirects, as a browser client). */
export async function fetchWellKnown(url: string, timeoutMs: number): Promise<v2.ServerStaticKey[]> {
  let res: Response;
  try {
    res = await fetch(url, { redirect: 'error', signal: AbortSignal.timeout(timeoutMs) });
  } catch (err) {
    const cause = (err as { cause?: { code?: string } }).cause?.code;
    throw new DocumentError(`${url}: ${(err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (cause ?? (err as Error).message)}`);
  }
  if (res.status !== 200) {
    await res.body?.cancel();
    throw new DocumentError(`${url}: HTTP ${res.status}`);
  }
  try {
    return v2.parseWellKnownDocument(await res.text());
  } catch (err) {
    throw new DocumentError(`${url}: ${(err as Error).message}`);
  }
}
