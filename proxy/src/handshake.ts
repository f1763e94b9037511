/**
 * The PQ stages of a session: handshake → authorize → dial → relay.
 *
 *   token-bound: URL token verified first, server speaks pq_response first;
 *   in-band:     client's pq_handshake first, server answers.
 * Then the first sealed frame must be VollyConnect: it confirms the keys, and
 * only after it opens (and its token verifies and matches the session key)
 * is LiveKit dialed. Messages are handled strictly in order through one
 * promise chain; before the relay takes over at most MAX_EARLY may wait.
 */
import type { IncomingMessage } from 'node:http';
import {
  CloseCode,
  checkAlgorithm,
  checkSessionId,
  decodeControl,
  decodeHandshake,
  encodeControl,
  encodeResponse,
  FrameKind,
  fromUtf8,
  getAead,
  getKem,
  type HandshakeResult,
  ProtocolError,
  randomBytes,
  SESSION_ID_PARAM,
  type SealedChannel,
  sealedChannel,
  serverHandshake,
  toBase64Url,
  utf8,
  VollyError,
} from '@volly/shared';
import type WebSocket from 'ws';
import type { Grant } from './authorize.js';
import { type Context, dial, forwardedHeaders } from './context.js';
import { closeReason, type Message, Relay, type RelayTransforms } from './relay.js';
import { carriesToken, rewriteToken } from './rewrite.js';
import { SessionRecord } from './session.js';

const MAX_EARLY = 16;
const aead = getAead();

type Stage = 'hello' | 'connect' | 'dialing' | 'done';

export class PqHandshake {
  readonly record: SessionRecord;
  #stage: Stage = 'hello';
  #chain: Promise<void> = Promise.resolve();
  #queued = 0;
  #channel: SealedChannel | undefined;
  #result: HandshakeResult | undefined;
  #clientKey: Uint8Array | undefined;
  #relay: Relay | undefined;
  #early: Buffer[] = [];
  #counted = true;
  readonly #timer: ReturnType<typeof setTimeout>;
  readonly #urlToken: string;
  /** Only what LiveKit is told about the client; the request itself is not kept for the session's life. */
  readonly #headers: Record<string, string>;
  readonly #started = performance.now();

