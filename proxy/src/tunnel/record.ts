/**
 * One tunnel session's log lines and metrics, like the proxy's
 * session-record.ts: `session_start` when the PQ session opened, `session_end`
 * when either side closed, `session_refused` when it never opened (with the
 * status the SDK got), `session_abandoned` when the SDK left first. Never the token: the only strings logged are the path,
 * the PQ session facts and close reasons with any token-shaped text redacted.
 */
import { closeCodeInfo, type PqSessionInfo, redactTokens, type SessionFailure, validateStatus } from '@volly/shared';
import type { Logger } from '../log.js';
import type { TunnelDirection, TunnelMetrics } from './metrics.js';

const short = (p: PqSessionInfo['protocol']) => (p === 'volly-pq.v2' ? 'v2' : 'v1');

export class TunnelSessionRecord {
  readonly #t0 = performance.now();
  #labels: { protocol: string; algorithm: string; mode: string } | undefined;
  #frames: Record<TunnelDirection, number> = { sdk_to_proxy: 0, proxy_to_sdk: 0 };

  constructor(
    private readonly log: Logger,
    private readonly metrics: TunnelMetrics,
    private readonly path: string,
    private readonly reconnect: boolean,
  ) {}

  #ms(): number {
    return Math.round(performance.now() - this.#t0);
  }

  opened(info: PqSessionInfo): void {
    this.#labels = { protocol: short(info.protocol), algorithm: info.algorithm, mode: info.mode };
    this.metrics.sessionsActive.inc(this.#labels);
    if (this.reconnect) this.metrics.reconnects.inc({ protocol: this.#labels.protocol });
    this.metrics.setupSeconds.observe({ protocol: this.#labels.protocol }, this.#ms() / 1000);
    this.log.info(
      {
        event: 'session_start',
        path: this.path,
        reconnect: this.reconnect,
        ...this.#labels,
        sessionId: info.sessionId,
        serverKeyId: info.serverKeyId,
        serverKeysFrom: info.serverKeysFrom,
        setupMs: this.#ms(),
      },
      'session start',
    );
  }

  frame(direction: TunnelDirection, bytes: number): void {
    this.#frames[direction]++;
    this.metrics.frames.inc({ direction });
    this.metrics.bytes.inc({ direction }, bytes);
  }

  paused(direction: TunnelDirection): void {
    this.metrics.pauses.inc({ direction });
  }

  /** The PQ session never opened; the SDK got `status` with the failure's message. */
  refused(protocol: PqSessionInfo['protocol'], failure: SessionFailure): void {
    const status = validateStatus(failure);
    this.metrics.failures.inc({ protocol: short(protocol), code: String(failure.closeCode), status: String(status) });
    this.metrics.sessionsTotal.inc({ protocol: short(protocol), algorithm: 'none', mode: 'none', outcome: 'refused' });
    this.log.warn(
      {
        event: 'session_refused',
        path: this.path,
        reconnect: this.reconnect,
        protocol: short(protocol),
        status,
        code: failure.closeCode,
        errorCode: failure.code,
        reason: redactTokens(failure.message).slice(0, 200),
        durationMs: this.#ms(),
      },
      'session refused',
    );
  }

  /** The SDK went away while its upgrade was held: the PQ session was closed before it opened. */
  abandoned(protocol: PqSessionInfo['protocol']): void {
    this.metrics.sessionsTotal.inc({ protocol: short(protocol), algorithm: 'none', mode: 'none', outcome: 'abandoned' });
    this.log.info(
      { event: 'session_abandoned', path: this.path, reconnect: this.reconnect, protocol: short(protocol), durationMs: this.#ms() },
      'session abandoned',
    );
  }

  /** The open session ended: `by` is the side that closed first. */
  ended(by: 'sdk' | 'proxy', code: number, reason: string): void {
    if (!this.#labels) return;
    const outcome = closeCodeInfo(code).outcome === 'closed' || code === 1000 || code === 1001 ? 'closed' : 'error';
    this.metrics.sessionsActive.dec(this.#labels);
    this.metrics.sessionsTotal.inc({ ...this.#labels, outcome });
    if (outcome === 'error') this.metrics.failures.inc({ protocol: this.#labels.protocol, code: String(code), status: 'none' });
    const line = {
      event: 'session_end',
      path: this.path,
      ...this.#labels,
      by,
      outcome,
      code,
      reason: redactTokens(reason).slice(0, 120),
      durationMs: this.#ms(),
      frames: this.#frames,
    };
    if (outcome === 'closed') this.log.info(line, 'session end');
    else this.log.warn(line, 'session end');
    this.#labels = undefined;
  }
}
