// Polling, the one way: tests wait for a condition they cannot be told about
// (a metric to move, a log line, a page to decode media) by asking again at
// an interval until a deadline, and fail with what they waited for and the
// last answer, not a bare timeout.

export interface UntilOptions {
  timeoutMs?: number;
  intervalMs?: number;
  /** Read before each try: a reason to give up at once (e.g. the process died), or undefined. */
  giveUp?: () => string | undefined;
  /** Appended to the timeout message (e.g. a log tail). */
  detail?: () => string;
}

/**
 * Polls `check` until it returns a truthy value, and returns it. A throw from
 * `check` counts as "not yet". Throws after the timeout (default 20 s, every
 * 250 ms) with `what` and the last value or error.
 */
export async function until<T>(
  what: string,
  check: () => T | undefined | false | null | Promise<T | undefined | false | null>,
  timeout: number | UntilOptions = 20_000,
  intervalMs = 250,
): Promise<T> {
  const o: UntilOptions = typeof timeout === 'number' ? { timeoutMs: timeout, intervalMs } : timeout;
  const timeoutMs = o.timeoutMs ?? 20_000;
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    const reason = o.giveUp?.();
    if (reason !== undefined) throw new Error(`${reason} while waiting for ${what}${o.detail?.() ?? ''}`);
    try {
      const v = await check();
      if (v) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}; last: ${last instanceof Error ? last.message : JSON.stringify(last)}${o.detail?.() ?? ''}`,
      );
    await new Promise((r) => setTimeout(r, o.intervalMs ?? 250));
  }
}
