// Moved to ../protocol.js and ../token.js; re-exported so this module's exports stay as they were.
export { isSignalPath, isValidatePath, newSessionId, SESSION_ID_PARAM, SUBPROTOCOL } from '../protocol.js';
export { peekTokenPayload } from '../token.js';
export { createInstaller, type InstallOptions, validateStatus } from './install.js';
export type { PqSessionInfo } from './link.js';
export {
  type ClientMode,
  type ClientOutput,
  ClientSession,
  type ClientSessionOptions,
  type ClientState,
  failureFromControlError,
  type SessionFailure,
} from './session.js';
export { type SplitUrl, splitSignalUrl } from './url.js';
export { defaultServerKeyCache, ServerKeyCache, wellKnownUrlFor } from './v2-keys.js';
export { type PqProtocolChoice, PqWebSocket, type PqWebSocketOptions } from './websocket.js';
