/**
 * Every place LiveKit's auth middleware (pkg/service/auth.go) finds a token
 * on an HTTP request: `Authorization: Bearer`, else `r.FormValue("access_token")`,
 * which reads an `application/x-www-form-urlencoded` body (and multipart forms)
 * before the query. Each token the request carries is verified with the
 * client keys, refused if it is PQ-bound (such a token is good only inside a
 * PQ session that proved its key), and replaced by its re-signed upstream
 * form: LiveKit never sees a client-key token, and a bound token never
 * reaches it at all. The query and form are re-serialized from what was
 * checked, so LiveKit parses exactly what the proxy parsed.
 */
import type { IncomingMessage } from 'node:http';
import { VollyError } from '@volly/shared';
import type { Context } from '../context.js';

/** A request refused before anything reaches LiveKit. */
export class HttpRefusal extends Error {
  constructor(
    readonly status: number,
    readonly code: 'ERR_HTTP_AUTH_HEADER' | 'ERR_HTTP_TOKEN_COUNT' | 'ERR_HTTP_FORM' | 'ERR_HTTP_BODY_TOO_LARGE' | 'ERR_HTTP_BODY',
    message: string,
  ) {
    super(message);
    this.name = 'HttpRefusal';
  }
}

/** A form body is read whole to rewrite its token; LiveKit's own API never sends one. */
const MAX_FORM_BYTES = 64 * 1024;
const BEARER = /^Bearer (\S+)$/;

/** The token of an `Authorization: Bearer <token>` header, as LiveKit reads it; undefined for none or another scheme. */
export const bearerToken = (header: string | undefined): string | undefined => (header ? BEARER.exec(header)?.[1] : undefined);
const TOKEN_PARAM = 'access_token';

/** Re-signs the one `access_token` in `params` (if any) in place. Several are refused: LiveKit would take the first. */
async function resignParam(ctx: Context, params: URLSearchParams, where: string): Promise<boolean> {
  const all = params.getAll(TOKEN_PARAM);
  if (all.length === 0) return false;
  if (all.length > 1) throw new HttpRefusal(400, 'ERR_HTTP_TOKEN_COUNT', `more than one access_token in the ${where}`);
  params.set(TOKEN_PARAM, await ctx.auth.resignBearer(all[0] as string));
  return true;
}

async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of req as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > max) throw new HttpRefusal(413, 'ERR_HTTP_BODY_TOO_LARGE', `form body larger than ${max} bytes`);
      parts.push(chunk);
    }
  } catch (err) {
    // A client that aborts mid-body is its own failure, not the proxy's (no 500, no error log).
    if (err instanceof HttpRefusal) throw err;
    throw new HttpRefusal(400, 'ERR_HTTP_BODY', 'request body ended early');
  }
  return Buffer.concat(parts);
}

export interface Resigned {
  /** The rewritten form body to send instead of the request's (already read). */
  readonly body?: Buffer;
}

/**
 * Verifies and re-signs every token on `req` (headers and `url` are changed
 * in place). Throws VollyError (401) or HttpRefusal; nothing is forwarded then.
 */
export async function resignTokens(ctx: Context, req: IncomingMessage, url: URL): Promise<Resigned> {
  const auth = req.headers.authorization;
  if (auth) {
    const token = bearerToken(auth);
    if (!token) throw new HttpRefusal(401, 'ERR_HTTP_AUTH_HEADER', 'invalid authorization header. Must start with Bearer ');
    req.headers.authorization = `Bearer ${await ctx.auth.resignBearer(token)}`;
  } else {
    delete req.headers.authorization;
  }
  await resignParam(ctx, url.searchParams, 'query');
  // The media type as Go's mime.ParseMediaType reads it: before any ';', trimmed, lower case.
  const type = String(req.headers['content-type'] ?? '')
    .split(';')[0]
    ?.trim()
    .toLowerCase();
  if (!type?.includes('form')) return {};
  // Go's FormValue also reads multipart forms; nothing LiveKit documents sends one.
  if (type !== 'application/x-www-form-urlencoded') {
    throw new HttpRefusal(415, 'ERR_HTTP_FORM', 'form bodies other than application/x-www-form-urlencoded are not accepted');
  }
  const form = new URLSearchParams((await readBody(req, MAX_FORM_BYTES)).toString('utf8'));
  await resignParam(ctx, form, 'form body');
  return { body: Buffer.from(form.toString()) };
}

/** The status and text of a refusal, for the reply. */
export function refusalOf(err: unknown): { status: number; message: string } | undefined {
  if (err instanceof HttpRefusal) return { status: err.status, message: err.message };
  // Token checks throw TokenError; any other VollyError from verify is a bad token too.
  if (err instanceof VollyError) return { status: 401, message: err.message };
  return undefined;
}
