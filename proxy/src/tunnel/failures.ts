/**
 * The refusals the tunnel saw, by token, for the SDK's validate request that
 * follows a failed upgrade (LiveKit's SDKs read the real reason from it).
 * Keyed by a SHA-256 of the token so no token sits in memory longer than the
 * request that carried it; a few dozen entries for a minute are plenty: the
 * SDK asks right after the failed upgrade.
 */
import { createHash } from 'node:crypto';
import type { SessionFailure } from '@volly/shared';

const MAX_ENTRIES = 64;
const TTL_MS = 60_000;

const keyOf = (token: string): string => createHash('sha256').update(token).digest('base64url');

export class FailureMemory {
  readonly #entries = new Map<string, { failure: SessionFailure; at: number }>();

  constructor(private readonly now: () => number = Date.now) {}

  remember(token: string, failure: SessionFailure): void {
    const key = keyOf(token);
    this.#entries.delete(key);
    this.#entries.set(key, { failure, at: this.now() });
    if (this.#entries.size > MAX_ENTRIES) this.#entries.delete(this.#entries.keys().next().value as string);
  }

  /** The failure recorded for this token within the last minute, if any. */
  recall(token: string): SessionFailure | undefined {
    const hit = this.#entries.get(keyOf(token));
    if (!hit || this.now() - hit.at > TTL_MS) return undefined;
    return hit.failure;
  }
}
