#!/usr/bin/env node
/**
 * Writes the whole-handshake known-answer vectors of volly-pq.v1 to
 * shared/test-vectors/ (format: shared/test-vectors/README.md).
 *
 *   npx tsc -b shared && npm exec -- node shared/scripts/make-vectors.mjs
 *
 * Everything goes through the built library (shared/dist) except the one step
 * that is random by design: encapsulation, done here with @noble/post-quantum
 * and fixed randomness (ML-KEM: the 32-byte message m; X-Wing: the 64-byte
 * eseed). Every fixed input is derived from a label, so rerunning the script
 * reproduces the files byte for byte; shared/test/vectors.test.ts recomputes
 * every value from the inputs and compares.
 *
 * It also writes server-auth-ml-dsa-65.json: the proxy's ML-DSA-65 signature
 * over the transcript hash of each of those handshakes (key from a fixed
 * seed, deterministic signing: FIPS 204 rnd = 32 zero bytes, with
 * @noble/post-quantum), checked by shared/test/server-auth.test.ts.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Pong, SignalResponse } from '@livekit/protocol';
import { sha256, sha512 } from '@noble/hashes/sha2.js';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import {
  ClientSession,
  concatBytes,
  FrameKind,
  fingerprint,
  fromHex,
  getAead,
  getKem,
  pqGrant,
  randomBytes,
  SERVER_AUTH_CONTEXT,
  sealedChannel,
  serverHandshake,
  serverKeyId,
  toBase64Url,
  toHex,
  transcriptHash,
  utf8,
} from '../dist/index.js';

const OUT = fileURLToPath(new URL('../test-vectors/', import.meta.url));

/** Fixed bytes from a label: the first n bytes of SHA-512(label), n <= 64. */
const fixed = (label, n) => sha512(utf8(`volly-pq.v1 test vector ${label}`)).slice(0, n);

/** The noble call that takes explicit randomness, per algorithm. */
const NOBLE = {
  'ML-KEM-768': { lib: ml_kem768, randomness: 32 },
  'X-Wing': { lib: ml_kem768_x25519, randomness: 64 },
};

/** A Kem whose encapsulation uses the given randomness; everything else is the library's. */
export function deterministicKem(kem, randomness) {
  const { lib } = NOBLE[kem.algorithm];
  return {
    ...kem,
    encapsulate(publicKey) {
      const { cipherText, sharedSecret } = lib.encapsulate(publicKey, randomness);
      return { ciphertext: cipherText, sharedSecret };
    },
  };
}

const u16 = (n) => Uint8Array.of(n >> 8, n & 0xff);
/** The transcript preimage, spelled out (the library only exposes its hash). */
const transcriptInput = (alg, sid, pk, ct) => concatBytes(utf8('volly-pq.v1'), u16(utf8(alg).length), utf8(alg), u16(utf8(sid).length), utf8(sid), pk, ct);

const QUERY = 'auto_subscribe=1&sdk=js&version=2.15.8&protocol=16&adaptive_stream=1';
const IN_BAND_TOKEN =
  'eyJhbGciOiJIUzI1NiJ9.eyJpc3MiOiJBUEl2ZWN0b3IiLCJzdWIiOiJhbGljZSIsInZpZGVvIjp7InJvb20iOiJ2ZWN0b3JzIiwicm9vbUpvaW4iOnRydWV9fQ.dmVjdG9yLXNpZ25hdHVyZS1ub3QtdmVyaWZpZWQ';
const KEY_EXPIRY = 1_900_000_000;

