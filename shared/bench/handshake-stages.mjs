// Per-stage cost of the proxy's side of one volly-pq.v1 handshake, native
// backends, tight loop: decode the client's pq_handshake, import its public
// key, encapsulate, transcript hash, key schedule, encode the pq_response,
// make the sealed channel; then the whole (decode + serverHandshake +
// sealedChannel) as the proxy runs it. Fresh iterations cycle through 64
// client keys, so no cache hides an import. Give several built dist
// directories to compare builds (rounds interleaved in one process):
//   npm run build && npm exec -- node shared/bench/handshake-stages.mjs [--algorithm=X-Wing] [--rounds=15] [DIST ...]
import * as nodeCrypto from 'node:crypto';
import { distDirs, header, interleaved, load, option, row } from './lib.mjs';

const dirs = distDirs(new URL('../dist', import.meta.url).pathname);
const algorithm = option('algorithm', 'ML-KEM-768');
const N = 1000;

async function stagesOf(dir) {
  const [{ getAead, getKem }, { sealedChannel, serverHandshake }, { decodeHandshake, encodeHandshake, encodeResponse }, { deriveKeys, transcriptHash }] =
    await Promise.all(['backend/node.js', 'handshake.js', 'messages.js', 'schedule.js'].map((f) => load(dir, f)));
  const kem = getKem(algorithm, 'native');
  const aead = getAead();
  const clients = Array.from({ length: 64 }, () => {
    const { publicKey } = kem.keygen();
    const sessionId = nodeCrypto.randomBytes(24).toString('base64url');
    return { publicKey, sessionId, frame: encodeHandshake({ algorithm, publicKey, sessionId }) };
  });
  const one = clients[0];
  const { ciphertext, sharedSecret } = kem.encapsulate(one.publicKey);
  const th = transcriptHash(algorithm, one.sessionId, one.publicKey, ciphertext);
  // The ML-KEM-768 part of the key (all of it for ML-KEM-768), as node:crypto imports it.
  const spec = (pk) => ({ key: Buffer.from(pk.buffer, pk.byteOffset, 1184), format: 'raw-public', asymmetricKeyType: 'ml-kem-768' });
  const imported = nodeCrypto.createPublicKey(spec(one.publicKey));
  const loop = (fn) => () => {
    for (let i = 0; i < N; i++) fn(i);
  };
  return {
    backends: `KEM ${kem.backend}, AEAD ${aead.backend}`,
    stages: {
      decode: loop((i) => decodeHandshake(clients[i & 63].frame)),
      'import (createPublicKey, raw public key)': loop((i) => nodeCrypto.createPublicKey(spec(clients[i & 63].publicKey))),
      'import, stack traces off (as kem/native.ts)': loop((i) => {
        const limit = Error.stackTraceLimit;
        Error.stackTraceLimit = 0;
        nodeCrypto.createPublicKey(spec(clients[i & 63].publicKey));
        Error.stackTraceLimit = limit;
      }),
      'encapsulate (to an imported key)': loop(() => nodeCrypto.encapsulate(imported)),
      'kem.encapsulate (checked: import + encapsulate)': loop((i) => kem.encapsulate(clients[i & 63].publicKey)),
      transcript: loop(() => transcriptHash(algorithm, one.sessionId, one.publicKey, ciphertext)),
      'key schedule': loop(() => deriveKeys(sharedSecret, th)),
      encode: loop(() => encodeResponse({ success: true, algorithm, sessionId: one.sessionId, ciphertext })),
      'sealed channel': loop(() =>
        sealedChannel({ algorithm, sessionId: one.sessionId, transcriptHash: th, keys: { c2s: th.slice(), s2c: th.slice() } }, 'server', aead).destroy(),
      ),
      'total: decode + serverHandshake + sealedChannel': loop((i) => {
        const h = decodeHandshake(clients[i & 63].frame);
        const { result } = serverHandshake(kem, h.sessionId, h.publicKey);
        sealedChannel(result, 'server', aead).destroy();
      }),
    },
  };
}

const builds = [];
for (const dir of dirs) builds.push(await stagesOf(dir));
console.log(`Node ${process.version}; ${algorithm}, ${builds[0].backends}; ${N} calls per round; µs per call`);
console.log(header(dirs));
for (const name of Object.keys(builds[0].stages)) {
  const results = await interleaved(
    builds.map((b) => ({ run: b.stages[name] })),
    N,
  );
  console.log(row(name, results));
}
