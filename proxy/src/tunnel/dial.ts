/**
 * One PQ session to the proxy for one SDK signaling socket, made by the
 * shared client (PqWebSocket: v1-link.ts or v2-link.ts, server keys from the
 * options or the well-known document exactly as the browser shim picks them).
 * The inner socket is `ws`, created through a per-session subclass so the
 * relay can pause it (backpressure) — PqWebSocket itself has no pause.
 */
import { getAead, getKem, getSigner, PqWebSocket, type PqWebSocketOptions, randomBytes, ServerKeyCache, type SessionFailure } from '@volly/shared';
import WebSocket from 'ws';
import type { TunnelSettings } from './options.js';
import type { SdkRequest } from './request.js';

/** Largest sealed frame accepted from the proxy (LiveKit's own limit is far below). */
const MAX_PAYLOAD = 16 * 1024 * 1024;

export interface PqDial {
  readonly pq: PqWebSocket;
  /** The current inner socket (a v2 retry replaces it). */
  inner(): WebSocket | undefined;
}

export interface Dialer {
  dial(sdk: SdkRequest, onFailure: (token: string, f: SessionFailure) => void): PqDial;
}

export function createDialer(s: TunnelSettings): Dialer {
  // One document cache per tunnel, as one per page in the browser.
  const keyCache = new ServerKeyCache();
  const base: Omit<PqWebSocketOptions, 'WebSocket' | 'onFailure'> = {
    protocol: s.protocol,
    getKem: (a) => getKem(a),
    aead: getAead(),
    randomBytes,
    getSigner: (a) => getSigner(a),
    keyCache,
    ...(s.serverKemKeys?.length ? { serverKemKeys: s.serverKemKeys } : {}),
    ...(s.serverSigKeys?.length ? { serverKeys: s.serverSigKeys } : {}),
    ...(s.wellKnownUrl ? { wellKnownUrl: s.wellKnownUrl } : {}),
    ...(s.keyPairs.length ? { keyPairs: s.keyPairs } : {}),
  };
  return {
    dial(sdk, onFailure) {
      let current: WebSocket | undefined;
      // A `ws` socket with the browser constructor shape PqWebSocket calls: (url, protocols).
      const Inner = class extends WebSocket {
        constructor(url: string, protocols?: string | string[]) {
          super(url, protocols, { perMessageDeflate: false, maxPayload: MAX_PAYLOAD });
          current = this;
        }
      };
      const url = new URL(s.server.href);
      url.pathname = `${url.pathname}${sdk.path}`.replace(/\/{2,}/g, '/');
      url.search = sdk.query.toString();
      const pq = new PqWebSocket(url, undefined, { ...base, WebSocket: Inner as unknown as typeof globalThis.WebSocket, onFailure });
      pq.binaryType = 'arraybuffer';
      return { pq, inner: () => current };
    },
  };
}
