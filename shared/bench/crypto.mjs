// Throughput of the crypto backends this runtime has: keygen, encapsulate and
// decapsulate for each KEM x backend, seal and open of a 300-byte frame for
// each AEAD backend, and ML-DSA-65 keygen / sign / verify of a transcript hash
// for each signature backend (server authentication: the proxy signs once per
// handshake, a pinning client verifies once). Runs on the built package:
// `npm run bench:crypto`.
import { aeadBackends, getAead, getKem, getSigner, kemBackends, randomBytes, sigBackends } from '../dist/backend/node.js';
import { KEM_ALGORITHMS } from '../dist/kem/types.js';
import { SERVER_AUTH_CONTEXT } from '../dist/sig/server-auth.js';
import { SIG_ALGORITHMS } from '../dist/sig/types.js';

const FRAME = 300;
const MIN_MS = 400;

/** Runs fn in growing batches until one batch takes MIN_MS; returns ops/s of that batch. */
function measure(fn) {
  for (let i = 0; i < 20; i++) fn(); // warm-up: JIT, caches
  for (let n = 32; ; n *= 2) {
    const start = process.hrtime.bigint();
    for (let i = 0; i < n; i++) fn();
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (ms >= MIN_MS) return (n / ms) * 1000;
  }
}

const rows = [];
const row = (primitive, backend, operation, fn) => {
  const opsPerSec = measure(fn);
  rows.push({ primitive, backend, operation, opsPerSec, usPerOp: 1e6 / opsPerSec });
};

for (const algorithm of KEM_ALGORITHMS) {
  for (const backend of kemBackends()) {
    const kem = getKem(algorithm, backend);
    const { publicKey, secretKey } = kem.keygen();
    const { ciphertext } = kem.encapsulate(publicKey);
    row(algorithm, backend, 'keygen', () => kem.keygen());
    row(algorithm, backend, 'encapsulate', () => kem.encapsulate(publicKey));
    row(algorithm, backend, 'decapsulate', () => kem.decapsulate(ciphertext, secretKey));
  }
}

for (const backend of aeadBackends()) {
  const aead = getAead(backend);
  const key = randomBytes(32);
  const nonce = randomBytes(12);
  const aad = Uint8Array.of(1);
  const plaintext = randomBytes(FRAME);
  const sealed = new Uint8Array(FRAME + 16);
  const opened = new Uint8Array(FRAME);
  aead.sealInto(sealed, key, nonce, plaintext, aad);
  row('ChaCha20-Poly1305', backend, `seal ${FRAME} B`, () => aead.sealInto(sealed, key, nonce, plaintext, aad));
  row('ChaCha20-Poly1305', backend, `open ${FRAME} B`, () => {
    if (!aead.openInto(opened, key, nonce, sealed, aad)) throw new Error('open failed');
  });
}

for (const algorithm of SIG_ALGORITHMS) {
  for (const backend of sigBackends()) {
    const signer = getSigner(algorithm, backend);
    const { publicKey, secretKey } = signer.keygen();
    const th = randomBytes(32);
    const signature = signer.sign(th, secretKey, SERVER_AUTH_CONTEXT);
    row(algorithm, backend, 'keygen', () => signer.keygen());
    row(algorithm, backend, 'sign th (server, per handshake)', () => signer.sign(th, secretKey, SERVER_AUTH_CONTEXT));
    row(algorithm, backend, 'verify th (client, per handshake)', () => {
      if (!signer.verify(signature, th, publicKey, SERVER_AUTH_CONTEXT)) throw new Error('verify failed');
    });
  }
}

const header = ['primitive', 'backend', 'operation', 'ops/s', 'us/op'];
const lines = rows.map((r) => [r.primitive, r.backend, r.operation, Math.round(r.opsPerSec).toLocaleString('en-US'), r.usPerOp.toFixed(1)]);
const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)));
const fmt = (cells) => `| ${cells.map((c, i) => (i >= 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
console.log(
  `Node ${process.version} ${process.platform}-${process.arch}; KEM backends: ${kemBackends().join(', ')}; AEAD backends: ${aeadBackends().join(', ')}; signature backends: ${sigBackends().join(', ')}`,
);
console.log(fmt(header));
console.log(`|${widths.map((w, i) => (i >= 3 ? `${'-'.repeat(w + 1)}:` : `:${'-'.repeat(w + 1)}`)).join('|')}|`);
for (const l of lines) console.log(fmt(l));
