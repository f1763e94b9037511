// Access tokens as an app's token server mints them (livekit-server-sdk),
// optionally bound to a client KEM key (token-bound volly-pq.v1, v2). The one
// place tests mint a join token: TestProxy.token, the child-process proxies
// and the bench clients all come here.

import { addPqClaims } from '@volly/shared';
import { AccessToken, type VideoGrant } from 'livekit-server-sdk';

/** A LiveKit API key pair (a proxy's client-facing one, or LiveKit's own). */
export interface Credentials {
  readonly apiKey: string;
  readonly apiSecret: string;
}

export interface TokenOptions {
  /** Grant fields over the default: join `room`, publish, subscribe, publish data. */
  grant?: VideoGrant;
  /** Bind the token to a client KEM public key (the pq claims). */
  bind?: Parameters<typeof addPqClaims>[1];
  /** Lifetime, as livekit-server-sdk reads it (default 10m). */
  ttl?: string;
  /** A last edit before signing (e.g. extra claims). */
  extra?: (at: AccessToken) => void;
}

/** A join token for `identity` in `room`, signed with `creds`. */
export function token(creds: Credentials, room: string, identity: string, opts: TokenOptions = {}): Promise<string> {
  const at = new AccessToken(creds.apiKey, creds.apiSecret, { identity, ttl: opts.ttl ?? '10m' });
  at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true, ...opts.grant });
  if (opts.bind) addPqClaims(at, opts.bind);
  opts.extra?.(at);
  return at.toJwt();
}
