export { createInstaller, type InstallOptions, validateStatus } from './install.js';
export {
  type ClientMode,
  type ClientOutput,
  ClientSession,
  type ClientSessionOptions,
  type ClientState,
  failureFromControlError,
  newSessionId,
  type SessionFailure,
} from './session.js';
export { isSignalPath, isValidatePath, peekTokenPayload, SESSION_ID_PARAM, type SplitUrl, SUBPROTOCOL, splitSignalUrl } from './url.js';
export { type PqSessionInfo, PqWebSocket, type PqWebSocketOptions } from './websocket.js';
