/**
 * The relay stage: moves messages between the client and LiveKit once both
 * sockets are open. The mode-specific work (opening and sealing frames, token
 * rewriting) comes in as two transforms; this module owns ordering,
 * backpressure, idle timeout and close propagation.
 *
 * Invariants:
 * - order is kept per direction, even when a token rewrite (async) is pending;
 * - at most `maxBufferedBytes` wait toward a peer: beyond it the other side's
 *   socket is paused, so a slow reader bounds the session's memory;
 * - after the first failing inbound frame nothing more is forwarded;
 * - the session record ends exactly once, with the code that ended it.
 */
import { DisconnectReason, LeaveRequest, LeaveRequest_Action, SignalResponse } from '@livekit/protocol';
import { CloseCode, closeReason, isSendableCloseCode, VollyError } from '@volly/shared';
import type WebSocket from 'ws';
import type { RawData } from 'ws';
import type { Limits } from './config.js';
import type { Direction, Metrics, Mode } from './metrics.js';
import type { ClientMessage } from './pq/inbox.js';
import type { SessionRecord } from './session-record.js';

export type Message = Uint8Array | string;

export interface RelayTransforms {
  /** Client frame → message for LiveKit; null to drop it; throws a VollyError to end the session. */
  fromClient(data: Buffer, isBinary: boolean): Message | null;
  /** LiveKit message → client frame (a sealed Buffer for PQ, the same message for classical). */
  toClient(message: Message): Message;
  /** Async rewrite for the rare messages that need it (tokens); null when none is needed. */
  rewrite(message: Message): Promise<Message> | null;
  /** A sealed error to send before closing, when the client can read one (PQ only). */
  closing?(code: number, reason: string): Message | null;
  /** The unsealed close reason the client may see (PQ: the code's name only; the detail went sealed). */
  publicReason?(code: number, reason: string): string;
  /** Called once when the session has ended: nothing is opened or sealed after it (PQ: wipes the keys). */
  dispose?(): void;
}

/** ws hands over a Buffer (fragments as Buffer[]; ArrayBuffer only with another binaryType). */
export const toBuffer = (data: RawData): Buffer => (Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data));
const toMessage = (data: RawData, isBinary: boolean): Buffer | string => (isBinary ? toBuffer(data) : toBuffer(data).toString('utf8'));

type Counter = { inc(n?: number): void };
type RelayCounters = Record<Direction, { readonly frames: Counter; readonly bytes: Counter }>;

/**
 * Metric children bound once per label set (mode × direction) and shared by
 * every session: not looked up by labels per frame, and not four bound
 * children (with their label objects) held by each idle session.
 */
const countersByMetrics = new WeakMap<Metrics, Map<Mode, RelayCounters>>();
function relayCounters(metrics: Metrics, mode: Mode): RelayCounters {
  let byMode = countersByMetrics.get(metrics);
  if (!byMode) {
    byMode = new Map();
    countersByMetrics.set(metrics, byMode);
  }
  let c = byMode.get(mode);
  if (!c) {
    const bind = (direction: Direction) => ({ frames: metrics.frames.labels({ mode, direction }), bytes: metrics.bytes.labels({ mode, direction }) });
    c = { client_to_upstream: bind('client_to_upstream'), upstream_to_client: bind('upstream_to_client') };
    byMode.set(mode, c);
  }
  return c;
}

/** A code a close frame may carry, else `fallback` (1005/1006/1015 only describe a close, never travel). */
const sendable = (code: number, fallback: number): number => (isSendableCloseCode(code) ? code : fallback);

/** Sends with a byte budget: pauses `source` while more than `high` bytes wait toward `dest`. */
class Flow {
  #pending = 0;
  #paused = false;
  constructor(
    private readonly dest: WebSocket,
    private readonly source: WebSocket,
    private readonly high: number,
  ) {}
  send(data: Message): void {
    // A peer already closing cannot take it: ws would build an Error per frame just to report that.
    if (this.dest.readyState !== this.dest.OPEN) return;
    const n = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
    this.#pending += n;
    this.dest.send(data, { binary: typeof data !== 'string' }, () => {
      this.#pending -= n;
      if (this.#paused && this.#pending <= this.high / 2) {
        this.#paused = false;
        this.source.resume();
      }
    });
    if (!this.#paused && this.#pending > this.high) {
      this.#paused = true;
      this.source.pause();
    }
  }
}

export class Relay {
  readonly #toUpstream: Flow;
  readonly #toClient: Flow;
  #tail: Promise<void> | null = null;
  #idle: ReturnType<typeof setTimeout> | undefined;
  #ended = false;
  readonly #counters: RelayCounters;
  #endCode = 1005;
  #endReason = '';

  constructor(
    private readonly client: WebSocket,
    private readonly upstream: WebSocket,
    private readonly t: RelayTransforms,
    private readonly record: SessionRecord,
    metrics: Metrics,
    private readonly limits: Limits,
  ) {
    this.#toUpstream = new Flow(upstream, client, limits.maxBufferedBytes);
    this.#toClient = new Flow(client, upstream, limits.maxBufferedBytes);
    this.#counters = relayCounters(metrics, record.mode);
  }

