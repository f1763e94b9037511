/** The proxy's own typed errors (jose style: one class per concept, a stable code, the close code it ends a session with). */
import { CloseCode, VollyError } from '@volly/shared';

/** A stage did not get what it waited for in time (handshake, first message). */
export class StageTimeoutError extends VollyError {
  readonly code = 'ERR_STAGE_TIMEOUT';
  override readonly closeCode = CloseCode.HandshakeTimeout;
}

/** The client left, the proxy drained or the session was ended while a stage was waiting. */
export class SessionAbortedError extends VollyError {
  readonly code = 'ERR_SESSION_ABORTED';
  override readonly closeCode = CloseCode.GoingAway;
}

/** An upgrade the pipeline refuses because of its URL (parameters a PQ upgrade must not carry). */
export class UpgradeUrlError extends VollyError {
  readonly code = 'ERR_UPGRADE_URL';
}

/** A server key file (VOLLY_SERVER_KEYS, `volly-pq keygen` output) that cannot be used; names the file, never key bytes. */
export class ServerKeyError extends Error {
  readonly code = 'ERR_SERVER_KEY';
}

/** A TLS certificate, key or group list that cannot be served; names the file or setting. */
export class TlsSettingError extends Error {
  readonly code = 'ERR_TLS_SETTING';
}
