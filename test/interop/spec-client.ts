// A minimal volly-pq client written from docs/PROTOCOL.md alone, on `ws`:
// volly-pq.v1 in-band and token-bound (sections 3-5), and the sealed session
// both versions share. spec-client-v2.ts adds volly-pq.v2. It exists to prove
// the document is enough to interoperate with the proxy.

import { randomBytes } from 'node:crypto';
import { SignalRequest, SignalResponse } from '@livekit/protocol';
import { ml_dsa65 } from '@noble/post-quantum/ml-dsa.js';
import WebSocket from 'ws';
import * as c from './spec-crypto.ts';
import { decodeControlError, decodePqResponse, encodeConnect, encodeHandshake, type PqResponse } from './spec-proto.ts';

/** A refusal: the close code (and the sealed VollyError, when there was one). */
export class SpecClientError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly sealed?: { code: number; message: string },
    /** The unsealed close reason, when the server closed. */
    readonly closeReason?: string,
  ) {
    super(message);
  }
}

/** The WebSocket, its binary messages in order, and its close. */
export class Wire {
  private readonly queue: Uint8Array[] = [];
  private waiter: (() => void) | undefined;
  closed: { code: number; reason: string } | undefined;
  constructor(readonly ws: WebSocket) {
    ws.on('message', (data, isBinary) => {
      // Section 1: every PQ message is binary; a text message is a failure.
      this.queue.push(isBinary ? new Uint8Array(data as Buffer) : new Uint8Array(0));
      this.waiter?.();
    });
    ws.on('close', (code, reason) => {
      this.closed = { code, reason: reason.toString() };
      this.waiter?.();
    });
    ws.on('error', () => {});
  }

  static open(url: string, protocols: string[]): Promise<Wire> {
    const ws = new WebSocket(url, protocols);
    const wire = new Wire(ws);
    return new Promise((resolve, reject) => {
      ws.once('open', () => resolve(wire));
      ws.once('unexpected-response', (_req, res) => reject(new SpecClientError(res.statusCode ?? 0, `HTTP ${res.statusCode}`)));
      ws.once('close', (code) => reject(new SpecClientError(code, 'closed before open')));
    });
  }

  async next(timeoutMs = 10_000): Promise<Uint8Array> {
    const deadline = Date.now() + timeoutMs;
    while (this.queue.length === 0) {
      if (this.closed) throw new SpecClientError(this.closed.code, `closed: ${this.closed.reason}`, undefined, this.closed.reason);
      const left = deadline - Date.now();
      if (left <= 0) throw new SpecClientError(0, 'timeout');
      await new Promise<void>((r) => {
        const t = setTimeout(r, left);
        this.waiter = () => {
          clearTimeout(t);
          r();
        };
      });
      this.waiter = undefined;
    }
    const m = this.queue.shift() as Uint8Array;
    if (m.length === 0) throw new SpecClientError(4400, 'text message in PQ mode');
    return m;
  }

  /** After a sealed error the server closes; give it a moment to report the code. */
  async closeCode(timeoutMs = 1000): Promise<number | undefined> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.closed?.code;
  }
}

/** The sealed relay (section 5): LiveKit messages both ways, counters per direction. */
export class SealedSession {
  join: SignalResponse | undefined;
  private readonly pending: SignalResponse[] = [];
  constructor(
    readonly wire: Wire,
    /** Public so tests can build malformed frames; a real client keeps them private. */
    readonly keys: c.SessionKeys,
    private sendCounter: number,
    private recvCounter = 0,
  ) {}

  get fingerprint(): string {
    return c.hex(this.keys.th.subarray(0, 8));
  }

  send(req: SignalRequest['message']): void {
    const pt = new SignalRequest({ message: req }).toBinary();
    this.wire.ws.send(c.seal(this.keys.c2s, this.sendCounter++, 0x01, pt));
  }

  /** A LiveKit text (JSON) message, kind 0x02. */
  sendText(req: SignalRequest['message']): void {
    const pt = c.utf8(new SignalRequest({ message: req }).toJsonString());
    this.wire.ws.send(c.seal(this.keys.c2s, this.sendCounter++, 0x02, pt));
  }

  /** The next server frame: a LiveKit message, or a sealed VollyError (thrown with the close code). */
  async receive(timeoutMs?: number): Promise<SignalResponse> {
    const p = this.pending.shift();
    if (p) return p;
    const { kind, payload } = c.open(this.keys.s2c, this.recvCounter++, await this.wire.next(timeoutMs));
    if (kind === 0x01) return SignalResponse.fromBinary(payload);
    if (kind === 0x02) return SignalResponse.fromJsonString(new TextDecoder('utf-8', { fatal: true }).decode(payload));
    const err = decodeControlError(payload);
    // Section 6: below 1000 it is LiveKit's HTTP status, with close 4502.
    const close = (await this.wire.closeCode()) ?? (err.code < 1000 ? 4502 : err.code);
    throw new SpecClientError(close, err.message, err, this.wire.closed?.reason);
  }

