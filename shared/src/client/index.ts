export { createInstaller, type InstallOptions, validateStatus } from './install.js';
export { ClientSession, type ClientMode, type ClientOutput, type ClientSessionOptions, type ClientState, type SessionFailure, failureFromControlError } from './session.js';
export { isSignalPath, isValidatePath, peekTokenPayload, SUBPROTOCOL, type SplitUrl, splitSignalUrl } from './url.js';
export { PqWebSocket, type PqSessionInfo, type PqWebSocketOptions } from './websocket.js';
