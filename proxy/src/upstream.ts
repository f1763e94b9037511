/**
 * Dials LiveKit's signaling WebSocket. LiveKit speaks first (JoinResponse),
 * possibly in the same packet as the upgrade, so messages are buffered from
 * the start until the relay takes the socket. An HTTP refusal (LiveKit's
 * 401/403/404 with its reason as the body, tokens redacted) is returned, not thrown.
 *
 * Once the dial settles, no listener of the dial stays on the socket but the
 * early-message buffer (until `detach()`) and a context-free error sink: a
 * closure left behind would keep the whole dial scope (URL with the token,
 * headers, early messages) alive for as long as the session relays.
 */
import type { ClientRequest, IncomingMessage } from 'node:http';
import { redactTokens } from '@volly/shared';
import WebSocket, { type RawData } from 'ws';

export type DialResult =
  | { readonly ok: true; readonly ws: WebSocket; readonly early: Array<[RawData, boolean]>; readonly detach: () => void }
  | { readonly ok: false; readonly status: number; readonly body: string };

const MAX_BODY = 4096;

/** Errors after the dial settles are the relay's to handle; never crash on an unheard 'error'. */
const ignoreError = (): void => {};

export function dialUpstream(
  url: URL,
  opts: { headers: Record<string, string>; maxPayload: number; timeoutMs: number; signal?: AbortSignal },
): Promise<DialResult> {
  const { signal } = opts;
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: opts.headers, maxPayload: opts.maxPayload, handshakeTimeout: opts.timeoutMs, perMessageDeflate: false });
    // A session that ends while dialing takes the dial with it (an open socket is the caller's to close).
    const abort = () => {
      if (ws.readyState === ws.CONNECTING) ws.terminate();
    };
    signal?.addEventListener('abort', abort, { once: true });
    ws.on('error', ignoreError);
    const early: Array<[RawData, boolean]> = [];
    const buffer = (data: RawData, isBinary: boolean) => early.push([data, isBinary]);
    ws.on('message', buffer);
    /** Takes every listener of the dial off (the abort too, unless a refusal body is still to come). */
    const settled = (keepAbort = false) => {
      if (!keepAbort) signal?.removeEventListener('abort', abort);
      ws.off('open', onOpen);
      ws.off('error', onError);
      ws.off('unexpected-response', onRefused);
    };
    const onOpen = () => {
      settled();
      resolve({ ok: true, ws, early, detach: () => ws.off('message', buffer) });
    };
    const onError = (err: Error) => {
      settled();
      resolve({ ok: false, status: 0, body: `LiveKit unreachable: ${err.message}` });
    };
    const onRefused = (_req: ClientRequest, res: IncomingMessage) => {
      settled(true);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < MAX_BODY) body += chunk;
      });
      // LiveKit's 401 bodies quote the (re-signed) token: never pass that on.
      const done = () => {
        signal?.removeEventListener('abort', abort);
        resolve({ ok: false, status: res.statusCode ?? 502, body: redactTokens(body.slice(0, MAX_BODY)).trim() });
      };
      res.on('end', done);
      res.on('error', done);
    };
    ws.once('open', onOpen);
    ws.once('error', onError);
    ws.once('unexpected-response', onRefused);
  });
}
