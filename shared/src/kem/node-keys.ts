/**
 * node:crypto key plumbing shared by the native KEMs and node:crypto's
 * X25519: raw keys in and out of KeyObjects, and secrets out of Buffers.
 * Node only.
 */
import * as nodeCrypto from 'node:crypto';

/** Zero-copy Buffer view of a Uint8Array (node:crypto raw key inputs are typed as Buffer). */
export const asBuffer = (bytes: Uint8Array): Buffer => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

/** Copies a secret out of a node Buffer into a plain Uint8Array and zeroes the Buffer. */
export function takeSecret(buf: Buffer): Uint8Array {
  const out = new Uint8Array(buf);
  buf.fill(0);
  return out;
}

/** Whether Error.stackTraceLimit may be set (not under --frozen-intrinsics). */
const stackLimitWritable = Object.getOwnPropertyDescriptor(Error, 'stackTraceLimit')?.writable === true;

/**
 * Imports a public key from raw bytes. Node 24's createPublicKey first asks
 * isKeyObject / isCryptoKey of both the options object and the bytes, and
 * each probe answers "no" by throwing and catching an error: four stack
 * traces captured per import, ~40% of its cost (shared/bench/handshake-stages.mjs).
 * With the stack limit at 0 for this one synchronous call those errors are
 * cheap; an import that really fails loses only a stack that checkedKem
 * drops anyway (it throws its own KeyFormatError).
 */
export function importPublic(key: Uint8Array, asymmetricKeyType: 'ml-kem-768' | 'x25519'): nodeCrypto.KeyObject {
  const spec = { key: asBuffer(key), format: 'raw-public', asymmetricKeyType } as const;
  if (!stackLimitWritable) return nodeCrypto.createPublicKey(spec);
  const limit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    return nodeCrypto.createPublicKey(spec);
  } finally {
    Error.stackTraceLimit = limit;
  }
}

/** The raw public key of a (private or public) KeyObject. */
export const rawPublic = (key: nodeCrypto.KeyObject): Uint8Array => new Uint8Array(nodeCrypto.createPublicKey(key).export({ format: 'raw-public' }));
