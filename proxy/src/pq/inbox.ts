/**
 * The client's messages from accept until the relay takes the socket: one
 * FIFO that every stage reads in turn and the relay empties when it starts.
 *
 * Invariants:
 * - from the upgrade until `handOver()` this is the socket's only 'message'
 *   listener, and `handOver()` returns what is left and detaches in one
 *   synchronous step, so no frame is read twice, lost, or reordered —
 *   whatever arrives together (a VollyConnect and its early frames in one
 *   TCP write included);
 * - each message keeps its type (text or binary), so a text frame queued
 *   before the relay still ends the session with 4400;
 * - at most `limit` messages wait unread; one more calls `overflow`. Once
 *   the handshake has read its last message, `earlyOnly(n)` lowers the limit
 *   to the early frames the protocol allows.
 */
import type WebSocket from 'ws';
import type { RawData } from 'ws';
import { StageTimeoutError } from '../errors.js';
import { toBuffer } from '../relay.js';

export interface ClientMessage {
  readonly data: Buffer;
  readonly isBinary: boolean;
}

export class Inbox {
  #items: ClientMessage[] = [];
  #waiter: ((m: ClientMessage) => void) | undefined;
  #attached = true;

  constructor(
    private readonly ws: WebSocket,
    private limit: number,
    private readonly overflow: () => void,
  ) {
    ws.on('message', this.#onMessage);
  }

  readonly #onMessage = (data: RawData, isBinary: boolean): void => {
    const m = { data: toBuffer(data), isBinary };
    if (this.#waiter) {
      const w = this.#waiter;
      this.#waiter = undefined;
      w(m);
      return;
    }
    if (this.#items.length >= this.limit) {
      this.overflow();
      return;
    }
    this.#items.push(m);
  };

  /** The next message; rejects with `signal`'s reason on abort, or StageTimeoutError after `timeoutMs`. */
  next(signal: AbortSignal, timeoutMs?: number, what = 'client message'): Promise<ClientMessage> {
    const queued = this.#items.shift();
    if (queued) return Promise.resolve(queued);
    signal.throwIfAborted();
    return new Promise((resolve, reject) => {
      const timer = timeoutMs === undefined ? undefined : setTimeout(() => done(new StageTimeoutError(`no ${what} within ${timeoutMs} ms`)), timeoutMs);
      const onAbort = () => done(signal.reason);
      const done = (err: unknown, m?: ClientMessage) => {
        clearTimeout(timer);
        signal.removeEventListener('abort', onAbort);
        this.#waiter = undefined;
        if (m) resolve(m);
        else reject(err);
      };
      signal.addEventListener('abort', onAbort, { once: true });
      this.#waiter = (m) => done(undefined, m);
    });
  }

  /** From now on at most `n` messages may wait (the early frames after VollyConnect); more already waiting: overflow. */
  earlyOnly(n: number): void {
    this.limit = n;
    if (this.#items.length > n) this.overflow();
  }

  /** Stops listening and returns every unread message, in order: the relay's first client frames. */
  handOver(): ClientMessage[] {
    if (this.#attached) this.ws.off('message', this.#onMessage);
    this.#attached = false;
    const rest = this.#items;
    this.#items = [];
    return rest;
  }
}
