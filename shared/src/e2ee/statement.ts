/**
 * The statement (docs/E2EE.md section 4): the app's ML-DSA-65 signature over a
 * participant's identity, room, context, validity and its two public keys
 * (KEM for key shares to it, ML-DSA-65 for key shares from it).
 */
import { concatBytes, equalBytes } from '../bytes.js';
import type { KemAlgorithm } from '../kem/types.js';
import { KEM_PUBLIC_KEY_LENGTH as PUBLIC_KEY_LENGTH } from '../protocol.js';
import { ML_DSA_65 } from '../sig/checked.js';
import { type E2eeBackends, mlDsa65 } from './backends.js';
import {
  CLOCK_SKEW_S,
  KEM_CODE,
  kemOfCode,
  MAX_CONTEXT_BYTES,
  MAX_IDENTITY_BYTES,
  MAX_ROOM_BYTES,
  MAX_STATEMENT_LIFETIME_S,
  STATEMENT_MAGIC,
  STATEMENT_SIG_CONTEXT,
} from './constants.js';
import { E2eeError } from './errors.js';
import { decodeWith, lpString, readString, u64 } from './wire.js';

export interface StatementFields {
  readonly kemAlgorithm: KemAlgorithm;
  /** Unix seconds. */
  readonly issuedAt: number;
  /** Unix seconds, after issuedAt and at most a day later. */
  readonly expiresAt: number;
  readonly room: string;
  readonly identity: string;
  readonly context: string;
  readonly kemPublicKey: Uint8Array;
  readonly sigPublicKey: Uint8Array;
}

export interface Statement extends StatementFields {
  /** The signed bytes. */
  readonly body: Uint8Array;
  readonly signature: Uint8Array;
  /** body ‖ signature, as it travels. */
  readonly bytes: Uint8Array;
}

function checkFields(f: StatementFields): void {
  const fail = (m: string): never => {
    throw new E2eeError('ERR_E2EE_FORMAT', `statement: ${m}`);
  };
  if (KEM_CODE[f.kemAlgorithm] === undefined) fail('unknown KEM algorithm');
  if (!Number.isSafeInteger(f.issuedAt) || !Number.isSafeInteger(f.expiresAt) || f.issuedAt < 0) fail('issued_at and expires_at must be unix seconds');
  if (f.expiresAt <= f.issuedAt || f.expiresAt - f.issuedAt > MAX_STATEMENT_LIFETIME_S) fail('expires_at must be after issued_at and within a day');
  if (!(f.kemPublicKey instanceof Uint8Array) || f.kemPublicKey.length !== PUBLIC_KEY_LENGTH[f.kemAlgorithm])
    fail(`KEM public key is not a ${f.kemAlgorithm} key`);
  if (!(f.sigPublicKey instanceof Uint8Array) || f.sigPublicKey.length !== ML_DSA_65.publicKeyLength) fail('signature public key is not an ML-DSA-65 key');
}

/** The signed part of a statement; throws ERR_E2EE_FORMAT on any field out of bounds. */
export function encodeStatementBody(f: StatementFields): Uint8Array {
  checkFields(f);
  return concatBytes(
    STATEMENT_MAGIC,
    Uint8Array.of(KEM_CODE[f.kemAlgorithm]),
    u64(f.issuedAt),
    u64(f.expiresAt),
    lpString(f.room, 'room', MAX_ROOM_BYTES),
    lpString(f.identity, 'identity', MAX_IDENTITY_BYTES),
    lpString(f.context, 'context', MAX_CONTEXT_BYTES, 0),
    f.kemPublicKey,
    f.sigPublicKey,
  );
}

/** Parses body ‖ signature without verifying anything but the layout. */
export function decodeStatement(bytes: Uint8Array): Statement {
  return decodeWith(bytes, 'statement', (r, bytes) => {
    if (!equalBytes(r.take(STATEMENT_MAGIC.length, 'magic'), STATEMENT_MAGIC)) r.fail('bad magic');
    const kemAlgorithm = kemOfCode(r.u8('kem_alg')) ?? r.fail('unknown kem_alg');
    const issuedAt = r.u64('issued_at');
    const expiresAt = r.u64('expires_at');
    const room = readString(r, 'room', MAX_ROOM_BYTES);
    const identity = readString(r, 'identity', MAX_IDENTITY_BYTES);
    const context = readString(r, 'context', MAX_CONTEXT_BYTES, 0);
    const kemPublicKey = r.take(PUBLIC_KEY_LENGTH[kemAlgorithm], 'kem_public_key');
    const sigPublicKey = r.take(ML_DSA_65.publicKeyLength, 'sig_public_key');
    const signature = r.take(ML_DSA_65.signatureLength, 'signature');
    r.end();
    const body = bytes.slice(0, bytes.length - signature.length);
    const fields = { kemAlgorithm, issuedAt, expiresAt, room, identity, context, kemPublicKey, sigPublicKey };
    checkFields(fields);
    return { ...fields, body, signature, bytes: bytes.slice() };
  });
}

/** The app's signature over a statement: body ‖ ML-DSA-65.Sign(appSecretKey, body, "volly-e2ee.v1 statement"). */
export function signStatement(b: E2eeBackends, appSecretKey: Uint8Array, fields: StatementFields): Uint8Array {
  const body = encodeStatementBody(fields);
  return concatBytes(body, mlDsa65(b).sign(body, appSecretKey, STATEMENT_SIG_CONTEXT));
}

export interface StatementExpectation {
  /** The app's pinned ML-DSA-65 verification keys (old and new during a rotation). */
  readonly verificationKeys: readonly Uint8Array[];
  readonly room: string;
  readonly context: string;
  /** The LiveKit identity the statement arrived from. */
  readonly identity: string;
  /** Unix seconds; default now. */
  readonly now?: number;
}

/** Decodes and checks a statement (docs/E2EE.md section 4, checks 1-4); throws E2eeError naming the first failed check. */
export function verifyStatement(b: E2eeBackends, bytes: Uint8Array, expect: StatementExpectation): Statement {
  const st = decodeStatement(bytes);
  const signer = mlDsa65(b);
  if (!expect.verificationKeys.some((k) => signer.verify(st.signature, st.body, k, STATEMENT_SIG_CONTEXT))) {
    throw new E2eeError('ERR_E2EE_SIGNATURE', 'statement is not signed by a pinned app key');
  }
  if (st.room !== expect.room) throw new E2eeError('ERR_E2EE_BINDING', 'statement is for another room');
  if (st.context !== expect.context) throw new E2eeError('ERR_E2EE_BINDING', 'statement is for another app context');
  if (st.identity !== expect.identity) throw new E2eeError('ERR_E2EE_BINDING', 'statement names another identity');
  const now = expect.now ?? Math.floor(Date.now() / 1000);
  if (now < st.issuedAt - CLOCK_SKEW_S || now >= st.expiresAt) throw new E2eeError('ERR_E2EE_EXPIRED', 'statement is not valid now');
  return st;
}
