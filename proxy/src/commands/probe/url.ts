/** The signaling URL `volly-pq probe` dials, as a LiveKit client would build it. */
import { ClientInfo, ClientInfo_SDK, ConnectionSettings, JoinRequest, WrappedJoinRequest, WrappedJoinRequest_Compression } from '@livekit/protocol';
import { isSignalPath } from '@volly/shared';
import { UsageError, VERSION } from '../common.js';

/** The LiveKit client protocol the probe speaks (`protocol=`); LiveKit v1.13.5 knows up to 17. */
const LIVEKIT_PROTOCOL = 16;

/** The signaling URL a LiveKit client would dial: path `/rtc` (query parameters) or `/rtc/v1` (join_request). */
export function probeSignalUrl(base: string, token: string): URL {
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new UsageError(`<url>: not a URL: "${base}"`);
  }
  const scheme = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' }[u.protocol];
  if (!scheme) throw new UsageError(`<url>: expected ws://, wss://, http:// or https://, got ${u.protocol}`);
  u.protocol = scheme;
  if (!isSignalPath(u.pathname)) u.pathname = `${u.pathname.replace(/\/+$/, '')}/rtc`;
  u.search = '';
  u.searchParams.set('access_token', token);
  const clientInfo = { sdk: ClientInfo_SDK.NODE, version: VERSION, protocol: LIVEKIT_PROTOCOL };
  if (/\/rtc\/v1\/?$/.test(u.pathname)) {
    const join = new JoinRequest({ clientInfo: new ClientInfo(clientInfo), connectionSettings: new ConnectionSettings({ autoSubscribe: false }) });
    const wrapped = new WrappedJoinRequest({ compression: WrappedJoinRequest_Compression.NONE, joinRequest: join.toBinary() });
    // LiveKit decodes it with Go's base64.URLEncoding, which wants the '=' padding.
    u.searchParams.set('join_request', Buffer.from(wrapped.toBinary()).toString('base64').replaceAll('+', '-').replaceAll('/', '_'));
  } else {
    u.searchParams.set('auto_subscribe', '0');
    u.searchParams.set('sdk', 'node');
    u.searchParams.set('version', VERSION);
    u.searchParams.set('protocol', String(LIVEKIT_PROTOCOL));
  }
  return u;
}

/** The URL as reported: no query (the token and join request stay out of the output). */
export function shownUrl(u: URL | string): string {
  const shown = new URL(u);
  shown.search = '';
  return shown.href;
}
