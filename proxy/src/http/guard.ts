/**
 * The top-level guard of every HTTP handler (public listener, demo, admin):
 * whatever a handler throws or rejects with becomes a 500 on that request
 * alone and one log line — never an unhandled rejection that ends the
 * process. The reply says only "internal error": no stack, no token.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { redactTokens } from '@volly/shared';
import { reply } from '../http-reply.js';
import type { Logger } from '../log.js';

export type Handler = (req: IncomingMessage, res: ServerResponse) => unknown;

export function guarded(log: Logger, listener: string, handler: Handler): (req: IncomingMessage, res: ServerResponse) => void {
  return (req, res) => {
    let pending: unknown;
    try {
      pending = handler(req, res);
    } catch (err) {
      return fail(err);
    }
    Promise.resolve(pending).catch(fail);

    function fail(err: unknown): void {
      const message = redactTokens(err instanceof Error ? err.message : String(err)).slice(0, 200);
      log.error({ event: 'http_handler_error', listener, method: req.method, err: message }, 'HTTP handler failed');
      try {
        if (res.headersSent) res.destroy();
        else reply(req, res, 500, 'internal error');
      } catch {
        res.destroy();
      }
    }
  };
}
