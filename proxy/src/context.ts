/** What every stage of the pipeline shares: settings, keys, logs, metrics, handshake slots, the live sessions. */
import type { Authorizer } from './authorize.js';
import type { Config } from './config.js';
import type { HandshakeLimiter } from './limiter.js';
import type { Logger } from './log.js';
import type { Metrics } from './metrics.js';

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
  /** Sessions from accept to end; drain walks it. */
  readonly live: Set<Live>;
  draining: boolean;
}