  constructor(
    private readonly ctx: Context,
    private readonly ws: WebSocket,
    req: IncomingMessage,
    private readonly url: URL,
  ) {
    this.record = new SessionRecord('pq', url.pathname, req.socket.remoteAddress ?? 'unknown', ctx.log, ctx.metrics);
    this.#urlToken = url.searchParams.get('access_token') ?? '';
    this.#headers = forwardedHeaders(req);
    ctx.handshakes++;
    ctx.metrics.handshakesActive.inc();
    this.#timer = setTimeout(() => this.#fail(CloseCode.HandshakeTimeout, 'handshake timeout'), ctx.config.limits.handshakeTimeoutMs);
    ws.on('message', this.#onMessage);
    ws.on('close', this.#onClose);
    ws.on('error', () => {});
    if (this.#urlToken) this.#then(() => this.#tokenBoundHello());
  }

  readonly #onMessage = (data: Buffer, isBinary: boolean) => this.#enqueue(data, isBinary);
  readonly #onClose = (code: number, reason: Buffer) => this.#closedEarly(code, reason.toString());

  end(code: number, reason: string): void {
    if (this.#relay) this.#relay.end(code, reason);
    else this.#fail(code, reason);
  }

  /** A relaying session is asked to reconnect; one still in its handshake just ends (1001). */
  drain(graceMs?: number): void {
    if (this.#relay) this.#relay.drain(graceMs);
    else this.#fail(CloseCode.GoingAway, 'proxy draining; reconnect');
  }

  #then(step: () => Promise<void> | void): void {
    this.#chain = this.#chain.then(step).catch((err: unknown) => this.#failWith(err));
  }

  #enqueue(data: Buffer, isBinary: boolean): void {
    if (this.#stage === 'done') return;
    if (this.#stage === 'dialing') {
      // Frames the client sent before LiveKit answered: the relay opens them in order.
      if (this.#early.length >= MAX_EARLY) this.#fail(CloseCode.Malformed, 'too many frames before the session opened');
      else this.#early.push(data);
      return;
    }
    if (++this.#queued > MAX_EARLY) {
      this.#fail(CloseCode.Malformed, 'too many frames during the handshake');
      return;
    }
    this.#then(() => {
      this.#queued--;
      if (!isBinary) throw new ProtocolError('text frame during the handshake');
      if (this.#stage === 'hello') return this.#inBandHello(data);
      if (this.#stage === 'connect') return this.#connect(data);
      this.#early.push(data);
    });
  }

  /** Token-bound: the URL token names the client's key; we speak first. */
  async #tokenBoundHello(): Promise<void> {
    const grant = await this.ctx.auth.verify(this.#urlToken);
    if (!grant.pq) return; // a plain token in the URL: in-band handshake follows
    if (this.#stage !== 'hello') return;
    this.record.facts.flow = 'token-bound';
    // The client's own session id when it sent one (it guards the client against a replayed response).
    const chosen = this.url.searchParams.get(SESSION_ID_PARAM);
    const sessionId = chosen === null ? toBase64Url(randomBytes(24)) : checkSessionId(chosen);
    this.#keyed(checkAlgorithm(grant.pq.algorithm, this.ctx.config.algorithms), sessionId, grant.pq.publicKey);
  }

  #inBandHello(data: Buffer): void {
    const h = decodeHandshake(data);
    this.record.facts.flow = 'in-band';
    this.#keyed(checkAlgorithm(h.algorithm, this.ctx.config.algorithms), h.sessionId, h.publicKey);
  }

  #keyed(algorithm: Parameters<typeof getKem>[0], sessionId: string, publicKey: Uint8Array): void {
    this.record.facts.algorithm = algorithm;
    this.record.facts.sessionId = sessionId;
    // With VOLLY_SERVER_KEYS the response carries the first key's signature over th (server authentication).
    const { response, result } = serverHandshake(getKem(algorithm), sessionId, publicKey, this.ctx.config.serverKeys?.[0]?.signer);
    this.#result = result;
    this.#clientKey = publicKey;
    this.#channel = sealedChannel(result, 'server', aead, this.ctx.config.limits.maxFrameBytes);
    this.#stage = 'connect';
    this.ws.send(response);
  }

  async #connect(data: Buffer): Promise<void> {
    const channel = this.#channel as SealedChannel;
    const { kind, payload } = channel.opener.open(data);
    if (kind !== FrameKind.Control) throw new ProtocolError('first sealed frame is not VollyConnect');
    const c = decodeControl(payload);
    if (c.case !== 'connect') throw new ProtocolError('first sealed frame is not VollyConnect');
    this.#stage = 'dialing';
    const grant = await this.ctx.auth.verify(c.accessToken || this.#urlToken);
    if (this.#stage !== 'dialing') return; // timed out or closed meanwhile
    const result = this.#result as HandshakeResult;
    this.ctx.auth.checkBinding(grant, { algorithm: result.algorithm, publicKey: this.#clientKey as Uint8Array });
    Object.assign(this.record.facts, { room: grant.room, identity: grant.identity });
    const query = new URLSearchParams(this.url.search);
    query.delete(SESSION_ID_PARAM);
    for (const [k, v] of new URLSearchParams(c.query)) query.append(k, v);
    query.set('access_token', await this.ctx.auth.downgrade(grant));
    if (this.#stage !== 'dialing') return;
    clearTimeout(this.#timer);
    this.ctx.metrics.handshakeSeconds.observe(
      { algorithm: result.algorithm, flow: this.record.facts.flow ?? 'in-band' },
      (performance.now() - this.#started) / 1000,
    );
    const up = await dial(this.ctx, 'pq', this.#headers, this.url.pathname, query);
    if (this.#stage !== 'dialing') {
      if (up.ok) up.ws.terminate();
      return;
    }
    if (!up.ok) {
      this.#sealedFail(CloseCode.Upstream, up.status || CloseCode.Upstream, up.body || 'LiveKit refused the connection');
      return;
    }
    this.#handshakeDone();
    this.#stage = 'done';
    this.ws.off('message', this.#onMessage);
    this.ws.off('close', this.#onClose);
    up.detach();
    this.#relay = new Relay(this.ws, up.ws, this.#transforms(channel, grant), this.record, this.ctx.metrics, this.ctx.config.limits);
    this.#relay.start(up.early, this.#early);
    this.#early = [];
    // After the relay's own close handler has ended it: overwrite the keys, as a failed handshake does.
    this.ws.once('close', () => channel.destroy());
  }

  #transforms(channel: SealedChannel, grant: Grant): RelayTransforms {
    const { ctx } = this;
    return {
      fromClient(data, isBinary): Message | null {
        if (!isBinary) throw new ProtocolError('text frame on a sealed session');
        const { kind, payload } = channel.opener.open(data);
        if (kind === FrameKind.LiveKitBinary) return payload;
        if (kind === FrameKind.LiveKitText) {
          try {
            return fromUtf8(payload);
          } catch {
            throw new ProtocolError('text frame is not UTF-8');
          }
        }
        throw new ProtocolError('unexpected VollyControl after connect');
      },
      toClient(m) {
        return typeof m === 'string' ? channel.sealer.seal(FrameKind.LiveKitText, utf8(m)) : channel.sealer.seal(FrameKind.LiveKitBinary, m);
      },
      rewrite(m) {
        if (!carriesToken(m)) return null;
        return rewriteToken(m, grant, ctx.auth).then((r) => {
          if (r.kind) ctx.metrics.tokenRewrites.inc({ kind: r.kind });
          return r.data;
        });
      },
      closing(code, reason) {
        if (code < 4000) return null;
        return channel.sealer.seal(FrameKind.Control, encodeControl({ case: 'error', code, message: reason }));
      },
    };
  }

  /** Leaves the concurrent-handshake count exactly once. */
  #handshakeDone(): void {
    clearTimeout(this.#timer);
    if (this.#counted) {
      this.#counted = false;
      this.ctx.handshakes--;
      this.ctx.metrics.handshakesActive.dec();
    }
  }

  #failWith(err: unknown): void {
    if (err instanceof VollyError) this.#fail(err.closeCode, err.message);
    else {
      this.ctx.log.error({ err: (err as Error)?.message }, 'unexpected handshake error');
      this.#fail(CloseCode.Internal, 'internal error');
    }
  }

  /** Before keys: a pq_response with success=false. After: a sealed VollyError. Then close. */
  #fail(code: number, reason: string): void {
    if (this.#stage === 'done') return;
    if (this.#channel) {
      this.#sealedFail(code, code, reason);
      return;
    }
    this.#stage = 'done';
    this.#handshakeDone();
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(encodeResponse({ success: false, error: reason }));
    this.#close(code, reason);
  }

  #sealedFail(closeCode: number, errorCode: number, message: string): void {
    this.#stage = 'done';
    this.#handshakeDone();
    const channel = this.#channel as SealedChannel;
    if (this.ws.readyState === this.ws.OPEN) this.ws.send(channel.sealer.seal(FrameKind.Control, encodeControl({ case: 'error', code: errorCode, message })));
    this.#close(closeCode, message);
  }

  #close(code: number, reason: string): void {
    this.#channel?.destroy();
    this.ws.close(code, closeReason(reason));
    this.record.end(code, reason);
  }

  #closedEarly(code: number, reason: string): void {
    if (this.#stage === 'done') return;
    this.#stage = 'done';
    this.#handshakeDone();
    this.#channel?.destroy();
    this.record.end(code === 1005 || code === 1006 ? 1000 : code, reason || 'client left during the handshake');
  }
}
