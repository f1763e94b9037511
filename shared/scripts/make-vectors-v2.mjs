#!/usr/bin/env node
/**
 * Writes the volly-pq.v2 known-answer vectors to shared/test-vectors/v2/
 * (format: shared/test-vectors/v2/README.md):
 *
 *   npx tsc -b shared && npm exec -- node shared/scripts/make-vectors-v2.mjs
 *
 * Everything goes through the built library's v2 state machines (shared/dist)
 * except the steps that are random by design, which take fixed inputs here:
 * the client's random bytes (ephemeral key seed, then session id) come from
 * a fixed stream, and every encapsulation uses @noble/post-quantum with
 * fixed randomness (ML-KEM: the 32-byte m; X-Wing: the 64-byte eseed). Each
 * fixed input is the first bytes of SHA-512("volly-pq.v2 test vector <label>"),
 * so rerunning the script rewrites the same bytes; shared/test/v2-vectors.test.ts
 * recomputes every value on every backend and compares.
 */
import { writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Pong, SignalResponse } from '@livekit/protocol';
import { sha512 } from '@noble/hashes/sha2.js';
import { ml_kem768_x25519 } from '@noble/post-quantum/hybrid.js';
import { ml_kem768 } from '@noble/post-quantum/ml-kem.js';
import { FrameKind, getAead, getKem, pqGrant, toBase64Url, toHex, utf8, v2 } from '../dist/index.js';

const OUT = fileURLToPath(new URL('../test-vectors/v2/', import.meta.url));
const fixed = (label, n) => sha512(utf8(`volly-pq.v2 test vector ${label}`)).slice(0, n);
const NOBLE = { 'ML-KEM-768': { lib: ml_kem768, randomness: 32 }, 'X-Wing': { lib: ml_kem768_x25519, randomness: 64 } };

/** A Kem whose encapsulations take the given randomness, in order, and record what they produced. */
function fixedKem(kem, randomness, log) {
  const queue = [...randomness];
  return {
    ...kem,
    encapsulate(publicKey) {
      const r = queue.shift();
      if (!r) throw new Error(`${kem.algorithm}: no encapsulation randomness left`);
      const { cipherText, sharedSecret } = NOBLE[kem.algorithm].lib.encapsulate(publicKey, r);
      log?.push({ ciphertext: toHex(cipherText), shared_secret: toHex(sharedSecret) });
      return { ciphertext: cipherText, sharedSecret: sharedSecret.slice() };
    },
  };
}

/** randomBytes from a fixed list, in order (the client draws the ephemeral seed, then the session id). */
function fixedRandom(list) {
  const queue = list.map((b) => b.slice());
  return (n) => {
    const b = queue.shift();
    if (!b || b.length !== n) throw new Error(`random draw of ${n} bytes does not match the fixed stream`);
    return b;
  };
}

const TIMESTAMP = 1_767_225_600_000;
const SERVER_NOW = TIMESTAMP + 1_234;
const NOT_AFTER = 1_900_000_000;
const PATH = '/rtc/v1';
const QUERY = 'join_request=Cg4KAggBEgV2ZWN0b3IaAA%3D%3D&sdk=js&protocol=16';
const jwt = (payload) => `eyJhbGciOiJIUzI1NiJ9.${toBase64Url(utf8(JSON.stringify(payload)))}.dmVjdG9yLXNpZ25hdHVyZS1ub3QtdmVyaWZpZWQ`;
const GRANT = { room: 'vectors', roomJoin: true };
const SERVER_PAYLOAD = new SignalResponse({
  message: { case: 'pongResp', value: new Pong({ lastPingTimestamp: 1_767_225_600_000n, timestamp: 1_767_225_600_042n }) },
}).toBinary();

function serverKey(name, algorithm) {
  const kem = getKem(algorithm, 'noble');
  const seed = fixed(`${name} server key`, kem.secretKeyLength);
  const { publicKey } = kem.keygen(seed);
  return { seed, pair: { key: v2.staticKey(algorithm, publicKey, NOT_AFTER), secretKey: seed } };
}

/**
 * One v2 session from the first flight to the first LiveKit frame.
 * `keys`: server key names and algorithms (the first is current); `use`: index of the key the client uses.
 */