function vector(algorithm, mode) {
  const name = `${algorithm} ${mode}`;
  const kem = getKem(algorithm, 'noble');
  const aead = getAead('noble');
  const keygenSeed = fixed(`${name} keygen`, kem.secretKeyLength);
  const randomness = fixed(`${name} encapsulation`, NOBLE[algorithm].randomness);
  const keyPair = kem.keygen(keygenSeed);
  const sessionId = mode === 'in-band' ? `vector-${algorithm}-in-band`.replace(/[^A-Za-z0-9_-]/g, '-') : toBase64Url(fixed(`${name} session id`, 24));
  const connect = { access_token: mode === 'in-band' ? IN_BAND_TOKEN : '', query: QUERY };
  const serverPayload = new SignalResponse({
    message: { case: 'pongResp', value: new Pong({ lastPingTimestamp: 1_767_225_600_000n, timestamp: 1_767_225_600_042n }) },
  }).toBinary();
  const serverText = '{"volly":"second frame, kind 0x02, counter 1"}';

  // Client.
  const client = new ClientSession({
    kem,
    aead,
    mode,
    keyPair,
    accessToken: connect.access_token,
    query: connect.query,
    randomBytes,
    ...(mode === 'in-band' ? { sessionId } : {}),
  });
  const hello = client.start().find((o) => o.type === 'send')?.frame ?? null;

  // Server, with fixed encapsulation randomness. Read the keys before sealedChannel wipes them.
  const { ciphertext, sharedSecret } = deterministicKem(kem, randomness).encapsulate(keyPair.publicKey);
  const { response, result } = serverHandshake(deterministicKem(kem, randomness), sessionId, keyPair.publicKey);
  const keys = { c2s: result.keys.c2s.slice(), s2c: result.keys.s2c.slice() };
  const th = result.transcriptHash;
  const server = sealedChannel(result, 'server', aead);

  // Client answers with the sealed VollyConnect; the server speaks LiveKit.
  const out = client.receive(response);
  const clientFirst = out.find((o) => o.type === 'send')?.frame;
  const opened = server.opener.open(clientFirst);
  const serverFirst = server.sealer.seal(FrameKind.LiveKitBinary, serverPayload);
  const serverSecond = server.sealer.seal(FrameKind.LiveKitText, utf8(serverText));
  for (const frame of [serverFirst, serverSecond]) {
    if (client.receive(frame)[0]?.type !== 'message') throw new Error(`${name}: client did not open the server frame`);
  }
  const preimage = transcriptInput(algorithm, sessionId, keyPair.publicKey, ciphertext);
  if (toHex(sha256(preimage)) !== toHex(th) || toHex(transcriptHash(algorithm, sessionId, keyPair.publicKey, ciphertext)) !== toHex(th)) {
    throw new Error(`${name}: transcript preimage does not hash to th`);
  }

  return {
    protocol: 'volly-pq.v1',
    algorithm,
    mode,
    inputs: {
      keygen_seed: toHex(keygenSeed),
      encapsulation_randomness: toHex(randomness),
      session_id: sessionId,
      connect,
      server_payload: toHex(serverPayload),
      server_text: serverText,
      ...(mode === 'token-bound' ? { pq_key_expiry: KEY_EXPIRY } : {}),
    },
    outputs: {
      client_public_key: toHex(keyPair.publicKey),
      ...(mode === 'token-bound' ? { pq_grant: pqGrant({ algorithm, publicKey: keyPair.publicKey, keyExpiry: KEY_EXPIRY }) } : {}),
      handshake_frame: hello ? toHex(hello) : null,
      kem_ciphertext: toHex(ciphertext),
      shared_secret: toHex(sharedSecret),
      response_frame: toHex(response),
      transcript_input: toHex(preimage),
      transcript_hash: toHex(th),
      fingerprint: fingerprint({ transcriptHash: th }),
      k_c2s: toHex(keys.c2s),
      k_s2c: toHex(keys.s2c),
      connect_plaintext: toHex(opened.payload),
      client_first_frame: toHex(clientFirst),
      server_first_frame: toHex(serverFirst),
      server_second_frame: toHex(serverSecond),
    },
  };
}

/** The server's identity key (seed ξ from a label) and its deterministic transcript signer. */
function serverIdentity() {
  const seed = fixed('ML-DSA-65 server identity key', 32);
  const { publicKey, secretKey } = ml_dsa65.keygen(seed);
  const signer = { keyId: serverKeyId(publicKey), sign: (th) => ml_dsa65.sign(th, secretKey, { context: SERVER_AUTH_CONTEXT, extraEntropy: false }) };
  return { seed, publicKey, signer };
}

/** Server authentication over each handshake vector: the signed message, the signature and the signed response frame. */
function serverAuthVector(handshakes) {
  const { seed, publicKey, signer } = serverIdentity();
  return {
    protocol: 'volly-pq.v1',
    algorithm: 'ML-DSA-65',
    inputs: {
      key_seed: toHex(seed),
      context: toHex(SERVER_AUTH_CONTEXT),
      signing: 'deterministic (FIPS 204 ML-DSA.Sign with rnd = 32 zero bytes)',
    },
    outputs: { public_key: toHex(publicKey), key_id: toHex(signer.keyId) },
    handshakes: handshakes.map(({ file, v }) => {
      const { algorithm, inputs: i, outputs: o } = v;
      const th = fromHex(o.transcript_hash);
      const kem = getKem(algorithm, 'noble');
      const pk = fromHex(o.client_public_key);
      const randomness = fromHex(i.encapsulation_randomness);
      const { response, result } = serverHandshake(deterministicKem(kem, randomness), i.session_id, pk, signer);
      if (toHex(result.transcriptHash) !== o.transcript_hash) throw new Error(`${file}: transcript hash differs`);
      const signedMessage = concatBytes(Uint8Array.of(0, SERVER_AUTH_CONTEXT.length), SERVER_AUTH_CONTEXT, th);
      return {
        handshake: file,
        transcript_hash: o.transcript_hash,
        signed_message: toHex(signedMessage),
        signature: toHex(signer.sign(th)),
        response_frame: toHex(response),
      };
    }),
  };
}

const handshakes = [];
for (const algorithm of ['ML-KEM-768', 'X-Wing']) {
  for (const mode of ['in-band', 'token-bound']) {
    const file = `${algorithm.toLowerCase()}-${mode}.json`;
    const v = vector(algorithm, mode);
    handshakes.push({ file, v });
    writeFileSync(`${OUT}${file}`, `${JSON.stringify(v, null, 2)}\n`);
    console.log(`wrote shared/test-vectors/${file}`);
  }
}
writeFileSync(`${OUT}server-auth-ml-dsa-65.json`, `${JSON.stringify(serverAuthVector(handshakes), null, 2)}\n`);
console.log('wrote shared/test-vectors/server-auth-ml-dsa-65.json');