  /**
   * Starts relaying. `early` are LiveKit messages and `earlyClient` client
   * messages that arrived before the relay took over; both go first, in order.
   * Call it in the same tick as the caller stops listening to the client.
   */
  start(early: Array<[RawData, boolean]>, earlyClient: readonly ClientMessage[] = []): void {
    const { client, upstream } = this;
    this.record.relaying();
    for (const [d, b] of early) this.#fromUpstream(d, b);
    for (const m of earlyClient) this.#fromClient(m.data, m.isBinary);
    upstream.on('message', (d, b) => this.#fromUpstream(d, b));
    client.on('message', (d, b) => this.#fromClient(d, b));
    upstream.on('close', (code, reason) => this.#upstreamClosed(code, reason.toString()));
    client.on('close', (code, reason) => this.#clientClosed(code, reason.toString()));
    upstream.on('error', () => this.end(CloseCode.Upstream, 'LiveKit connection error'));
    client.on('error', (err) => this.end(errorCode(err), 'client connection error'));
    this.#touch();
  }

  /**
   * Drain: tell the client, in LiveKit's own words, to reconnect (a
   * LeaveRequest with action RECONNECT, which livekit-client answers with a
   * full reconnect through the load balancer to another proxy), then close
   * with 1001 once it has gone or after `graceMs`.
   */
  drain(graceMs = 2000): void {
    if (this.#ended) return;
    const leave = new SignalResponse({
      message: {
        case: 'leave',
        value: new LeaveRequest({ canReconnect: true, action: LeaveRequest_Action.RECONNECT, reason: DisconnectReason.SERVER_SHUTDOWN }),
      },
    }).toBinary();
    const send = () => this.#deliver(leave);
    if (this.#tail) void this.#tail.then(send);
    else send();
    const t = setTimeout(() => this.end(CloseCode.GoingAway, 'proxy draining; reconnect'), graceMs);
    t.unref?.();
  }

  /** Ends the session from our side: optional sealed error, close both ends. */
  end(code: number, reason: string): void {
    if (this.#ended) return;
    this.#ended = true;
    this.#endCode = code;
    this.#endReason = reason;
    clearTimeout(this.#idle);
    const notice = this.t.closing?.(code, reason);
    if (notice && this.client.readyState === this.client.OPEN) this.client.send(notice);
    this.t.dispose?.();
    this.client.close(sendable(code, CloseCode.Internal), closeReason(this.t.publicReason?.(code, reason) ?? reason));
    if (this.upstream.readyState <= this.upstream.OPEN) this.upstream.close(1000, 'client left');
    this.#finish(code, reason);
  }

  #finish(code: number, reason: string): void {
    // The record ends when the client socket is gone; a close handshake can take a moment.
    if (this.client.readyState === this.client.CLOSED) this.record.end(code, reason);
    else this.client.once('close', () => this.record.end(code, reason));
  }

  #count(direction: Direction, m: Message): void {
    const c = this.#counters[direction];
    c.frames.inc();
    c.bytes.inc(typeof m === 'string' ? Buffer.byteLength(m) : m.length);
  }

  /** Per client frame: restarts the one idle timer instead of allocating a new one. */
  #touch(): void {
    if (this.#idle) {
      this.#idle.refresh();
      return;
    }
    this.#idle = setTimeout(() => this.end(CloseCode.HandshakeTimeout, 'idle timeout'), this.limits.idleTimeoutMs);
    this.#idle.unref?.();
  }

  #fromClient(data: RawData, isBinary: boolean): void {
    if (this.#ended) return;
    this.#touch();
    let out: Message | null;
    try {
      out = this.t.fromClient(toBuffer(data), isBinary);
    } catch (err) {
      const e = err instanceof VollyError ? err : undefined;
      this.end(e?.closeCode ?? CloseCode.Malformed, e?.message ?? 'malformed frame');
      return;
    }
    if (out === null) return;
    this.#count('client_to_upstream', out);
    this.#toUpstream.send(out);
  }

  #fromUpstream(data: RawData, isBinary: boolean): void {
    if (this.#ended) return;
    const m = toMessage(data, isBinary);
    const pending = this.#tail ? null : this.t.rewrite(m);
    if (!this.#tail && !pending) {
      this.#deliver(m);
      return;
    }
    // Something async is in flight: keep order by chaining behind it.
    const prev = this.#tail ?? Promise.resolve();
    const next: Promise<void> = prev
      .then(() => pending ?? this.t.rewrite(m) ?? m)
      .then((out) => this.#deliver(out))
      .catch(() => this.end(CloseCode.Internal, 'token rewrite failed'))
      .finally(() => {
        if (this.#tail === next) this.#tail = null;
      });
    this.#tail = next;
  }

  #deliver(m: Message): void {
    if (this.#ended) return;
    this.#count('upstream_to_client', m);
    this.#toClient.send(this.t.toClient(m));
  }

  #upstreamClosed(code: number, reason: string): void {
    if (this.#ended) return;
    // Pass LiveKit's own close on; an abnormal drop becomes 4502.
    const flush = this.#tail ?? Promise.resolve();
    void flush.then(() =>
      this.end(code === 1006 || code === 1005 ? CloseCode.Upstream : code, reason || (code === 1006 ? 'LiveKit connection lost' : 'LiveKit closed')),
    );
  }

  #clientClosed(code: number, reason: string): void {
    if (this.#ended) {
      this.record.end(this.#endCode, this.#endReason);
      return;
    }
    this.#ended = true;
    clearTimeout(this.#idle);
    this.t.dispose?.();
    if (this.upstream.readyState <= this.upstream.OPEN) this.upstream.close(sendable(code, 1000), closeReason(reason));
    this.record.end(code, reason || 'client closed');
  }
}

function errorCode(err: Error & { code?: string }): number {
  return err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH' ? CloseCode.TooLarge : CloseCode.Malformed;
}
