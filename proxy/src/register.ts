/**
 * The single-use register of v2 session ids (docs/PROTOCOL.md, "Replay window
 * and register"): a first flight may reach LiveKit only if its session id was
 * never claimed before. One proxy keeps it in memory; replicas share Redis
 * (VOLLY_REDIS_URL) with `SET volly:v2:sid:<hex> 1 NX PX <ms>`.
 *
 * Fail closed: a register that cannot answer within REGISTER_TIMEOUT_MS (Redis
 * down, slow, or the memory register full) throws, and the caller refuses the
 * flight with 4503. An unknown answer is never taken as "not seen".
 */
import { toHex, v2 } from '@volly/shared';
import { Redis } from 'ioredis';
import type { Logger } from './log.js';

/** How long one claim may take before the flight is refused (the join waits on it). */
export const REGISTER_TIMEOUT_MS = 500;
const KEY_PREFIX = 'volly:v2:sid:';

export interface Register extends v2.SessionRegister {
  readonly kind: 'memory' | 'redis';
  close(): Promise<void>;
}

export class RegisterUnavailableError extends Error {
  readonly code = 'ERR_REGISTER_UNAVAILABLE';
}

class MemoryRegister implements Register {
  readonly kind = 'memory';
  readonly #inner = new v2.MemorySessionRegister();
  claim(sessionId: Uint8Array, expiresAtMs: number): boolean {
    return this.#inner.claim(sessionId, expiresAtMs);
  }
  async close(): Promise<void> {}
}

class RedisRegister implements Register {
  readonly kind = 'redis';
  readonly #client: Redis;

  constructor(url: string, log: Logger) {
    this.#client = new Redis(url, {
      // A command waits for no reconnect: a register that is down must refuse now, not after it is back.
      maxRetriesPerRequest: 0,
      commandTimeout: REGISTER_TIMEOUT_MS,
      connectTimeout: 2_000,
      retryStrategy: (attempt) => Math.min(attempt * 200, 2_000),
    });
    let down = false;
    this.#client.on('error', (err: Error) => {
      // Logged once per outage, without the URL (it may hold a password).
      if (!down) log.warn({ event: 'register_unavailable', err: (err as NodeJS.ErrnoException).code ?? 'error' }, 'v2 session register (Redis) unavailable');
      down = true;
    });
    this.#client.on('ready', () => {
      if (down) log.info({ event: 'register_ready' }, 'v2 session register (Redis) back');
      down = false;
    });
  }

  async claim(sessionId: Uint8Array, expiresAtMs: number): Promise<boolean> {
    const ttl = Math.max(1, Math.ceil(expiresAtMs - Date.now()));
    let timer: ReturnType<typeof setTimeout> | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new RegisterUnavailableError('session register did not answer in time')), REGISTER_TIMEOUT_MS);
    });
    try {
      const reply = await Promise.race([this.#client.set(KEY_PREFIX + toHex(sessionId), '1', 'PX', ttl, 'NX'), timeout]);
      // OK: claimed now. null: already there. Anything else is not an answer.
      if (reply === 'OK') return true;
      if (reply === null) return false;
      throw new RegisterUnavailableError('unexpected reply from the session register');
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    this.#client.disconnect();
  }
}

/** Redis when `redisUrl` is set, else this process's memory. */
export function createRegister(redisUrl: string | undefined, log: Logger): Register {
  return redisUrl ? new RedisRegister(redisUrl, log) : new MemoryRegister();
}
