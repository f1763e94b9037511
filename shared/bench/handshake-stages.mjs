// Per-stage cost of the proxy's side of one volly-pq.v1 handshake, on the
// built package, native backends, in a tight loop: decode the client's
// pq_handshake, import its public key, encapsulate, transcript hash, key
// schedule, encode the pq_response, make the sealed channel; then the whole
// (decode + serverHandshake + sealedChannel) as the proxy runs it. Each fresh
// iteration uses one of 64 client keys, so no cache hides an import.
//   npm run build && npm exec -- node shared/bench/handshake-stages.mjs [ML-KEM-768|X-Wing]
import * as nodeCrypto from 'node:crypto';
import { getAead, getKem } from '../dist/backend/node.js';
import { sealedChannel, serverHandshake } from '../dist/handshake.js';
import { decodeHandshake, encodeHandshake, encodeResponse } from '../dist/messages.js';
import { deriveKeys, transcriptHash } from '../dist/schedule.js';

const algorithm = process.argv[2] ?? 'ML-KEM-768';
const kem = getKem(algorithm, 'native');
const aead = getAead();
const ROUNDS = 15;
const N = 1000;
const clients = Array.from({ length: 64 }, () => {
  const { publicKey } = kem.keygen();
  const sessionId = nodeCrypto.randomBytes(24).toString('base64url');
  return { publicKey, sessionId, frame: encodeHandshake({ algorithm, publicKey, sessionId }) };
});
const one = clients[0];
const { ciphertext, sharedSecret } = kem.encapsulate(one.publicKey);
const th = transcriptHash(algorithm, one.sessionId, one.publicKey, ciphertext);
const mlKemPart = (pk) => pk.subarray(0, 1184);
const spec = (pk) => ({ key: Buffer.from(mlKemPart(pk)), format: 'raw-public', asymmetricKeyType: 'ml-kem-768' });
const imported = nodeCrypto.createPublicKey(spec(one.publicKey));

/** µs per call: median and min over ROUNDS rounds of N calls (after a warm-up). */
function measure(fn) {
  for (let i = 0; i < 300; i++) fn(i);
  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.hrtime.bigint();
    for (let i = 0; i < N; i++) fn(i);
    rounds.push(Number(process.hrtime.bigint() - t0) / 1e3 / N);
  }
  rounds.sort((a, b) => a - b);
  return { median: rounds[ROUNDS >> 1], min: rounds[0] };
}

const stages = {
  decode: (i) => decodeHandshake(clients[i & 63].frame),
  'import (ML-KEM-768 raw public key)': (i) => nodeCrypto.createPublicKey(spec(clients[i & 63].publicKey)),
  'encapsulate (to an imported key)': () => nodeCrypto.encapsulate(imported),
  'kem.encapsulate (checked: import + encapsulate)': (i) => kem.encapsulate(clients[i & 63].publicKey),
  transcript: () => transcriptHash(algorithm, one.sessionId, one.publicKey, ciphertext),
  'key schedule': () => deriveKeys(sharedSecret, th),
  encode: () => encodeResponse({ success: true, algorithm, sessionId: one.sessionId, ciphertext }),
  'sealed channel': () =>
    sealedChannel({ algorithm, sessionId: one.sessionId, transcriptHash: th, keys: { c2s: th.slice(), s2c: th.slice() } }, 'server', aead).destroy(),
  'total: decode + serverHandshake + sealedChannel': (i) => {
    const h = decodeHandshake(clients[i & 63].frame);
    const { result } = serverHandshake(kem, h.sessionId, h.publicKey);
    sealedChannel(result, 'server', aead).destroy();
  },
};

console.log(`Node ${process.version}; ${algorithm}, KEM native, AEAD ${aead.backend}; ${N} calls x ${ROUNDS} rounds; µs per call`);
for (const [name, fn] of Object.entries(stages)) {
  const { median, min } = measure(fn);
  console.log(`${name.padEnd(48)} median ${median.toFixed(1).padStart(6)}  min ${min.toFixed(1).padStart(6)}`);
}
