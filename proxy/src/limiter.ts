/**
 * Handshake slots: the one owner of how many PQ handshakes run at once, and
 * of who waits for one.
 *
 * Invariants:
 * - at most `maxHandshakes` slots are held; a slot is released exactly once;
 * - one source address holds at most `maxHandshakesPerSource` slots plus
 *   queued waits, so one address cannot take every slot or fill the queue;
 * - beyond the slots, upgrades wait in FIFO order (at most `handshakeQueue`
 *   of them, each until `handshakeTimeoutMs`) instead of an immediate 429: a
 *   reconnect storm is served a little later rather than refused and retried;
 * - a waiter whose client left leaves the queue and its share is returned at once.
 */
import type { Limits } from './config.js';
import type { Metrics } from './metrics.js';

export interface Slot {
  /** Gives the slot back (idempotent) and admits the next waiter. */
  release(): void;
}

export type Admission = { readonly ok: true; readonly slot: Slot } | { readonly ok: false; readonly reason: 'busy' | 'source' | 'gone' };

interface Waiter {
  readonly source: string;
  readonly resolve: (a: Admission) => void;
  readonly timer: ReturnType<typeof setTimeout>;
  settled: boolean;
}

export class HandshakeLimiter {
  #active = 0;
  #queued = 0;
  readonly #bySource = new Map<string, number>();
  readonly #queue: Waiter[] = [];

  constructor(
    private readonly limits: Pick<Limits, 'maxHandshakes' | 'maxHandshakesPerSource' | 'handshakeQueue' | 'handshakeTimeoutMs'>,
    private readonly metrics: Metrics,
  ) {}

  get active(): number {
    return this.#active;
  }

  /**
   * A slot now, a wait for one, or a refusal. `gone` registers the caller's
   * "client left" event: a waiting upgrade is then dropped from the queue.
   */
  admit(source: string, gone: (cb: () => void) => void): Admission | Promise<Admission> {
    if ((this.#bySource.get(source) ?? 0) >= this.limits.maxHandshakesPerSource) return this.#refuse('source');
    if (this.#active < this.limits.maxHandshakes && this.#queued === 0) return this.#grant(source);
    if (this.#queued >= this.limits.handshakeQueue) return this.#refuse('busy');
    this.#hold(source);
    this.#queued++;
    this.metrics.handshakesQueued.set(this.#queued);
    this.metrics.handshakeQueue.inc({ result: 'queued' });
    return new Promise((resolve) => {
      const waiter: Waiter = {
        source,
        resolve,
        settled: false,
        timer: setTimeout(() => this.#leaveQueue(waiter, 'expired', { ok: false, reason: 'busy' }), this.limits.handshakeTimeoutMs),
      };
      this.#queue.push(waiter);
      gone(() => this.#leaveQueue(waiter, 'gone', { ok: false, reason: 'gone' }));
    });
  }

  #refuse(reason: 'busy' | 'source'): Admission {
    this.metrics.handshakeRefusals.inc({ reason });
    return { ok: false, reason };
  }

  #hold(source: string): void {
    this.#bySource.set(source, (this.#bySource.get(source) ?? 0) + 1);
  }

  #unhold(source: string): void {
    const n = (this.#bySource.get(source) ?? 1) - 1;
    if (n <= 0) this.#bySource.delete(source);
    else this.#bySource.set(source, n);
  }

  #grant(source: string, held = false): Admission {
    if (!held) this.#hold(source);
    this.#active++;
    this.metrics.handshakesActive.set(this.#active);
    let released = false;
    return {
      ok: true,
      slot: {
        release: () => {
          if (released) return;
          released = true;
          this.#active--;
          this.#unhold(source);
          this.metrics.handshakesActive.set(this.#active);
          this.#next();
        },
      },
    };
  }

  /** Leaves the queue without a slot: deadline passed or the client left. */
  #leaveQueue(w: Waiter, result: 'expired' | 'gone', admission: Admission): void {
    if (w.settled) return;
    this.#settle(w);
    // Out of the array now (at most handshakeQueue entries), so clients that come and go cannot grow it.
    this.#queue.splice(this.#queue.indexOf(w), 1);
    this.#unhold(w.source);
    this.metrics.handshakeQueue.inc({ result });
    if (result === 'expired') this.metrics.handshakeRefusals.inc({ reason: 'busy' });
    w.resolve(admission);
  }

  #settle(w: Waiter): void {
    w.settled = true;
    clearTimeout(w.timer);
    this.#queued--;
    this.metrics.handshakesQueued.set(this.#queued);
  }

  /** Hands freed slots to the oldest live waiters. */
  #next(): void {
    while (this.#active < this.limits.maxHandshakes && this.#queue.length > 0) {
      const w = this.#queue.shift() as Waiter;
      this.#settle(w);
      this.metrics.handshakeQueue.inc({ result: 'admitted' });
      w.resolve(this.#grant(w.source, true));
    }
  }
}
