// Access tokens as an app's token server mints them (livekit-server-sdk),
// optionally bound to a client KEM key (token-bound volly-pq.v1).

import { addPqClaims, type KemAlgorithm } from '@volly/shared';
import { AccessToken } from 'livekit-server-sdk';

export interface KeyPairCreds {
  readonly apiKey: string;
  readonly apiSecret: string;
}

export function mintToken(creds: KeyPairCreds, room: string, identity: string, bind?: { algorithm: KemAlgorithm; publicKey: Uint8Array }): Promise<string> {
  const at = new AccessToken(creds.apiKey, creds.apiSecret, { identity, ttl: '2h' });
  at.addGrant({ roomJoin: true, room, canPublish: true, canSubscribe: true, canPublishData: true });
  if (bind) addPqClaims(at, { ...bind, keyExpiry: Math.floor(Date.now() / 1000) + 7200 });
  return at.toJwt();
}