async function flow(name, { algorithm, bound, keys = [[name, algorithm]], use = 0, serverNow = SERVER_NOW, presentations = 1 }) {
  const aead = getAead('noble');
  const servers = keys.map(([n, a]) => ({ name: n, ...serverKey(n, a) }));
  const target = servers[use].pair.key;
  const kem = getKem(algorithm, 'noble');
  const ephemeralSeed = fixed(`${name} ephemeral seed`, kem.secretKeyLength);
  const sessionId = fixed(`${name} session id`, 16);
  const rS = fixed(`${name} ct_s randomness`, NOBLE[algorithm].randomness);
  const rE = fixed(`${name} ct_e randomness`, NOBLE[algorithm].randomness);
  const boundKem = bound ? getKem(bound, 'noble') : undefined;
  const boundSeed = bound ? fixed(`${name} bound key seed`, boundKem.secretKeyLength) : undefined;
  const boundPair = bound ? boundKem.keygen(boundSeed) : undefined;
  const rB = bound ? fixed(`${name} ct_b randomness`, NOBLE[bound].randomness) : undefined;
  const grant = bound ? { ...GRANT, ...pqGrant({ algorithm: bound, publicKey: boundPair.publicKey, keyExpiry: NOT_AFTER }) } : GRANT;
  const accessToken = jwt({ iss: 'APIvector', sub: 'alice', video: grant });
  const connect = { path: PATH, query: QUERY, accessToken };

  const clientLog = [];
  const client = new v2.ClientV2({
    kem: fixedKem(kem, [rS], clientLog),
    aead,
    serverKey: target,
    connect,
    now: () => TIMESTAMP,
    randomBytes: fixedRandom([ephemeralSeed, sessionId]),
    ...(bound ? { bound: { kem: boundKem, keyPair: { publicKey: boundPair.publicKey, secretKey: boundSeed.slice() } } } : {}),
  });
  const flight = client.start();
  const { clientHello, earlyFrame } = v2.readFirstFlight(flight.protocols, flight.query);
  const hello = v2.decodeClientHello(clientHello);
  const th1Input = v2.th1Input(hello, target.publicKey);
  const th1 = v2.transcriptHash1(hello, target.publicKey);
  const kEarly = v2.deriveEarlyKey(Uint8Array.from(Buffer.from(clientLog[0].shared_secret, 'hex')), th1);

  const serverLog = [];
  const serverKems = {};
  const options = {
    keys: servers.map((s) => s.pair),
    // One KEM per algorithm, so ct_e and (same algorithm) ct_b draw rE then rB from one queue.
    getKem: (a) => {
      serverKems[a] ??= fixedKem(getKem(a, 'noble'), [...(a === algorithm ? [rE] : []), ...(a === bound ? [rB] : [])], serverLog);
      return serverKems[a];
    },
    aead,
    now: () => serverNow,
  };
  const register = new v2.MemorySessionRegister(() => serverNow);
  const input = { protocols: flight.protocols, urlPath: PATH, query: flight.query };
  const decisions = [];
  for (let i = 0; i < presentations; i++) decisions.push(await v2.acceptFirstFlight(options, register, input));
  const decision = decisions[0];

  const common = {
    protocol: 'volly-pq.v2',
    name,
    algorithm,
    bound: bound ?? null,
    inputs: {
      server_keys: servers.map((s) => ({ algorithm: s.pair.key.algorithm, seed: toHex(s.seed), not_after: NOT_AFTER })),
      server_key_used: use,
      ephemeral_seed: toHex(ephemeralSeed),
      session_id: toHex(sessionId),
      ct_s_randomness: toHex(rS),
      ct_e_randomness: toHex(rE),
      ...(bound ? { bound_key_seed: toHex(boundSeed), ct_b_randomness: toHex(rB) } : {}),
      connect: { path: PATH, query: QUERY, access_token: accessToken },
      timestamp_ms: TIMESTAMP,
      server_now_ms: serverNow,
      server_payload: toHex(SERVER_PAYLOAD),
    },
  };
  const outputs = {
    server_public_keys: servers.map((s) => toHex(s.pair.key.publicKey)),
    key_ids: servers.map((s) => toHex(s.pair.key.id)),
    well_known: v2.wellKnownDocument(servers.map((s) => s.pair.key)),
    ephemeral_public_key: toHex(hello.pkE),
    ct_s: clientLog[0].ciphertext,
    ss_s: clientLog[0].shared_secret,
    client_hello: toHex(clientHello),
    subprotocols: flight.protocols,
    th1_input: toHex(th1Input),
    th1: toHex(th1),
    k_early: toHex(kEarly),
    early_plaintext: toHex(v2.encodeEarlyConnect({ ...connect, timestampMs: TIMESTAMP })),
    early_frame: toHex(earlyFrame),
    url_query: flight.query,
  };
  const decided = decisions.map((d) => (d.type === 'refuse' ? { type: d.type, code: d.error.code, close_code: d.error.closeCode } : { type: d.type }));
  if (decision.type === 'stale') {
    const [serverHello, staleFrame] = decision.frames;
    const out = [...client.receive(serverHello), ...client.receive(staleFrame)];
    const failure = out.find((o) => o.type === 'failed')?.failure;
    return {
      ...common,
      outputs: {
        ...outputs,
        ct_e: serverLog[0].ciphertext,
        ss_e: serverLog[0].shared_secret,
        server_hello: toHex(serverHello),
        stale_frame: toHex(staleFrame),
        retry: failure.retry,
      },
      decisions: decided,
    };
  }
  if (decision.type !== 'fresh') throw new Error(`${name}: ${decision.type}`);
  const boundKey = bound ? { algorithm: bound, publicKey: boundPair.publicKey } : undefined;
  const { serverHello, session } = decision.flight.accept(boundKey);
  const ctE = serverLog[0];
  const ctB = serverLog[1];
  const th2Input = v2.th2Input(
    th1,
    earlyFrame,
    Buffer.from(ctE.ciphertext, 'hex'),
    bound ? { key: boundKey, ctB: Buffer.from(ctB.ciphertext, 'hex') } : undefined,
  );
  const hex = (s) => Uint8Array.from(Buffer.from(s, 'hex'));
  const sessionKeys = v2.deriveSessionKeys(
    session.transcriptHash,
    hex(clientLog[0].shared_secret),
    hex(ctE.shared_secret),
    ctB ? hex(ctB.shared_secret) : undefined,
  );
  const keyed = client.receive(serverHello);
  const confirmation = keyed.find((o) => o.type === 'send').frame;
  if (session.open(confirmation).type !== 'confirmed') throw new Error(`${name}: confirmation`);
  const serverFirst = session.seal(FrameKind.LiveKitBinary, SERVER_PAYLOAD);
  if (client.receive(serverFirst)[0]?.type !== 'message') throw new Error(`${name}: client did not open the server frame`);
  return {
    ...common,
    outputs: {
      ...outputs,
      ...(bound ? { bound_public_key: toHex(boundPair.publicKey) } : {}),
      ct_e: ctE.ciphertext,
      ss_e: ctE.shared_secret,
      ...(bound ? { ct_b: ctB.ciphertext, ss_b: ctB.shared_secret } : {}),
      server_hello: toHex(serverHello),
      th2_input: toHex(th2Input),
      th2: toHex(session.transcriptHash),
      k_c2s: toHex(sessionKeys.c2s),
      k_s2c: toHex(sessionKeys.s2c),
      confirmation_frame: toHex(confirmation),
      server_first_frame: toHex(serverFirst),
    },
    decisions: decided,
  };
}

