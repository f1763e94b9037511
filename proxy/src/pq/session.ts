/**
 * One PQ session, from the accepted upgrade to its end: it runs its
 * protocol's handshake stage (v1.ts, or v2.ts whose first part ran before the
 * upgrade was answered), then dial and relay, and owns what they share — the
 * client socket, the message inbox, the session keys, the handshake slot and
 * the session record.
 *
 * Invariants:
 * - one terminal path (`#fail` before the relay, the relay's own end after):
 *   the slot is released, the keys are wiped and the record ends exactly once;
 * - cancellation is one AbortSignal: a stage waiting when the client leaves,
 *   the handshake times out or the proxy drains is rejected, never re-checked;
 * - after keys exist, errors travel sealed (VollyError) and the unsealed close
 *   reason is the code's name only; before, what the stage says (v1: a
 *   pq_response{success=false}; v2: the close code alone);
 * - LiveKit is dialed only with a request the stage opened from sealed data
 *   and authorized (v1: VollyConnect; v2: the early frame, a bound token only
 *   after the key confirmation).
 */
import type { IncomingMessage } from 'node:http';
import {
  CloseCode,
  closeCodeInfo,
  closeReason,
  encodeControl,
  encodeResponse,
  FrameKind,
  ProtocolError,
  type SealedChannel,
  utf8,
  VollyError,
} from '@volly/shared';
import type WebSocket from 'ws';
import { sessionRewriter } from '../agent-assignment.js';
import type { Grant } from '../authorize.js';
import { forwardedHeaders } from '../client-address.js';
import type { Context, Live } from '../context.js';
import { dial } from '../dial.js';
import { SessionAbortedError, StageTimeoutError } from '../errors.js';
import type { Slot } from '../limiter.js';
import { type Message, Relay, type RelayTransforms } from '../relay.js';
import { SessionRecord } from '../session-record.js';
import { tlsFactsOf } from '../tls.js';
import type { DialResult } from '../upstream.js';
import { Inbox } from './inbox.js';
import { channelCrypto, type SessionCrypto, type Stage, type StageIo, type StageResult } from './stage.js';
import { MAX_EARLY, type V1Keyed, v1Handshake } from './v1.js';

/** The public name of a close code: all an unsealed close reason says once keys exist. */
const codeName = (code: number): string => closeCodeInfo(code).name;

/**
 * What only the handshake uses. The session drops it when the relay starts,
 * so an idle relaying session keeps none of it (its slot, timer, abort
 * listeners, inbox and stage would otherwise live as long as the session).
 */
interface Handshake {
  readonly abort: AbortController;
  readonly inbox: Inbox;
  readonly timer: ReturnType<typeof setTimeout>;
  readonly slot: Slot;
  readonly stage: Stage;
  crypto?: SessionCrypto;
}

/** The client socket's errors end in its 'close'; an unheard 'error' must not crash the proxy. */
const ignoreError = (): void => {};

export class PqSession implements Live {
  readonly record: SessionRecord;
  #hs: Handshake | undefined;
  #relay: Relay | undefined;
  #ended = false;

