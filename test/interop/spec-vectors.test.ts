// The published vectors (shared/test-vectors, v1 files and v2/), reproduced
// byte for byte by the independent client's primitives, written from
// docs/PROTOCOL.md and the vector READMEs alone.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import { describe, expect, it } from 'vitest';
import { encodeWellKnown, parseWellKnown } from './spec-client-v2.ts';
import * as c from './spec-crypto.ts';
import { decodeControlError, decodePqResponse, encodeConnect, encodeHandshake, encodePqResponse } from './spec-proto.ts';

const DIR = join(import.meta.dirname, '../../shared/test-vectors');
// biome-ignore lint/suspicious/noExplicitAny: vector JSON
const load = (f: string): any => JSON.parse(readFileSync(join(DIR, f), 'utf8'));
const V1 = ['ml-kem-768-in-band.json', 'ml-kem-768-token-bound.json', 'x-wing-in-band.json', 'x-wing-token-bound.json'];
const V2 = ['ml-kem-768-unbound', 'ml-kem-768-bound', 'x-wing-unbound', 'x-wing-bound', 'rotation', 'replay', 'stale-clock'].map((n) => `v2/${n}.json`);
const { hex, unhex } = c;

describe.each(V1)('v1 vector %s', (file) => {
  const v = load(file);
  const alg = v.algorithm as c.Alg;
  const o = v.outputs;
  it('reproduces every output from the inputs', () => {
    const kp = c.keygen(alg, unhex(v.inputs.keygen_seed));
    expect(hex(kp.publicKey)).toBe(o.client_public_key);
    if (v.mode === 'in-band') expect(hex(encodeHandshake(alg, kp.publicKey, v.inputs.session_id))).toBe(o.handshake_frame);
    else {
      expect(o.handshake_frame).toBeNull();
      expect(o.pq_grant).toEqual({ pqPublicKey: c.b64u(kp.publicKey), pqAlgorithm: alg, pqKeyExpiry: v.inputs.pq_key_expiry });
    }
    const { ct, ss } = c.encapsulate(alg, kp.publicKey, unhex(v.inputs.encapsulation_randomness));
    expect(hex(ct)).toBe(o.kem_ciphertext);
    expect(hex(ss)).toBe(o.shared_secret);
    expect(hex(c.decapsulate(alg, ct, kp.secretKey))).toBe(o.shared_secret);
    const resp = encodePqResponse({ kemCiphertext: ct, algorithm: alg, sessionId: v.inputs.session_id, success: true });
    expect(hex(resp)).toBe(o.response_frame);
    expect(decodePqResponse(resp)).toMatchObject({ algorithm: alg, sessionId: v.inputs.session_id, success: true });
    const ti = c.v1Transcript(alg, v.inputs.session_id, kp.publicKey, ct);
    expect(hex(ti)).toBe(o.transcript_input);
    const k = c.v1Keys(ss, ti);
    expect([hex(k.th), hex(k.th.subarray(0, 8)), hex(k.c2s), hex(k.s2c)]).toEqual([o.transcript_hash, o.fingerprint, o.k_c2s, o.k_s2c]);
    const connect = encodeConnect(v.inputs.connect.access_token, v.inputs.connect.query);
    expect(hex(connect)).toBe(o.connect_plaintext);
    expect(hex(c.seal(k.c2s, 0, 0x03, connect))).toBe(o.client_first_frame);
    expect(hex(c.seal(k.s2c, 0, 0x01, unhex(v.inputs.server_payload)))).toBe(o.server_first_frame);
    expect(hex(c.seal(k.s2c, 1, 0x02, c.utf8(v.inputs.server_text)))).toBe(o.server_second_frame);
    expect(hex(c.open(k.s2c, 0, unhex(o.server_first_frame)).payload)).toBe(v.inputs.server_payload);
    expect(() => c.open(k.s2c, 0, unhex(o.server_second_frame))).toThrow();
  });
});

it('server-auth-ml-dsa-65.json: key, key id, M′, signatures and signed responses', () => {
  const v = load('server-auth-ml-dsa-65.json');
  const ctx = unhex(v.inputs.context);
  expect(new TextDecoder().decode(ctx)).toBe('volly-pq.v1 server-auth');
  const kp = ml_dsa65.keygen(unhex(v.inputs.key_seed));
  expect(hex(kp.publicKey)).toBe(v.outputs.public_key);
  expect(hex(c.sha256(kp.publicKey).subarray(0, 8))).toBe(v.outputs.key_id);
  for (const h of v.handshakes) {
    const hv = load(h.handshake);
    expect(h.transcript_hash).toBe(hv.outputs.transcript_hash);
    const th = unhex(h.transcript_hash);
    expect(hex(c.concat(new Uint8Array([0, ctx.length]), ctx, th))).toBe(h.signed_message);
    const sig = ml_dsa65.sign(th, kp.secretKey, { context: ctx, extraEntropy: false });
    expect(hex(sig)).toBe(h.signature);
    expect(ml_dsa65.verify(sig, th, kp.publicKey, { context: ctx })).toBe(true);
    const r = decodePqResponse(unhex(hv.outputs.response_frame));
    const signed = encodePqResponse({ ...r, serverKeyId: unhex(v.outputs.key_id), serverSignature: sig });
    expect(hex(signed)).toBe(h.response_frame);
  }
});

