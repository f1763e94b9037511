/**
 * Where a v2 client's static server key comes from (docs/PROTOCOL.md, v2.1):
 * the app's own keys, else the proxy's `GET /.well-known/volly-pq`, fetched
 * once per document URL and kept in memory. Either way, when the token pins
 * key ids (`video.pqServerKemKeys`) only a pinned key is used. A failed fetch
 * is remembered for a while too, so a v1-only proxy costs one 404 per
 * five minutes, not one per join.
 */
import { equalBytes } from '../bytes.js';
import { CloseCode } from '../close-codes.js';
import type { KemAlgorithm } from '../kem/types.js';
import { WELL_KNOWN_PATH } from '../v2/constants.js';
import { currentKey, parseWellKnownDocument, type ServerStaticKey } from '../v2/well-known.js';
import type { SessionFailure } from './session.js';

/** How long a document that says "no v2 here" (404, or not a key document) is remembered: the document's own max-age. */
export const FAILED_FETCH_TTL_MS = 300_000;
/** How long a fetch that failed in transit (network error, timeout, 5xx) is remembered: long enough not to hammer, short enough that one blip does not refuse v2 for minutes. */
export const TRANSIENT_FETCH_TTL_MS = 10_000;
const FETCH_TIMEOUT_MS = 10_000;

type Entry = { readonly keys: ServerStaticKey[] | null; readonly at: number; readonly ttl: number };

/** The in-memory document cache: document URL → keys (null: no document there). */
export class ServerKeyCache {
  readonly #entries = new Map<string, Entry>();
  readonly #inFlight = new Map<string, Promise<ServerStaticKey[] | null>>();

  /**
   * The document's keys (null: the proxy serves none: 404, unreachable, invalid), from memory unless
   * `refresh`; `fetched` says whether this call went to the network.
   */
  async get(url: string, fetchFn: typeof fetch, refresh = false, now = Date.now()): Promise<{ keys: ServerStaticKey[] | null; fetched: boolean }> {
    const hit = this.#entries.get(url);
    if (!refresh && hit && (hit.keys !== null || now - hit.at < hit.ttl)) return { keys: hit.keys, fetched: false };
    let pending = this.#inFlight.get(url);
    if (!pending) {
      pending = fetchDocument(url, fetchFn).then(({ keys, transient }) => {
        this.#entries.set(url, { keys, at: now, ttl: transient ? TRANSIENT_FETCH_TTL_MS : FAILED_FETCH_TTL_MS });
        this.#inFlight.delete(url);
        return keys;
      });
      this.#inFlight.set(url, pending);
    }
    return { keys: await pending, fetched: true };
  }

  clear(): void {
    this.#entries.clear();
  }
}

/** One cache for every socket of the page (installPqWebSocket passes its own). */
export const defaultServerKeyCache = new ServerKeyCache();

async function fetchDocument(url: string, fetchFn: typeof fetch): Promise<{ keys: ServerStaticKey[] | null; transient: boolean }> {
  let res: Response;
  try {
    // No cookies: the document is public, and the proxy's origin is not the page's.
    res = await fetchFn(url, { credentials: 'omit', redirect: 'error', signal: AbortSignal.timeout(FETCH_TIMEOUT_MS) });
  } catch {
    return { keys: null, transient: true };
  }
  if (!res.ok) return { keys: null, transient: res.status >= 500 || res.status === 429 };
  let text: string;
  try {
    text = await res.text();
  } catch {
    return { keys: null, transient: true };
  }
  try {
    return { keys: parseWellKnownDocument(text), transient: false };
  } catch {
    return { keys: null, transient: false };
  }
}

/** `https://host/.well-known/volly-pq` for `wss://host/any/rtc` (the document sits at the origin's root). */
export function wellKnownUrlFor(signalUrl: string): string {
  const u = new URL(signalUrl);
  const scheme = u.protocol === 'wss:' || u.protocol === 'https:' ? 'https:' : 'http:';
  return `${scheme}//${u.host}${WELL_KNOWN_PATH}`;
}

export interface KeyQuery {
  /** The app's keys (authentic: they did not come through the proxy). */
  readonly appKeys?: readonly ServerStaticKey[];
  /** Key ids the token pins; a key outside them is never used. */
  readonly pins?: readonly Uint8Array[];
  readonly documentUrl: string;
  readonly fetch: typeof fetch;
  readonly cache: ServerKeyCache;
  readonly algorithms: readonly KemAlgorithm[];
  readonly nowMs: number;
}

export type KeyChoice =
  | { readonly type: 'key'; readonly key: ServerStaticKey; readonly from: 'options' | 'document' }
  /** No document and nothing that demands v2: the caller may fall back to v1. */
  | { readonly type: 'none' }
  | { readonly type: 'failed'; readonly failure: SessionFailure };

const pinned = (pins: readonly Uint8Array[] | undefined) => (k: ServerStaticKey) => !pins || pins.some((id) => equalBytes(id, k.id));

/**
 * Picks the key for one attempt. `refresh` (after a 4421) bypasses the cache.
 * A cached document without a usable key (with pins: a pinned one; the token
 * may name a key newer than the cache) is fetched once more before failing closed.
 */
export async function chooseServerKey(q: KeyQuery, refresh = false): Promise<KeyChoice> {
  const nowSeconds = Math.floor(q.nowMs / 1000);
  if (q.appKeys?.length) {
    const key = currentKey(q.appKeys.filter(pinned(q.pins)), nowSeconds, q.algorithms);
    if (key) return { type: 'key', key, from: 'options' };
    return { type: 'failed', failure: noKey('none of the configured v2 server keys is current and pinned') };
  }
  let { keys, fetched } = await q.cache.get(q.documentUrl, q.fetch, refresh, q.nowMs);
  let key = keys && currentKey(keys.filter(pinned(q.pins)), nowSeconds, q.algorithms);
  if (!key && keys && !fetched) {
    ({ keys } = await q.cache.get(q.documentUrl, q.fetch, true, q.nowMs));
    key = keys && currentKey(keys.filter(pinned(q.pins)), nowSeconds, q.algorithms);
  }
  if (key) return { type: 'key', key, from: 'document' };
  if (keys) return { type: 'failed', failure: noKey('the well-known document lists no current key (that the token pins)') };
  if (q.pins)
    return {
      type: 'failed',
      failure: { closeCode: CloseCode.Upstream, message: 'the token pins v2 server keys but the well-known document is unavailable', code: 'ERR_V2_DOCUMENT' },
    };
  return { type: 'none' };
}

const noKey = (message: string): SessionFailure => ({ closeCode: CloseCode.ServerAuth, message, code: 'ERR_V2_UNKNOWN_KEY' });
