// The bench's tokens: harness/tokens.ts with a lifetime (2 h) that outlasts
// the longest run, so no session in a scenario meets its token's expiry.

import type { KemAlgorithm } from '@volly/shared';
import { type Credentials, token } from '../../harness/tokens.ts';

export type KeyPairCreds = Credentials;

export function mintToken(creds: Credentials, room: string, identity: string, bind?: { algorithm: KemAlgorithm; publicKey: Uint8Array }): Promise<string> {
  return token(creds, room, identity, { ttl: '2h', ...(bind && { bind }) });
}