  async waitFor<K extends NonNullable<SignalResponse['message']['case']>>(
    kase: K,
    timeoutMs = 10_000,
  ): Promise<Extract<SignalResponse['message'], { case: K }>['value']> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = await this.receive(Math.max(1, deadline - Date.now()));
      if (m.message.case === kase) return m.message.value as Extract<SignalResponse['message'], { case: K }>['value'];
    }
  }

  /** The first LiveKit frame is the sign the session is open; it is the JoinResponse. */
  async awaitJoin(): Promise<this> {
    const m = await this.receive();
    if (m.message.case !== 'join') throw new SpecClientError(0, `first LiveKit message is ${m.message.case}`);
    this.join = m;
    return this;
  }

  close(): Promise<void> {
    return new Promise((r) => {
      if (this.wire.closed) return r();
      this.wire.ws.once('close', () => r());
      this.wire.ws.close(1000);
    });
  }
}

export interface V1Options {
  /** ws://host:port */
  base: string;
  path: '/rtc' | '/rtc/v1';
  algorithm: c.Alg;
  token: string;
  /** LiveKit's query string, without `access_token`. */
  query: string;
  /** Token-bound: the key pair whose public key is the token's pqPublicKey. */
  bound?: c.KeyPair;
  /** Section 10: pinned ML-DSA-65 server keys; the pq_response must be signed by one. */
  pins?: Uint8Array[];
  /** LiveKit messages sent right after `connect`, before the JoinResponse ("Early frames"). */
  early?: SignalRequest['message'][];
}

const SERVER_AUTH_CONTEXT = c.utf8('volly-pq.v1 server-auth');

/** Section 10 "Client rules": before decapsulating or sealing anything; any failure closes 4526. */
function checkServerAuth(wire: Wire, pins: Uint8Array[], alg: c.Alg, r: PqResponse, transcriptInput: Uint8Array): void {
  const fail = (why: string) => {
    wire.ws.close(4526);
    return new SpecClientError(4526, why);
  };
  if (r.kemCiphertext.length !== c.SIZES[alg].ct) throw new SpecClientError(4400, 'ciphertext length');
  if (r.serverKeyId.length === 0 || r.serverSignature.length === 0) throw fail('ERR_SERVER_AUTH_MISSING');
  const pin = pins.find((pk) => c.hex(c.sha256(pk).subarray(0, 8)) === c.hex(r.serverKeyId));
  if (!pin) throw fail('ERR_SERVER_AUTH_UNKNOWN_KEY');
  const th = c.sha256(transcriptInput);
  if (!ml_dsa65.verify(r.serverSignature, th, pin, { context: SERVER_AUTH_CONTEXT })) throw fail('ERR_SERVER_AUTH_INVALID');
}

/** volly-pq.v1, in-band or (with `bound`) token-bound, up to LiveKit's JoinResponse. */
export async function connectV1(o: V1Options): Promise<SealedSession> {
  const sid = c.b64u(randomBytes(24));
  const url = o.bound ? `${o.base}${o.path}?access_token=${encodeURIComponent(o.token)}&volly_sid=${sid}` : `${o.base}${o.path}`;
  const wire = await Wire.open(url, ['volly-pq.v1']);
  if (wire.ws.protocol !== 'volly-pq.v1') throw new SpecClientError(4400, `server selected ${wire.ws.protocol}`);
  const kp = o.bound ?? c.keygen(o.algorithm, randomBytes(c.SIZES[o.algorithm].seed));
  if (!o.bound) wire.ws.send(encodeHandshake(o.algorithm, kp.publicKey, sid));
  let r: PqResponse;
  try {
    r = decodePqResponse(await wire.next());
  } catch (e) {
    throw e instanceof SpecClientError ? e : new SpecClientError(4400, String(e));
  }
  if (!r.success) throw new SpecClientError((await wire.closeCode()) ?? 0, r.error);
  if (r.algorithm !== o.algorithm || r.sessionId !== sid) throw new SpecClientError(4400, 'substituted pq_response');
  const transcript = c.v1Transcript(r.algorithm, r.sessionId, kp.publicKey, r.kemCiphertext);
  if (o.pins?.length) checkServerAuth(wire, o.pins, o.algorithm, r, transcript);
  const ss = c.decapsulate(o.algorithm, r.kemCiphertext, kp.secretKey);
  const keys = c.v1Keys(ss, transcript);
  ss.fill(0);
  wire.ws.send(c.seal(keys.c2s, 0, 0x03, encodeConnect(o.bound ? '' : o.token, o.query)));
  const session = new SealedSession(wire, keys, 1);
  for (const m of o.early ?? []) session.send(m);
  return session.awaitJoin();
}
