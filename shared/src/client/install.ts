/**
 * Makes livekit-client use volly-pq (v2 by default, see `protocol`) without changing it: replaces the
 * global `WebSocket` with one that opens a PqWebSocket for signaling URLs
 * (`/rtc`, `/rtc/v1`) and the runtime's own WebSocket for anything else, and
 * wraps `fetch` so livekit-client's `/rtc/validate` probe after a failed
 * connect is answered from the error the proxy sent inside the PQ channel —
 * the validate URL carries the token and join request, and must not leave.
 */
import { closeCodeInfo } from '../close-codes.js';
import type { KemAlgorithm, KemKeyPair } from '../kem/types.js';
import { isSignalPath, isValidatePath } from '../protocol.js';
import { type ServerKeyPin, serverKeys } from '../sig/server-auth.js';
import { parseWellKnownDocument, type ServerStaticKey } from '../v2/well-known.js';
import type { SessionFailure } from './session.js';
import type { ServerKeyCache } from './v2-keys.js';
import { type PqProtocolChoice, PqWebSocket, type PqWebSocketOptions } from './websocket.js';

export interface InstallOptions {
  /**
   * `auto` (default): volly-pq.v2 when `serverKemKeys` are given, the token
   * pins v2 keys (`video.pqServerKemKeys`) or the proxy serves
   * `/.well-known/volly-pq`; v1 when none of these (or when v1 `serverKeys`
   * pins are set). `v2`: v2 only, never a fallback. `v1`: v1 only.
   */
  readonly protocol?: PqProtocolChoice;
  /**
   * v2: the proxy's static KEM keys, as the well-known document's JSON or
   * parsed keys (first current). Without them the document is fetched once
   * per proxy origin and kept in memory.
   */
  readonly serverKemKeys?: string | readonly ServerStaticKey[];
  /** v2: the document's URL when it is not `<proxy origin>/.well-known/volly-pq`. */
  readonly wellKnownUrl?: string;
  /** v2: the document cache (default: one per page). */
  readonly keyCache?: ServerKeyCache;
  /** Which signaling URLs go through PQ (default: every `/rtc` and `/rtc/v1` URL). */
  readonly match?: (url: URL) => boolean;
  /** In-band algorithm (default ML-KEM-768). Token-bound sessions use the token's. */
  readonly algorithm?: KemAlgorithm;
  /** Key pairs that tokens may be bound to (token-bound mode). */
  readonly keyPairs?: readonly KemKeyPair[];
  /**
   * Pinned server keys (the proxy's ML-DSA-65 public keys, e.g. from its admin
   * `GET /server-keys` via the app's backend): every PQ socket then refuses a
   * proxy that cannot sign its handshake with one of them (close 4526). Without
   * them, sockets use the pins of their token's `video.pqServerKeys`, if any.
   */
  readonly serverKeys?: readonly ServerKeyPin[];
  /** Called with every PQ socket opened (diagnostics, the demo's session panel). */
  readonly onSocket?: (ws: PqWebSocket) => void;
  /** Where to install (default globalThis). */
  readonly target?: { WebSocket: typeof WebSocket; fetch: typeof fetch };
}

type Backend = Pick<PqWebSocketOptions, 'getKem' | 'aead' | 'randomBytes' | 'getSigner'>;

/** A status a Response can carry (the Fetch standard refuses anything outside 200-599 with a RangeError). */
const isResponseStatus = (s: number | undefined): s is number => s !== undefined && s >= 200 && s <= 599;

/** The HTTP status livekit-client's validate probe should see for a failure. */
export const validateStatus = (f: SessionFailure): number => (isResponseStatus(f.status) ? f.status : closeCodeInfo(f.closeCode).status);

const MAX_REMEMBERED = 32;

export function createInstaller(backend: Backend) {
  return function installPqWebSocket(opts: InstallOptions = {}): () => void {
    const target = opts.target ?? (globalThis as unknown as { WebSocket: typeof WebSocket; fetch: typeof fetch });
    const NativeWebSocket = target.WebSocket;
    const nativeFetch = target.fetch;
    const match = opts.match ?? ((u: URL) => isSignalPath(u.pathname));
    const failures = new Map<string, SessionFailure>();
    const remember = (token: string, f: SessionFailure) => {
      failures.delete(token);
      failures.set(token, f);
      if (failures.size > MAX_REMEMBERED) failures.delete(failures.keys().next().value as string);
    };
    // Malformed pins are the app's bug: refuse them here, not on some later connect.
    const pins = opts.serverKeys?.length ? serverKeys(opts.serverKeys) : undefined;
    const kemKeys = typeof opts.serverKemKeys === 'string' ? parseWellKnownDocument(opts.serverKemKeys) : opts.serverKemKeys;
    const pqOptions: PqWebSocketOptions = {
      ...backend,
      protocol: opts.protocol ?? 'auto',
      WebSocket: NativeWebSocket,
      // The document is fetched with the page's own fetch, never the validate shim.
      fetch: (input, init) => nativeFetch(input, init),
      onFailure: remember,
      ...(kemKeys?.length ? { serverKemKeys: kemKeys } : {}),
      ...(opts.wellKnownUrl ? { wellKnownUrl: opts.wellKnownUrl } : {}),
      ...(opts.keyCache ? { keyCache: opts.keyCache } : {}),
      ...(opts.algorithm ? { algorithm: opts.algorithm } : {}),
      ...(opts.keyPairs ? { keyPairs: opts.keyPairs } : {}),
      ...(pins ? { serverKeys: pins } : {}),
    };

    // A constructor that returns another object: PQ for matching URLs, native otherwise.
    const Switching = function WebSocket(this: unknown, url: string | URL, protocols?: string | string[]) {
      const u = new URL(String(url));
      if (match(u) && !protocols?.length) {
        const ws = new PqWebSocket(u, undefined, pqOptions);
        opts.onSocket?.(ws);
        return ws;
      }
      return new NativeWebSocket(url, protocols);
    } as unknown as typeof WebSocket;
    Object.assign(Switching, { CONNECTING: 0, OPEN: 1, CLOSING: 2, CLOSED: 3 });
    Switching.prototype = NativeWebSocket.prototype;

    const shimmedFetch: typeof fetch = (input, init) => {
      const href = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
      const u = new URL(href, (globalThis as { location?: { href: string } }).location?.href);
      const rtc = new URL(u);
      rtc.pathname = u.pathname.replace(/\/validate\/?$/, '');
      if (!isValidatePath(u.pathname) || !match(rtc)) return nativeFetch(input, init);
      const f = failures.get(u.searchParams.get('access_token') ?? '');
      // Never forward: the validate URL holds the token. Without a recorded
      // failure the proxy was unreachable, which a network error says.
      if (!f) return Promise.reject(new TypeError('volly-pq: signaling connection failed before the PQ session'));
      return Promise.resolve(new Response(f.message, { status: validateStatus(f), headers: { 'content-type': 'text/plain' } }));
    };

    target.WebSocket = Switching;
    target.fetch = shimmedFetch;
    return () => {
      if (target.WebSocket === Switching) target.WebSocket = NativeWebSocket;
      if (target.fetch === shimmedFetch) target.fetch = nativeFetch;
    };
  };
}
