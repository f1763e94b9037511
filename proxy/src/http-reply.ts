/**
 * The replies the proxy writes itself. HTTP ones carry the CORS headers
 * LiveKit v1.13.5 puts on its own (rs/cors with every origin allowed, plus
 * `*` on the validate paths from its auth middleware): a browser page on
 * another origin must be able to read our 401/403/404 as it reads LiveKit's,
 * or livekit-client reports "Failed to fetch" instead of the reason.
 */
import { type IncomingMessage, type ServerResponse, STATUS_CODES } from 'node:http';
import type { Duplex } from 'node:stream';

/** LiveKit's CORS headers for a reply to `req` (validate: `isValidate`). */
export function corsHeaders(req: IncomingMessage, isValidate: boolean): Record<string, string> {
  const h: Record<string, string> = { vary: 'Origin' };
  const origin = req.headers.origin;
  if (origin) {
    h['access-control-allow-origin'] = origin;
    h['access-control-expose-headers'] = '*';
  }
  if (isValidate) h['access-control-allow-origin'] = '*';
  return h;
}

export interface ReplyOptions {
  /** Body is JSON (Twirp's error shape), not text. */
  readonly json?: boolean;
  /** The request was for a validate path: `Access-Control-Allow-Origin: *` like LiveKit. */
  readonly validate?: boolean;
}

/** A complete reply on `res`; if headers already went out, the response is just ended. */
export function reply(req: IncomingMessage, res: ServerResponse, status: number, body: string, opts: ReplyOptions = {}): void {
  if (res.headersSent) return void res.end();
  res.writeHead(status, {
    ...corsHeaders(req, opts.validate ?? false),
    'content-type': opts.json ? 'application/json' : 'text/plain; charset=utf-8',
    'content-length': Buffer.byteLength(body),
    'x-content-type-options': 'nosniff',
  });
  // The text alone, no newline, as LiveKit's HandleError writes it: livekit-client shows a validate body verbatim.
  res.end(req.method === 'HEAD' ? undefined : body);
}

/** Plain HTTP answers on a raw socket, for refusing a WebSocket upgrade the way LiveKit does. */
export function refuseUpgrade(socket: Duplex, status: number, body: string): void {
  if (socket.destroyed) return;
  const text = `${body}\n`;
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      'Access-Control-Allow-Origin: *\r\n' +
      'Connection: close\r\n\r\n' +
      text,
  );
}
