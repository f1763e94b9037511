/**
 * One PQ session, from the accepted upgrade to its end: it runs the stages
 * handshake → authorize → dial → relay in order and owns what they share —
 * the client socket, the message inbox, the sealed channel, the handshake
 * slot and the session record.
 *
 * Invariants:
 * - one terminal path (`#fail` before the relay, the relay's own end after):
 *   the slot is released, the keys are wiped and the record ends exactly once;
 * - cancellation is one AbortSignal: a stage waiting when the client leaves,
 *   the handshake times out or the proxy drains is rejected, never re-checked;
 * - after keys exist, errors travel sealed (VollyError) and the unsealed close
 *   reason is the code's name only; before, a pq_response{success=false};
 * - LiveKit is dialed only after the sealed VollyConnect opened and its token
 *   verified (and, bound, matched the session key), with the sealed query.
 */
import type { IncomingMessage } from 'node:http';
import {
  CloseCode,
  closeCodeInfo,
  closeReason,
  encodeControl,
  encodeResponse,
  FrameKind,
  fromUtf8,
  ProtocolError,
  type SealedChannel,
  utf8,
  VollyError,
} from '@volly/shared';
import type WebSocket from 'ws';
import type { Grant } from '../authorize.js';
import { forwardedHeaders } from '../client-address.js';
import type { Context, Live } from '../context.js';
import { dial } from '../dial.js';
import { SessionAbortedError, StageTimeoutError } from '../errors.js';
import type { Slot } from '../limiter.js';
import { type Message, Relay, type RelayTransforms } from '../relay.js';
import { carriesToken, rewriteToken } from '../rewrite.js';
import { SessionRecord } from '../session.js';
import { tlsFactsOf } from '../tls.js';
import type { DialResult } from '../upstream.js';
import { Inbox } from './inbox.js';
import { MAX_EARLY, type V1Keyed, v1Handshake } from './v1.js';

/** The public name of a close code: all an unsealed close reason says once keys exist. */
const codeName = (code: number): string => closeCodeInfo(code).name;

export class PqSession implements Live {
  readonly record: SessionRecord;
  readonly #abort = new AbortController();
  readonly #inbox: Inbox;
  readonly #timer: ReturnType<typeof setTimeout>;
  #channel: SealedChannel | undefined;
  #relay: Relay | undefined;
  #ended = false;

  constructor(
    private readonly ctx: Context,
    private readonly ws: WebSocket,
    req: IncomingMessage,
    url: URL,
    client: string,
    private readonly slot: Slot,
  ) {
    this.record = new SessionRecord('pq', url.pathname, client, tlsFactsOf(req.socket), ctx.log, ctx.metrics);
    this.#inbox = new Inbox(ws, MAX_EARLY + 1, () => this.#fail(new ProtocolError('too many frames before the session opened')));
    ws.on('close', this.#onClose);
    ws.on('error', () => {});
    this.#timer = setTimeout(() => this.#fail(new StageTimeoutError('handshake timeout')), ctx.config.limits.handshakeTimeoutMs);
    this.#run(url, forwardedHeaders(req, client)).catch((err: unknown) => this.#fail(err));
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

  async #run(url: URL, headers: Record<string, string>): Promise<void> {
    const { ctx } = this;
    const signal = this.#abort.signal;
    const started = performance.now();
    const keyed = await v1Handshake({ ctx, ws: this.ws, inbox: this.#inbox, facts: this.record.facts, signal, keyed: (c) => (this.#channel = c) }, url);
    const grant = await this.#authorize(keyed);
    const token = await ctx.auth.downgrade(grant);
    signal.throwIfAborted();
    this.#handshakeDone();
    ctx.metrics.handshakeSeconds.observe(
      { protocol: 'v1', algorithm: keyed.algorithm, flow: this.record.facts.flow ?? 'in-band' },
      (performance.now() - started) / 1000,
    );
    const up = await dial(ctx, { mode: 'pq', path: url.pathname, query: keyed.connect.query, token, headers, signal });
    if (signal.aborted) {
      if (up.ok) up.ws.terminate();
      return;
    }
    if (!up.ok) {
      this.#failWith(CloseCode.Upstream, up.status || CloseCode.Upstream, up.body || 'LiveKit refused the connection');
      return;
    }
    this.#startRelay(up, keyed.channel, grant);
  }

  /** The sealed token (or, token-bound, the URL's), verified; a bound one must name this session's key. */
  async #authorize(keyed: V1Keyed): Promise<Grant> {
    // An empty sealed token means the URL's (token-bound); with neither, verify('') says "no access token".
    const grant = keyed.urlGrant && !keyed.connect.accessToken ? keyed.urlGrant : await this.ctx.auth.verify(keyed.connect.accessToken);
    this.#abort.signal.throwIfAborted();
    this.ctx.auth.checkBinding(grant, { algorithm: keyed.algorithm, publicKey: keyed.clientKey });
    Object.assign(this.record.facts, { room: grant.room, identity: grant.identity });
    return grant;
  }

  /** Hands both sockets to the relay; the inbox's unread frames go first, in the same tick it stops listening. */
  #startRelay(up: Extract<DialResult, { ok: true }>, channel: SealedChannel, grant: Grant): void {
    this.ws.off('close', this.#onClose);
    up.detach();
    this.#relay = new Relay(this.ws, up.ws, transforms(this.ctx, channel, grant), this.record, this.ctx.metrics, this.ctx.config.limits);
    this.#relay.start(up.early, this.#inbox.handOver());
  }

  /** Leaves the handshake: the timer stops and the slot goes back (once). */
  #handshakeDone(): void {
    clearTimeout(this.#timer);
    this.slot.release();
  }

  #fail(err: unknown): void {
    if (err instanceof VollyError) this.#failWith(err.closeCode, err.closeCode, err.message);
    else {
      this.ctx.log.error({ err: (err as Error)?.message }, 'unexpected handshake error');
      this.#failWith(CloseCode.Internal, CloseCode.Internal, 'internal error');
    }
  }

  /**
   * Ends a session that is not relaying: before keys a pq_response with
   * success=false, after them a sealed VollyError (`errorCode` may be
   * LiveKit's HTTP status); then close, wipe, record.
   */
  #failWith(closeCode: number, errorCode: number, message: string): void {
    if (this.#ended || this.#relay) return;
    this.#ended = true;
    this.#abort.abort(new SessionAbortedError('session ended'));
    this.#handshakeDone();
    this.#inbox.handOver();
    const channel = this.#channel;
    if (this.ws.readyState === this.ws.OPEN) {
      this.ws.send(
        channel
          ? channel.sealer.seal(FrameKind.Control, encodeControl({ case: 'error', code: errorCode, message }))
          : encodeResponse({ success: false, error: message }),
      );
    }
    channel?.destroy();
    this.ws.close(closeCode, closeReason(channel ? codeName(closeCode) : message));
    this.record.end(closeCode, message);
  }

  readonly #onClose = (code: number, reason: Buffer): void => {
    if (this.#ended) return;
    this.#ended = true;
    this.#abort.abort(new SessionAbortedError('client left'));
    this.#handshakeDone();
    this.#channel?.destroy();
    this.record.end(code === 1005 || code === 1006 ? 1000 : code, reason.toString() || 'client left during the handshake');
  };
}

/** The relay's PQ side: open client frames, seal LiveKit's, rewrite tokens, seal errors, wipe keys at the end. */
function transforms(ctx: Context, channel: SealedChannel, grant: Grant): RelayTransforms {
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
    publicReason: (code) => codeName(code),
    dispose: () => channel.destroy(),
  };
}
