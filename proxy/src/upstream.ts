/**
 * Dials LiveKit's signaling WebSocket. LiveKit speaks first (JoinResponse),
 * possibly in the same packet as the upgrade, so messages are buffered from
 * the start until the relay takes the socket. An HTTP refusal (LiveKit's
 * 401/403/404 with its reason as the body, tokens redacted) is returned, not thrown.
 */
import { redactTokens } from '@volly/shared';
import WebSocket, { type RawData } from 'ws';

export type DialResult =
  | { readonly ok: true; readonly ws: WebSocket; readonly early: Array<[RawData, boolean]>; readonly detach: () => void }
  | { readonly ok: false; readonly status: number; readonly body: string };

const MAX_BODY = 4096;

export function dialUpstream(
  url: URL,
  opts: { headers: Record<string, string>; maxPayload: number; timeoutMs: number; signal?: AbortSignal },
): Promise<DialResult> {
  return new Promise((resolve) => {
    const ws = new WebSocket(url, { headers: opts.headers, maxPayload: opts.maxPayload, handshakeTimeout: opts.timeoutMs, perMessageDeflate: false });
    // A session that ends while dialing takes the dial with it (an open socket is the caller's to close).
    const abort = () => {
      if (ws.readyState === ws.CONNECTING) ws.terminate();
    };
    opts.signal?.addEventListener('abort', abort, { once: true });
    ws.once('close', () => opts.signal?.removeEventListener('abort', abort));
    // Errors after the dial settles are the relay's to handle; never crash on an unheard 'error'.
    ws.on('error', () => {});
    const early: Array<[RawData, boolean]> = [];
    const buffer = (data: RawData, isBinary: boolean) => early.push([data, isBinary]);
    ws.on('message', buffer);
    ws.once('open', () => {
      ws.off('error', onError);
      resolve({ ok: true, ws, early, detach: () => ws.off('message', buffer) });
    });
    const onError = (err: Error) => resolve({ ok: false, status: 0, body: `LiveKit unreachable: ${err.message}` });
    ws.once('error', onError);
    ws.once('unexpected-response', (_req, res) => {
      ws.off('error', onError);
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < MAX_BODY) body += chunk;
      });
      // LiveKit's 401 bodies quote the (re-signed) token: never pass that on.
      const done = () => resolve({ ok: false, status: res.statusCode ?? 502, body: redactTokens(body.slice(0, MAX_BODY)).trim() });
      res.on('end', done);
      res.on('error', done);
    });
  });
}
