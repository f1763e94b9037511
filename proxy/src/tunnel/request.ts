/**
 * What the tunnel reads from an SDK's request: the path, the query, and the
 * access token (LiveKit's `access_token` parameter, or `Authorization: Bearer`,
 * which some SDK versions send instead). Nothing here logs or keeps them.
 */
import type { IncomingMessage } from 'node:http';

export interface SdkRequest {
  readonly path: string;
  /** The query with the token in it (as the PQ client expects: it seals the whole query). */
  readonly query: URLSearchParams;
  readonly token: string;
}

export function readSdkRequest(req: IncomingMessage): SdkRequest {
  const u = new URL(req.url ?? '/', 'http://tunnel.invalid');
  const query = u.searchParams;
  const bearer = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '')?.[1];
  if (!query.get('access_token') && bearer) query.set('access_token', bearer);
  return { path: u.pathname.replace(/\/{2,}/g, '/'), query, token: query.get('access_token') ?? '' };
}