describe.each(V2)('v2 vector %s', (file) => {
  const v = load(file);
  const alg = v.algorithm as c.Alg;
  const o = v.outputs;
  const i = v.inputs;
  it('reproduces the server keys, the document, the first flight, the ServerHello and the keys', () => {
    const server = i.server_keys.map((k: { algorithm: c.Alg; seed: string }) => ({ alg: k.algorithm, ...c.keygen(k.algorithm, unhex(k.seed)) }));
    expect(server.map((k: c.KeyPair) => hex(k.publicKey))).toEqual(o.server_public_keys);
    expect(server.map((k: { alg: c.Alg } & c.KeyPair) => hex(c.v2KeyId(k.alg, k.publicKey)))).toEqual(o.key_ids);
    const doc = parseWellKnown(o.well_known);
    expect(doc.map((k) => hex(k.publicKey))).toEqual(o.server_public_keys);
    expect(encodeWellKnown(doc)).toBe(o.well_known);
    const S = server[i.server_key_used];
    expect(S.alg).toBe(alg);
    const e = c.keygen(alg, unhex(i.ephemeral_seed));
    expect(hex(e.publicKey)).toBe(o.ephemeral_public_key);
    const s = c.encapsulate(alg, S.publicKey, unhex(i.ct_s_randomness));
    expect([hex(s.ct), hex(s.ss)]).toEqual([o.ct_s, o.ss_s]);
    const sid = unhex(i.session_id);
    const hello = c.clientHello(alg, c.v2KeyId(alg, S.publicKey), sid, s.ct, e.publicKey);
    expect(hex(hello)).toBe(o.client_hello);
    expect(o.subprotocols).toEqual(['volly-pq.v2', `volly-pq.v2.${c.b64u(hello)}`]);
    const t1 = c.th1Input(alg, S.publicKey, sid, s.ct, e.publicKey);
    expect(hex(t1)).toBe(o.th1_input);
    const th1 = c.sha256(t1);
    expect(hex(th1)).toBe(o.th1);
    const kEarly = c.earlyKey(s.ss, th1);
    expect(hex(kEarly)).toBe(o.k_early);
    const ep = c.earlyPlaintext(i.timestamp_ms, i.connect.path, i.connect.query, i.connect.access_token);
    expect(hex(ep)).toBe(o.early_plaintext);
    const early = c.seal(kEarly, 0, 0x03, ep);
    expect(hex(early)).toBe(o.early_frame);
    expect(o.url_query).toBe(`volly_early=${c.b64u(early)}`);
    // Server side: open the flight, answer.
    expect(hex(c.decapsulate(alg, s.ct, S.secretKey))).toBe(o.ss_s);
    const eE = c.encapsulate(alg, e.publicKey, unhex(i.ct_e_randomness));
    expect([hex(eE.ct), hex(eE.ss)]).toEqual([o.ct_e, o.ss_e]);
    let bound: c.BoundPart | undefined;
    if (v.bound) {
      const b = c.keygen(v.bound, unhex(i.bound_key_seed));
      expect(hex(b.publicKey)).toBe(o.bound_public_key);
      const eB = c.encapsulate(v.bound, b.publicKey, unhex(i.ct_b_randomness));
      expect([hex(eB.ct), hex(eB.ss)]).toEqual([o.ct_b, o.ss_b]);
      expect(hex(c.decapsulate(v.bound, eB.ct, b.secretKey))).toBe(o.ss_b);
      bound = { alg: v.bound, pk: b.publicKey, ct: eB.ct, ss: eB.ss };
    }
    const sh = c.concat(new Uint8Array([0x02, bound ? 1 : 0]), eE.ct, bound?.ct ?? new Uint8Array(0));
    expect(hex(sh)).toBe(o.server_hello);
    const keys = c.v2Keys(s.ss, c.decapsulate(alg, eE.ct, e.secretKey), c.th2Input(th1, early, eE.ct, bound), bound?.ss);
    if (o.stale_frame) {
      // Stale: unbound keys only seal the refusal carrying the server's time.
      const err = decodeControlError(c.open(keys.s2c, 0, unhex(o.stale_frame)).payload);
      expect(err).toEqual({ code: 4425, message: String(i.server_now_ms) });
      expect(Number(err.message) - i.timestamp_ms).toBe(o.retry.clockOffsetMs);
      return;
    }
    expect(hex(c.th2Input(th1, early, eE.ct, bound))).toBe(o.th2_input);
    expect([hex(keys.th), hex(keys.c2s), hex(keys.s2c)]).toEqual([o.th2, o.k_c2s, o.k_s2c]);
    const confirm = c.seal(keys.c2s, 0, 0x03, encodeConnect('', ''));
    expect(hex(encodeConnect('', ''))).toBe('0a00');
    expect(hex(confirm)).toBe(o.confirmation_frame);
    expect(confirm.length).toBe(19);
    expect(hex(c.seal(keys.s2c, 0, 0x01, unhex(i.server_payload)))).toBe(o.server_first_frame);
  });
});

it('stale-clock and replay decisions are the ones the spec names', () => {
  expect(load('v2/stale-clock.json').decisions).toEqual([{ type: 'stale' }]);
  expect(load('v2/replay.json').decisions).toEqual([{ type: 'fresh' }, { type: 'refuse', code: 'ERR_V2_REPLAY', close_code: 4409 }]);
});

it('the X-Wing used here is draft-connolly-cfrg-xwing-kem-10 (the draft’s own vectors)', () => {
  const kat = JSON.parse(readFileSync(join(import.meta.dirname, '../../shared/test-vectors/primitives/xwing-draft-10.json'), 'utf8'));
  for (const t of kat.tests) {
    const kp = c.keygen('X-Wing', unhex(t.seed));
    expect(hex(kp.publicKey)).toBe(t.pk);
    const { ct, ss } = c.encapsulate('X-Wing', kp.publicKey, unhex(t.eseed));
    expect([hex(ct), hex(ss)]).toEqual([t.ct, t.ss]);
  }
});
