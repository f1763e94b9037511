/**
 * Replay rules of volly-pq.v2 (docs/PROTOCOL.md, "Replay window and register"):
 * a first flight is fresh when its sealed timestamp lies within ±window of
 * the server's clock, and it may proceed only if its session id was never
 * registered before. A register entry must outlive the window: any replay
 * after it expires carries a timestamp the window already refuses.
 */
import { toHex } from '../bytes.js';
import { TIMESTAMP_WINDOW_MS } from './constants.js';
import { V2Error } from './errors.js';

export type Freshness = 'fresh' | 'stale';

/** Pure: is `timestampMs` within ±windowMs of `nowMs` (bounds included)? */
export function checkTimestamp(timestampMs: number, nowMs: number, windowMs = TIMESTAMP_WINDOW_MS): Freshness {
  return Math.abs(timestampMs - nowMs) <= windowMs ? 'fresh' : 'stale';
}

/**
 * Until when the register must remember a fresh flight's session id: the
 * moment its timestamp leaves the window, as measured by the server.
 */
export const registerExpiry = (timestampMs: number, windowMs = TIMESTAMP_WINDOW_MS): number => timestampMs + windowMs + 1;

/**
 * Clock correction after a stale refusal: the offset to add to the client's
 * clock, from the server's sealed time and the client's clock when it read it.
 */
export const clockOffset = (serverTimeMs: number, clientNowMs: number): number => serverTimeMs - clientNowMs;

/** The single-use register of session ids (in memory here; Redis SET NX PX for several replicas). */
export interface SessionRegister {
  /**
   * Records `sessionId` until `expiresAtMs` and returns true, or returns false
   * when it is already recorded and unexpired. Throws (or rejects) when it
   * cannot answer: the caller then refuses with RegisterUnavailable (fail closed).
   */
  claim(sessionId: Uint8Array, expiresAtMs: number): boolean | Promise<boolean>;
}

/**
 * One process's register. Expired entries are swept lazily; at `maxEntries`
 * live entries it refuses to answer (fail closed) rather than forget one.
 */
export class MemorySessionRegister implements SessionRegister {
  readonly #entries = new Map<string, number>();
  #nextSweep = 0;
  constructor(
    private readonly now: () => number = Date.now,
    private readonly maxEntries = 1_000_000,
  ) {}

  get size(): number {
    return this.#entries.size;
  }

  claim(sessionId: Uint8Array, expiresAtMs: number): boolean {
    const now = this.now();
    if (now >= this.#nextSweep || this.#entries.size >= this.maxEntries) this.#sweep(now);
    const key = toHex(sessionId);
    const seen = this.#entries.get(key);
    if (seen !== undefined && seen > now) return false;
    if (this.#entries.size >= this.maxEntries) throw new V2Error('ERR_V2_REGISTER', 'session register is full');
    this.#entries.set(key, expiresAtMs);
    return true;
  }

  #sweep(now: number): void {
    for (const [key, expiresAt] of this.#entries) if (expiresAt <= now) this.#entries.delete(key);
    this.#nextSweep = now + 1_000;
  }
}
