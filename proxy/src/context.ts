/** What every stage of the pipeline shares: settings, keys, logs, metrics, handshake slots, the live sessions. */
import type { Authorizer } from './authorize.js';
import type { Config } from './config.js';
import type { HandshakeLimiter } from './limiter.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';
import type { V2Server } from './pq/v2.js';

export interface Live {
  /** End the session now with this close code. */
  end(code: number, reason: string): void;
  /** Ask a relaying session to reconnect elsewhere (LiveKit leave), then end with 1001. */
  drain?(graceMs?: number): void;
}

export interface Context {
  readonly config: Config;
  readonly auth: Authorizer;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly limiter: HandshakeLimiter;
  /** volly-pq.v2's keys, register and key document; undefined when v2 is not served. */
  readonly v2?: V2Server;
  /** Sessions from accept to end; drain walks it. */
  readonly live: Set<Live>;
  draining: boolean;
}
