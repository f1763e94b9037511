/**
 * One record per client connection: it owns the session's log lines (one at
 * start, one at end with outcome, close code and duration) and its metrics.
 * It never holds a token or key, only what is safe to log.
 */
import { closeCodeInfo, type SessionOutcome } from '@volly/shared';
import type { Logger } from './log.js';
import type { Metrics, Mode } from './metrics.js';
import { type TlsFacts, tlsLabels } from './tls.js';

export type Outcome = SessionOutcome;

/** The metric/log outcome of a close code, from shared's one close-code table (labels unchanged). */
export const outcomeOf = (code: number): Outcome => closeCodeInfo(code).outcome;

export interface SessionFacts {
  sessionId?: string;
  algorithm?: string;
  room?: string;
  identity?: string;
  /** PQ wire protocol; classical sessions have none. */
  protocol?: 'v1' | 'v2';
  /** v1: in-band | token-bound; v2: unbound | bound (the token's PQ claims). */
  flow?: 'in-band' | 'token-bound' | 'unbound' | 'bound';
  /** The client connection's TLS, when the proxy terminates it (absent behind an ingress). */
  tlsVersion?: string;
  tlsGroup?: string;
}

export class SessionRecord {
  readonly startedAt = performance.now();
  readonly facts: SessionFacts = {};
  #relaying = false;
  #ended = false;
  constructor(
    readonly mode: Mode,
    readonly path: string,
    readonly remote: string,
    /** The TLS of the connection this session arrived on (undefined: plain HTTP, TLS ended before us). */
    readonly tls: TlsFacts | undefined,
    private readonly log: Logger,
    private readonly metrics: Metrics,
  ) {
    if (this.tls) Object.assign(this.facts, { tlsVersion: this.tls.version, tlsGroup: this.tls.group });
  }

  get algorithm(): string {
    return this.facts.algorithm ?? 'none';
  }

  /** Upstream is open: the session is live. Logs the start line. */
  relaying(): void {
    this.#relaying = true;
    // The facts live as long as the session: a hex id built by concatenation is a rope of 16 short
    // strings (~0.5 KiB); one flat copy of it is 56 bytes. (Hex is ASCII: latin1 copies it exactly.)
    if (this.facts.sessionId) this.facts.sessionId = Buffer.from(this.facts.sessionId, 'latin1').toString('latin1');
    this.metrics.sessionsActive.inc(this.#labels());
    this.log.info({ event: 'session_start', mode: this.mode, path: this.path, remote: this.remote, ...this.facts, setupMs: this.#elapsed() }, 'session start');
  }

  /** Logs the end line once, with the outcome derived from the close code. */
  end(code: number, reason: string, detail?: string): void {
    if (this.#ended) return;
    this.#ended = true;
    const outcome = outcomeOf(code);
    const labels = this.#labels();
    if (this.#relaying) this.metrics.sessionsActive.dec(labels);
    this.metrics.sessionsTotal.inc({ ...labels, outcome });
    this.metrics.sessionsTls.inc({ mode: this.mode, algorithm: this.algorithm, ...tlsLabels(this.tls) });
    if (outcome !== 'closed' && outcome !== 'drained') this.metrics.failures.inc({ ...labels, code: String(code) });
    const line = {
      event: 'session_end',
      mode: this.mode,
      path: this.path,
      remote: this.remote,
      ...this.facts,
      outcome,
      code,
      reason: reason.slice(0, 120),
      detail,
      durationMs: this.#elapsed(),
      relayed: this.#relaying,
    };
    if (outcome === 'closed' || outcome === 'drained') this.log.info(line, 'session end');
    else this.log.warn(line, 'session end');
  }

  /** Fixed when the session starts relaying or ends; the protocol is known from accept on. */
  #labels() {
    return { mode: this.mode, algorithm: this.algorithm, protocol: this.facts.protocol ?? 'none' };
  }

  #elapsed(): number {
    return Math.round(performance.now() - this.startedAt);
  }
}
