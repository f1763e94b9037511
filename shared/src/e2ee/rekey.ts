/**
 * When a sender rotates its media key (docs/E2EE.md section 7), as a small
 * state machine with an injected clock, so the policy is tested without a
 * room: a leave rotates after `leaveDebounceMs` (default 0), joins are
 * coalesced over `joinDebounceMs`, and a timer rotates every `rotateEveryMs`.
 * A pending leave wins over a pending join (the shorter wait), and every
 * rotation restarts the timer.
 */
export type RotateReason = 'start' | 'join' | 'leave' | 'timer' | 'expiry';

export interface RekeyTimings {
  readonly joinDebounceMs: number;
  readonly leaveDebounceMs: number;
  readonly rotateEveryMs: number;
  /** Wait between sending a join/timer rotation's shares and using its key. */
  readonly switchDelayMs: number;
}

export const DEFAULT_REKEY_TIMINGS: RekeyTimings = Object.freeze({ joinDebounceMs: 300, leaveDebounceMs: 0, rotateEveryMs: 600_000, switchDelayMs: 250 });

export interface Clock {
  setTimeout(fn: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realClock: Clock = {
  setTimeout: (fn, ms) => setTimeout(fn, ms),
  clearTimeout: (h) => clearTimeout(h as ReturnType<typeof setTimeout>),
};

export class RekeyPolicy {
  #pending: { reason: RotateReason; due: number; handle: unknown } | undefined;
  #timer: unknown;
  #stopped = false;

  constructor(
    private readonly timings: RekeyTimings,
    private readonly rotate: (reason: RotateReason) => void,
    private readonly clock: Clock = realClock,
    private readonly now: () => number = Date.now,
  ) {}

  /** Arms the periodic timer (called after every rotation). */
  rotated(): void {
    if (this.#stopped) return;
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#timer = this.clock.setTimeout(() => this.#request('timer', 0), this.timings.rotateEveryMs);
  }

  joined(): void {
    this.#request('join', this.timings.joinDebounceMs);
  }

  left(): void {
    this.#request('leave', this.timings.leaveDebounceMs);
  }

  expired(): void {
    this.#request('expiry', 0);
  }

  /** Switch delay for a rotation of this reason: none when someone must be cut off at once. */
  switchDelay(reason: RotateReason): number {
    return reason === 'leave' || reason === 'expiry' || reason === 'start' ? 0 : this.timings.switchDelayMs;
  }

  stop(): void {
    this.#stopped = true;
    if (this.#pending) this.clock.clearTimeout(this.#pending.handle);
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#pending = undefined;
  }

  #request(reason: RotateReason, delayMs: number): void {
    if (this.#stopped) return;
    const due = this.now() + delayMs;
    const p = this.#pending;
    // One rotation covers every change before it; keep the earlier deadline, and a leave's reason.
    if (p && p.due <= due) {
      if (reason === 'leave' || reason === 'expiry') p.reason = reason;
      return;
    }
    if (p) this.clock.clearTimeout(p.handle);
    const keep = p && (p.reason === 'leave' || p.reason === 'expiry') ? p.reason : reason;
    const handle = this.clock.setTimeout(() => {
      this.#pending = undefined;
      this.rotate(keep);
    }, delayMs);
    this.#pending = { reason: keep, due, handle };
  }
}
