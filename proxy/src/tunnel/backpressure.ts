/**
 * Explicit backpressure between the two sockets of a session: when the side
 * being written to holds more than HIGH_WATER bytes unsent, the side being
 * read from is paused (ws `pause()`: it stops reading its TCP socket, so the
 * sender's own buffers fill and it slows), and resumed once the buffer has
 * drained below LOW_WATER. Polled while paused: neither PqWebSocket nor the
 * browser WebSocket API reports a drain.
 */
export const HIGH_WATER = 1024 * 1024;
export const LOW_WATER = 256 * 1024;
const POLL_MS = 10;

export class Valve {
  #timer: ReturnType<typeof setInterval> | undefined;

  constructor(
    private readonly buffered: () => number,
    private readonly pause: () => void,
    private readonly resume: () => void,
    private readonly onPause: () => void = () => {},
  ) {}

  get paused(): boolean {
    return this.#timer !== undefined;
  }

  /** Call after each write to the buffered side. */
  check(): void {
    if (this.#timer || this.buffered() <= HIGH_WATER) return;
    this.pause();
    this.onPause();
    this.#timer = setInterval(() => {
      if (this.buffered() > LOW_WATER) return;
      this.stop();
      this.resume();
    }, POLL_MS);
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
