/**
 * What the tunnel reads from an SDK's request: the path, the query, and the
 * access token (LiveKit's `access_token` parameter, or `Authorization: Bearer`,
 * which some SDK versions send instead). Nothing here logs or keeps them.
 */
import type { IncomingMessage } from 'node:http';
import { gunzipSync } from 'node:zlib';
import { JoinRequest, WrappedJoinRequest, WrappedJoinRequest_Compression } from '@livekit/protocol';

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

/**
 * Whether the SDK asks to resume a session: `reconnect=1` on `/rtc`, or the
 * `reconnect` field of `/rtc/v1`'s join_request (a WrappedJoinRequest,
 * base64url, its JoinRequest plain or gzipped). Only for the log and metrics:
 * an unreadable join_request counts as a fresh join (LiveKit decides).
 */
export function isReconnect(query: URLSearchParams): boolean {
  if (query.get('reconnect') === '1') return true;
  const param = query.get('join_request');
  if (!param) return false;
  try {
    const wrapped = WrappedJoinRequest.fromBinary(Buffer.from(param, 'base64url'));
    const raw =
      wrapped.compression === WrappedJoinRequest_Compression.GZIP ? gunzipSync(wrapped.joinRequest, { maxOutputLength: 1 << 20 }) : wrapped.joinRequest;
    return JoinRequest.fromBinary(raw).reconnect;
  } catch {
    return false;
  }
}
