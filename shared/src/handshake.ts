/**
 * The KEM step of volly-pq.v1 for both ends, free of any transport.
 * Server: encapsulate to the client's key, derive the direction keys, and
 * (with an identity key) sign the transcript hash.
 * Client: check the server's answer against what it asked for, (with pinned
 * server keys) verify the signature over the transcript, decapsulate, derive
 * the same keys. The shared secret is wiped once keys are derived.
 */
import type { Aead } from './aead/types.js';
import { toHex } from './bytes.js';
import { CloseCode } from './close-codes.js';
import { KeyFormatError, ProtocolError, RemoteError } from './errors.js';
import { FrameOpener, FrameSealer } from './frame.js';
import type { Kem, KemAlgorithm, KemKeyPair } from './kem/types.js';
import { checkSessionId, encodeResponse, type PqResponse } from './messages.js';
import { type DirectionKeys, deriveKeys, transcriptHash } from './schedule.js';
import { type ServerAuthCheck, type ServerKey, type TranscriptSigner, verifyTranscript } from './sig/server-auth.js';

export interface HandshakeResult {
  readonly algorithm: KemAlgorithm;
  readonly sessionId: string;
  readonly transcriptHash: Uint8Array;
  readonly keys: DirectionKeys;
  /** Client side, with pinned keys: the pinned server key whose signature over th verified. */
  readonly serverKey?: ServerKey;
}

/** A short, public identifier of the keyed session (first 8 bytes of th, hex): safe to log and show. */
export const fingerprint = (r: HandshakeResult): string => toHex(r.transcriptHash.subarray(0, 8));

function keyed(algorithm: KemAlgorithm, sessionId: string, pk: Uint8Array, ct: Uint8Array, ss: Uint8Array): HandshakeResult {
  const th = transcriptHash(algorithm, sessionId, pk, ct);
  const keys = deriveKeys(ss, th);
  ss.fill(0);
  return { algorithm, sessionId, transcriptHash: th, keys };
}

/**
 * Server side: returns the encoded `VollySignalResponse{pq_response}` frame and the keys.
 * With `auth`, the response carries its key id and its signature over th.
 */
export function serverHandshake(
  kem: Kem,
  sessionId: string,
  clientPublicKey: Uint8Array,
  auth?: TranscriptSigner,
): { response: Uint8Array; result: HandshakeResult } {
  const { ciphertext, sharedSecret } = kem.encapsulate(clientPublicKey);
  const result = keyed(kem.algorithm, sessionId, clientPublicKey, ciphertext, sharedSecret);
  const signed = auth ? { serverKeyId: auth.keyId, serverSignature: auth.sign(result.transcriptHash) } : {};
  return { response: encodeResponse({ success: true, algorithm: kem.algorithm, sessionId, ciphertext, ...signed }), result };
}

/**
 * Client side. `expectedSessionId` is the one the client sent (in-band) or
 * undefined (token-bound: the server picks it). A response naming another
 * algorithm is refused: that is a downgrade or substitution attempt. With
 * `auth` (pinned server keys), the signature over th must verify under a
 * pinned key before anything is decapsulated (else ServerAuthError, 4526).
 */
export function clientHandshake(kem: Kem, keyPair: KemKeyPair, response: PqResponse, expectedSessionId?: string, auth?: ServerAuthCheck): HandshakeResult {
  if (!response.success) throw new RemoteError(CloseCode.Malformed, response.error || 'handshake refused by the server');
  if (response.algorithm !== kem.algorithm)
    throw new ProtocolError(`server answered with ${JSON.stringify(response.algorithm.slice(0, 32))}, not ${kem.algorithm}`);
  const sessionId = checkSessionId(response.sessionId);
  if (expectedSessionId !== undefined && sessionId !== expectedSessionId) throw new ProtocolError('server answered for another session_id');
  let serverKey: ServerKey | undefined;
  if (auth) {
    // th's unprefixed tail pk ‖ ct is unambiguous only at the fixed ciphertext length.
    if (response.ciphertext.length !== kem.ciphertextLength)
      throw new KeyFormatError(`${kem.algorithm} ciphertext must be ${kem.ciphertextLength} bytes, got ${response.ciphertext.length}`);
    const th = transcriptHash(kem.algorithm, sessionId, keyPair.publicKey, response.ciphertext);
    serverKey = verifyTranscript(auth, th, response.serverKeyId, response.serverSignature);
  }
  const ss = kem.decapsulate(response.ciphertext, keyPair.secretKey);
  const result = keyed(kem.algorithm, sessionId, keyPair.publicKey, response.ciphertext, ss);
  return serverKey ? { ...result, serverKey } : result;
}

export interface SealedChannel {
  readonly sealer: FrameSealer;
  readonly opener: FrameOpener;
  /** Wipe both direction keys. */
  destroy(): void;
}

/**
 * The sealer/opener pair for one end: the server seals s2c and opens c2s; the
 * client the reverse. Wipes `result.keys`: call it once, after anything that
 * must read them (test vectors).
 */
export function sealedChannel(result: HandshakeResult, role: 'client' | 'server', aead: Aead, maxPlaintext?: number): SealedChannel {
  const { c2s, s2c } = result.keys;
  const sealer = new FrameSealer(role === 'client' ? c2s : s2c, aead);
  const opener = new FrameOpener(role === 'client' ? s2c : c2s, aead, maxPlaintext);
  // The channel holds its own copies; the keys live nowhere else from here on.
  c2s.fill(0);
  s2c.fill(0);
  return {
    sealer,
    opener,
    destroy() {
      sealer.destroy();
      opener.destroy();
    },
  };
}
