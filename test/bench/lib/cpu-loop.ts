// What the tight-loop CPU scenarios (handshake.ts, handshake-v2.ts) share:
// the clock, and a warm-up long enough that the measured rounds see
// steady-state code. Process CPU counts every thread, V8's background
// compiler included: with only a few warm-up calls, the first combination
// measured paid for TurboFan compiling the code under test (the 23:44Z run
// gave ML-KEM-768 187 µs with rounds from 84 to 231 µs).

/** Process CPU time (user + system, all threads), µs. */
export const cpuNow = (): number => {
  const u = process.cpuUsage();
  return u.user + u.system;
};

/**
 * Handshakes are prepared and timed this many at a time: what a chunk keeps
 * alive (client flights, results) is what each scavenge in the timed loop
 * copies, so a whole batch alive at once made the figure grow with the
 * batch size (v2 ML-KEM-768: 208 or 279 µs, batches of 1,945 and 953).
 */
export const CHUNK = 64;

/** At least this much CPU goes to warm-up rounds before a combination is measured. */
export const WARM_UP_CPU_US = 400_000;

/**
 * Runs `round` (a small batch) until WARM_UP_CPU_US of CPU has gone into it
 * (and at least twice); returns the last round's result, the warm estimate a
 * batch size is computed from.
 */
export async function warmUp<T>(round: () => T | Promise<T>): Promise<T> {
  const t0 = cpuNow();
  let last = await round();
  for (let n = 1; n < 2 || cpuNow() - t0 < WARM_UP_CPU_US; n++) last = await round();
  return last;
}
