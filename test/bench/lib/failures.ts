// Failed sessions, counted by why they failed, so that no failure hides in a
// figure: a scenario never dies of one failed session and never retries
// without saying so. Keys are short and stable, for summary.json and the
// report: "HTTP 429" (upgrade refused), "close 4400" (the socket or the
// sealed session closed with that code), "timeout" (no JoinResponse in
// time), "unexpected message", or "error ERR_..." for anything else.

/** Typed failures of one session, each with the report key it is counted under. */
export abstract class SessionError extends Error {
  abstract readonly key: string;
}

/** The upgrade was refused with an HTTP status (429 busy, 503 draining, 401 ...). */
export class HttpRefused extends SessionError {
  readonly status: number;
  readonly key: string;
  constructor(status: number) {
    super(`upgrade refused with HTTP ${status}`);
    this.status = status;
    this.key = `HTTP ${status}`;
  }
}

/** The socket closed, or the sealed session failed with a close code, before the JoinResponse. */
export class SessionClosed extends SessionError {
  readonly closeCode: number;
  readonly key: string;
  constructor(closeCode: number, detail: string) {
    super(`closed ${closeCode} before the JoinResponse${detail ? `: ${detail}` : ''}`);
    this.closeCode = closeCode;
    this.key = `close ${closeCode}`;
  }
}

export class JoinTimeout extends SessionError {
  readonly key = 'timeout';
  constructor(ms: number) {
    super(`no JoinResponse within ${ms} ms`);
  }
}

export class UnexpectedMessage extends SessionError {
  readonly key = 'unexpected message';
  constructor(kind: string | undefined) {
    super(`first LiveKit message is ${kind}, not join`);
  }
}

/** Failed sessions by key ("HTTP 429": 3, "close 4400": 1). */
export type FailureCounts = Record<string, number>;

/** The report key of any error a session ended with. */
export function failureKey(err: unknown): string {
  if (err instanceof SessionError) return err.key;
  const code = (err as { code?: unknown } | null)?.code;
  return `error ${typeof code === 'string' ? code : err instanceof Error ? err.name : 'unknown'}`;
}

export function countFailure(counts: FailureCounts, keyOrError: unknown): void {
  const key = typeof keyOrError === 'string' ? keyOrError : failureKey(keyOrError);
  counts[key] = (counts[key] ?? 0) + 1;
}

/** Adds every count of `from` into `into`; returns `into`. */
export function addCounts(into: FailureCounts, from: FailureCounts | undefined): FailureCounts {
  for (const [k, v] of Object.entries(from ?? {})) into[k] = (into[k] ?? 0) + v;
  return into;
}

export const totalFailures = (c: FailureCounts | undefined): number => Object.values(c ?? {}).reduce((a, b) => a + b, 0);

/** "3 × HTTP 429; 1 × close 4400", most frequent first; "none" when empty. */
export function describeCounts(c: FailureCounts | undefined): string {
  const e = Object.entries(c ?? {}).sort((a, b) => b[1] - a[1]);
  return e.length ? e.map(([k, v]) => `${v} × ${k}`).join('; ') : 'none';
}
