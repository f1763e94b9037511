/**
 * The two sides of a statement: the page makes its participant keys (KEM and
 * ML-DSA-65, fresh per join, never leaving the page) and sends the public
 * halves with its token request; the app's token server signs the statement
 * beside the LiveKit token (signE2eeStatement, docs/E2EE.md section 4).
 */
import { fromBase64Url, toBase64Url } from '../bytes.js';
import type { KemAlgorithm, KemKeyPair } from '../kem/types.js';
import type { SigKeyPair } from '../sig/types.js';
import { tokenExpiry } from '../token-ttl.js';
import { type E2eeBackends, mlDsa65 } from './backends.js';
import { MAX_STATEMENT_LIFETIME_S } from './constants.js';
import { E2eeError } from './errors.js';
import type { ParticipantSecrets } from './session.js';
import { signStatement } from './statement.js';

export interface ParticipantKeys extends ParticipantSecrets {
  readonly kem: KemKeyPair;
  readonly sig: SigKeyPair;
}

/** What a page sends its token server: the public halves, base64url. */
export interface StatementRequest {
  readonly kemAlgorithm: KemAlgorithm;
  readonly kemPublicKey: string;
  readonly sigPublicKey: string;
}

export function makeParticipantKeys(b: E2eeBackends, kemAlgorithm: KemAlgorithm = 'X-Wing'): ParticipantKeys {
  const kem = b.getKem(kemAlgorithm).keygen();
  const sig = mlDsa65(b).keygen();
  return { kemAlgorithm, kem, sig, kemSecretKey: kem.secretKey, sigSecretKey: sig.secretKey };
}

export function statementRequest(keys: ParticipantKeys): StatementRequest {
  return { kemAlgorithm: keys.kemAlgorithm, kemPublicKey: toBase64Url(keys.kem.publicKey), sigPublicKey: toBase64Url(keys.sig.publicKey) };
}

export interface SignE2eeStatementInput {
  /** The app's ML-DSA-65 secret key (32-byte seed); its public key is what apps pin. */
  readonly appSecretKey: Uint8Array;
  /** The app's deployment label every participant expects. */
  readonly context: string;
  readonly room: string;
  /** The livekit-server-sdk AccessToken being issued: identity and expiry follow it. */
  readonly token?: { readonly identity?: string; readonly ttl?: number | string };
  /** Identity when there is no token (else it must equal the token's). */
  readonly identity?: string;
  /** The page's request, as sent (base64url keys). */
  readonly request: StatementRequest;
  /** Lifetime in seconds; default: the token's TTL, at most a day. */
  readonly ttlSeconds?: number;
  /** Unix seconds; default now. */
  readonly now?: number;
}

/** Signs a participant's statement; returns it base64url, ready for the page (never put it in the token). */
export function signE2eeStatement(b: E2eeBackends, input: SignE2eeStatementInput): string {
  const identity = input.token?.identity ?? input.identity;
  if (!identity || (input.identity !== undefined && input.identity !== identity)) {
    throw new E2eeError('ERR_E2EE_BINDING', 'statement identity must be given and equal the token identity');
  }
  const now = input.now ?? Math.floor(Date.now() / 1000);
  const ttl = input.ttlSeconds ?? (input.token ? tokenExpiry(input.token.ttl, now * 1000) - now : 3600);
  const kemPublicKey = fromBase64Url(input.request.kemPublicKey);
  const sigPublicKey = fromBase64Url(input.request.sigPublicKey);
  if (!kemPublicKey || !sigPublicKey) throw new E2eeError('ERR_E2EE_FORMAT', 'statement request keys must be base64url');
  const fields = {
    kemAlgorithm: input.request.kemAlgorithm,
    issuedAt: now,
    expiresAt: now + Math.max(1, Math.min(ttl, MAX_STATEMENT_LIFETIME_S)),
    room: input.room,
    identity,
    context: input.context,
    kemPublicKey,
    sigPublicKey,
  };
  return toBase64Url(signStatement(b, input.appSecretKey, fields));
}
