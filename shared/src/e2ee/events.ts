/**
 * What a volly-e2ee.v1 party tells the app (docs/E2EE.md section 8): typed
 * events and counters. No event carries key bytes. A minimal emitter of its
 * own, so the module runs in browsers without node:events.
 */
import type { KemAlgorithm } from '../kem/types.js';
import type { RotateReason } from './rekey.js';

export interface E2eeEventMap {
  /** The own media key changed: `recipients` verified participants got it. */
  'key-rotated': { generation: number; keyIndex: number; reason: RotateReason; recipients: number; ms: number };
  'key-received': { identity: string; generation: number; keyIndex: number };
  'statement-verified': { identity: string; kemAlgorithm: KemAlgorithm; expiresAt: number };
  /** Its media is not decrypted and it gets no key. */
  'statement-rejected': { identity: string; reason: string };
  'statement-expired': { identity: string };
  /** No statement arrived in time: the participant is not end-to-end protected. */
  unprotected: { identity: string };
  'message-rejected': { identity: string; reason: string };
  error: { reason: string };
}

export type E2eeEventName = keyof E2eeEventMap;
type Listener<K extends E2eeEventName> = (e: E2eeEventMap[K]) => void;

export interface E2eeMetrics {
  keysRotated: number;
  sharesSent: number;
  sharesAccepted: number;
  sharesRejected: number;
  statementsVerified: number;
  statementsRejected: number;
}

export class E2eeEvents {
  readonly metrics: E2eeMetrics = { keysRotated: 0, sharesSent: 0, sharesAccepted: 0, sharesRejected: 0, statementsVerified: 0, statementsRejected: 0 };
  readonly #listeners = new Map<E2eeEventName, Set<(e: never) => void>>();

  on<K extends E2eeEventName>(name: K, fn: Listener<K>): () => void {
    const set = this.#listeners.get(name) ?? new Set();
    this.#listeners.set(name, set);
    set.add(fn as (e: never) => void);
    return () => set.delete(fn as (e: never) => void);
  }

  protected emit<K extends E2eeEventName>(name: K, e: E2eeEventMap[K]): void {
    for (const fn of this.#listeners.get(name) ?? []) {
      try {
        (fn as Listener<K>)(e);
      } catch {
        // A listener's failure is the app's; it must not stop key handling.
      }
    }
  }
}
