/**
 * Makes livekit-client use volly-pq.v1 without changing it: replaces the
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
import type { SessionFailure } from './session.js';
import { PqWebSocket, type PqWebSocketOptions } from './websocket.js';

export interface InstallOptions {
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
    const pqOptions: PqWebSocketOptions = {
      ...backend,
      WebSocket: NativeWebSocket,
      onFailure: remember,
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
