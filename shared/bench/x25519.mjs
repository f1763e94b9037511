// X-Wing on the native backend with each X25519 (libsodium, node:crypto):
// µs per encapsulation (ML-KEM-768 encapsulation, an ephemeral X25519 key
// pair, one DH) and per decapsulation (one DH, ML-KEM-768 decapsulation),
// each X-Wing call as the proxy makes it, through checkedKem; then the X25519
// steps alone. Rounds interleaved in one process, process CPU time:
//   npm run build && npm exec -- node shared/bench/x25519.mjs [--rounds=15]
import { clockName, interleaved, load, row } from './lib.mjs';

const dist = new URL('../dist', import.meta.url).pathname;
const [{ nativeXWing }, { x25519 }] = await Promise.all([load(dist, 'kem/native.js'), load(dist, 'kem/x25519.js')]);
const N = 500;
const backends = ['libsodium', 'node:crypto'];
const kems = backends.map((b) => nativeXWing(b));
const server = kems[0].keygen();
const ciphertext = kems[0].encapsulate(server.publicKey).ciphertext;
const peer = kems[0].keygen().publicKey.subarray(1184);

const per = (fn) =>
  kems.map((kem, i) => ({
    run: () => {
      for (let n = 0; n < N; n++) fn(kem, x25519(backends[i]));
    },
  }));
console.log(`X-Wing, native ML-KEM-768, µs per call (${clockName}), median and min per X25519 backend: ${backends.join(' | ')}\n`);
console.log(
  row(
    'encapsulate',
    await interleaved(
      per((kem) => kem.encapsulate(server.publicKey)),
      N,
    ),
  ),
);
console.log(
  row(
    'decapsulate (static key cached)',
    await interleaved(
      per((kem) => kem.decapsulate(ciphertext, server.secretKey)),
      N,
    ),
  ),
);
console.log(
  row(
    'X25519: ephemeral key pair + DH',
    await interleaved(
      per((_kem, x) => {
        const e = x.ephemeral();
        x.dh(e.sk, peer);
        x.wipe(e.sk);
      }),
      N,
    ),
  ),
);
