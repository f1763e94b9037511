/**
 * What PqWebSocket (the browser-facing socket) needs from a protocol: a link
 * that opens the inner socket(s), runs one state machine (v1's ClientSession
 * or v2's ClientV2) and reports to its host. The host keeps everything the
 * application sees (readyState, events, the recorded failure), so both
 * protocols behave the same from the outside.
 */
import type { KemAlgorithm } from '../kem/types.js';
import type { SessionFailure } from './session.js';

export interface PqSessionInfo {
  readonly protocol: 'volly-pq.v1' | 'volly-pq.v2';
  /** v1: in-band | token-bound; v2: unbound | bound. */
  readonly mode: 'in-band' | 'token-bound' | 'unbound' | 'bound';
  readonly algorithm: KemAlgorithm;
  readonly sessionId: string | undefined;
  readonly fingerprint: string | undefined;
  readonly framesSealed: number;
  readonly framesOpened: number;
  /** Where the server keys came from: v1 pins (options, token, none); v2 static keys (options, document). */
  readonly serverKeysFrom: 'options' | 'token' | 'none' | 'document';
  /** Hex key id of the server key that authenticated this session (v1: the signer; v2: the static KEM key). */
  readonly serverKeyId: string | undefined;
  /** v2: new attempts made on its own (after 4421 or a sealed 4425). */
  readonly retries?: number;
}

export interface CloseInfo {
  readonly code: number;
  readonly reason: string;
  readonly wasClean: boolean;
}

export interface LinkHost {
  /** A LiveKit message opened: the first one opens the socket. */
  deliver(kind: number, payload: Uint8Array): void;
  /** Keys are confirmed and LiveKit frames may be sealed: on the agent path, where the worker speaks first, this opens the socket. */
  sendable?(): void;
  /** The session failed: record it and, unless `notify` is false, report it (the validate shim answers from it). */
  failed(failure: SessionFailure, notify?: boolean): void;
  /** The inner socket closed for good: fire error/close as the WebSocket API does. */
  finished(ev: CloseInfo): void;
  /** v2 found no server keys and nothing demands v2: carry on with v1. */
  fallbackToV1(): void;
}

export interface Link {
  send(data: string | Uint8Array): void;
  close(code: number, reason?: string): void;
  readonly bufferedAmount: number;
  readonly info: PqSessionInfo;
}