  constructor(
    private readonly ctx: Context,
    private readonly ws: WebSocket,
    req: IncomingMessage,
    url: URL,
    client: string,
    slot: Slot,
    stage: Stage = v1Stage(),
  ) {
    this.record = new SessionRecord('pq', url.pathname, client, tlsFactsOf(req.socket), ctx.log, ctx.metrics);
    this.record.facts.protocol = stage.protocol;
    const hs: Handshake = {
      abort: new AbortController(),
      inbox: new Inbox(ws, MAX_EARLY + 1, () => this.#fail(new ProtocolError('too many frames before the session opened'))),
      timer: setTimeout(() => this.#fail(new StageTimeoutError('handshake timeout')), ctx.config.limits.handshakeTimeoutMs),
      slot,
      stage,
    };
    this.#hs = hs;
    ws.on('close', this.#onClose);
    ws.on('error', ignoreError);
    this.#run(hs, url, forwardedHeaders(req, client)).catch((err: unknown) => this.#fail(err));
  }

  end(code: number, reason: string): void {
    if (this.#relay) this.#relay.end(code, reason);
    else this.#failWith(code, code, reason);
  }

  /** A relaying session is asked to reconnect; one still in its handshake just ends (1001). */
  drain(graceMs?: number): void {
    if (this.#relay) this.#relay.drain(graceMs);
    else this.#failWith(CloseCode.GoingAway, CloseCode.GoingAway, 'proxy draining; reconnect');
  }

  async #run(hs: Handshake, url: URL, headers: Record<string, string>): Promise<void> {
    const { ctx } = this;
    const { stage } = hs;
    const signal = hs.abort.signal;
    const io: StageIo = { ctx, ws: this.ws, inbox: hs.inbox, facts: this.record.facts, signal, keyed: (c) => (hs.crypto = c) };
    const keyed = await stage.run(io, url);
    Object.assign(this.record.facts, { room: keyed.grant.room, identity: keyed.grant.identity });
    const token = keyed.dialed ? '' : await ctx.auth.downgrade(keyed.grant);
    signal.throwIfAborted();
    this.#handshakeDone(hs);
    ctx.metrics.handshakeSeconds.observe(
      { protocol: stage.protocol, algorithm: keyed.algorithm, flow: this.record.facts.flow ?? 'in-band' },
      (performance.now() - stage.startedAt) / 1000,
    );
    const up = await (keyed.dialed ?? dial(ctx, { mode: 'pq', path: keyed.path, query: keyed.query, token, headers, signal }));
    if (signal.aborted) {
      if (up.ok) up.ws.terminate();
      return;
    }
    if (!up.ok) {
      this.#failWith(CloseCode.Upstream, up.status || CloseCode.Upstream, up.body || 'LiveKit refused the connection');
      return;
    }
    this.#startRelay(hs, up, keyed);
  }

  /** Hands both sockets to the relay; the inbox's unread frames go first, in the same tick it stops listening. */
  #startRelay(hs: Handshake, up: Extract<DialResult, { ok: true }>, keyed: StageResult): void {
    this.ws.off('close', this.#onClose);
    up.detach();
    const relay = new Relay(this.ws, up.ws, transforms(this.ctx, keyed.crypto, keyed.grant, keyed.path), this.record, this.ctx.metrics, this.ctx.config.limits);
    this.#relay = relay;
    relay.start(up.early, hs.inbox.handOver());
    // From here the relay owns the session: the handshake's state goes.
    this.#hs = undefined;
    // v2 unbound relays before the client's key confirmation: it is still due within the handshake timeout.
    const { crypto } = keyed;
    if (crypto.confirmed && !crypto.confirmed()) {
      const due = performance.now() - hs.stage.startedAt;
      const t = setTimeout(
        () => crypto.confirmed?.() || relay.end(CloseCode.HandshakeTimeout, 'no key confirmation'),
        Math.max(0, this.ctx.config.limits.handshakeTimeoutMs - due),
      );
      t.unref?.();
      this.ws.once('close', () => clearTimeout(t));
    }
  }

  /** Leaves the handshake: the timer stops and the slot goes back (once). */
  #handshakeDone(hs: Handshake): void {
    clearTimeout(hs.timer);
    hs.slot.release();
  }

  #fail(err: unknown): void {
    if (err instanceof VollyError) this.#failWith(err.closeCode, err.closeCode, err.message);
    else {
      this.ctx.log.error({ err: (err as Error)?.message }, 'unexpected handshake error');
      this.#failWith(CloseCode.Internal, CloseCode.Internal, 'internal error');
    }
  }

  /**
   * Ends a session that is not relaying: before keys the stage's refusal
   * (v1: pq_response with success=false), after them a sealed VollyError
   * (`errorCode` may be LiveKit's HTTP status); then close, wipe, record.
   */
  #failWith(closeCode: number, errorCode: number, message: string): void {
    const hs = this.#hs;
    if (this.#ended || this.#relay || !hs) return;
    this.#ended = true;
    hs.abort.abort(new SessionAbortedError('session ended'));
    this.#handshakeDone(hs);
    hs.inbox.handOver();
    const crypto = hs.crypto;
    if (this.ws.readyState === this.ws.OPEN) {
      const out = crypto ? crypto.seal(FrameKind.Control, encodeControl({ case: 'error', code: errorCode, message })) : hs.stage.refusal(message);
      if (out) this.ws.send(out);
    }
    crypto?.destroy();
    this.ws.close(closeCode, closeReason(crypto ? codeName(closeCode) : message));
    this.record.end(closeCode, message);
  }

  readonly #onClose = (code: number, reason: Buffer): void => {
    const hs = this.#hs;
    if (this.#ended || !hs) return;
    this.#ended = true;
    hs.abort.abort(new SessionAbortedError('client left'));
    this.#handshakeDone(hs);
    hs.crypto?.destroy();
    this.record.end(code === 1005 || code === 1006 ? 1000 : code, reason.toString() || 'client left during the handshake');
  };
}

/**
 * The relay's PQ side: open client frames, seal LiveKit's, rewrite tokens
 * (per path), seal errors, wipe keys at the end. A class, so an idle session
 * holds one small object rather than six closures.
 */
class PqTransforms implements RelayTransforms {
  readonly rewrite: RelayTransforms['rewrite'];
  constructor(
    private readonly crypto: SessionCrypto,
    rewrite: RelayTransforms['rewrite'],
  ) {
    this.rewrite = rewrite;
  }
  fromClient(data: Buffer, isBinary: boolean): Message | null {
    if (!isBinary) throw new ProtocolError('text frame on a sealed session');
    return this.crypto.open(data);
  }
  toClient(m: Message): Message {
    return typeof m === 'string' ? this.crypto.seal(FrameKind.LiveKitText, utf8(m)) : this.crypto.seal(FrameKind.LiveKitBinary, m);
  }
  closing(code: number, reason: string): Message | null {
    if (code < 4000) return null;
    return this.crypto.seal(FrameKind.Control, encodeControl({ case: 'error', code, message: reason }));
  }
  publicReason(code: number): string {
    return codeName(code);
  }
  dispose(): void {
    this.crypto.destroy();
  }
}

const transforms = (ctx: Context, crypto: SessionCrypto, grant: Grant, path: string): RelayTransforms =>
  new PqTransforms(crypto, sessionRewriter(path, grant, ctx.auth, ctx.metrics));

/**
 * volly-pq.v1: the handshake after the upgrade, then the sealed token (or,
 * token-bound, the URL's) verified; a bound one must name this session's key.
 * LiveKit sees the upgrade URL's path and the sealed query.
 */
export function v1Stage(): Stage {
  return {
    protocol: 'v1',
    startedAt: performance.now(),
    refusal: (message) => encodeResponse({ success: false, error: message }),
    async run(io, url): Promise<StageResult> {
      let crypto: SessionCrypto | undefined;
      const keyedWith = (c: SealedChannel) => {
        crypto = channelCrypto(c);
        io.keyed(crypto);
      };
      const keyed = await v1Handshake({ ...io, keyed: keyedWith }, url);
      const grant = await authorizeV1(io, keyed);
      return { algorithm: keyed.algorithm, grant, path: url.pathname, query: keyed.connect.query, crypto: crypto as SessionCrypto };
    },
  };
}

async function authorizeV1({ ctx, signal }: StageIo, keyed: V1Keyed): Promise<Grant> {
  // An empty sealed token means the URL's (token-bound); with neither, verify('') says "no access token".
  const grant = keyed.urlGrant && !keyed.connect.accessToken ? keyed.urlGrant : await ctx.auth.verify(keyed.connect.accessToken);
  signal.throwIfAborted();
  ctx.auth.checkBinding(grant, { algorithm: keyed.algorithm, publicKey: keyed.clientKey });
  return grant;
}