const files = {
  'ml-kem-768-unbound.json': () => flow('ML-KEM-768 unbound', { algorithm: 'ML-KEM-768' }),
  'ml-kem-768-bound.json': () => flow('ML-KEM-768 bound', { algorithm: 'ML-KEM-768', bound: 'ML-KEM-768' }),
  'x-wing-unbound.json': () => flow('X-Wing unbound', { algorithm: 'X-Wing' }),
  'x-wing-bound.json': () => flow('X-Wing bound', { algorithm: 'X-Wing', bound: 'X-Wing' }),
  'rotation.json': () =>
    flow('rotation', {
      algorithm: 'ML-KEM-768',
      keys: [
        ['rotation current', 'X-Wing'],
        ['rotation previous', 'ML-KEM-768'],
      ],
      use: 1,
    }),
  'replay.json': () => flow('replay', { algorithm: 'X-Wing', presentations: 2 }),
  'stale-clock.json': () => flow('stale clock', { algorithm: 'X-Wing', serverNow: TIMESTAMP + 3_600_000 }),
};
for (const [file, make] of Object.entries(files)) {
  writeFileSync(`${OUT}${file}`, `${JSON.stringify(await make(), null, 2)}\n`);
  console.log(`wrote shared/test-vectors/v2/${file}`);
}
