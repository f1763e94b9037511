/**
 * What a PQ session (session.ts) needs from its handshake stage, whichever
 * wire protocol it speaks (v1.ts, v2.ts): the stage runs from the accepted
 * upgrade to an authorized request with keys, and hands back the sealed
 * request LiveKit is to see and the session's frame crypto.
 */
import { FrameKind, fromUtf8, ProtocolError, type SealedChannel, type v2 } from '@volly/shared';
import type { Grant } from '../authorize.js';
import type { Context } from '../context.js';
import type { Message } from '../relay.js';
import type { SessionFacts } from '../session-record.js';
import type { DialResult } from '../upstream.js';
import type { Inbox } from './inbox.js';

/** The session's keys, as the relay and the error path use them. */
export interface SessionCrypto {
  /** A client frame → the message for LiveKit, or null for one that carries none (v2's key confirmation); throws a VollyError. */
  open(data: Buffer): Message | null;
  seal(kind: FrameKind, payload: Uint8Array): Uint8Array;
  /** Wipes the keys (idempotent). */
  destroy(): void;
  /** False while the client has yet to prove it derived the keys (v2 unbound relays before that); absent: proved by the handshake. */
  readonly confirmed?: () => boolean;
}

export interface StageIo {
  readonly ctx: Context;
  readonly ws: { send(data: Uint8Array): void };
  readonly inbox: Inbox;
  readonly facts: SessionFacts;
  readonly signal: AbortSignal;
  /** Called as soon as keys exist: from then on the session's errors are sealed, and it wipes them at the end. */
  readonly keyed: (crypto: SessionCrypto) => void;
}

export interface StageResult {
  readonly algorithm: string;
  readonly grant: Grant;
  /** LiveKit's path and query: from the upgrade URL (v1) or the sealed early frame (v2). */
  readonly path: string;
  readonly query: string;
  readonly crypto: SessionCrypto;
  /** v2 unbound: the dial already started (with the token re-signed before the upgrade). */
  readonly dialed?: Promise<DialResult>;
}

export interface Stage {
  readonly protocol: 'v1' | 'v2';
  /** When the stage started (v2 begins before the upgrade is answered), for the handshake duration. */
  readonly startedAt: number;
  /** What an unkeyed refusal sends before the close (v1: pq_response); v2 says it by the close code alone. */
  refusal(message: string): Uint8Array | undefined;
  run(io: StageIo, url: URL): Promise<StageResult>;
}

/** A LiveKit message from an opened frame: binary as bytes, text as a string (which must be UTF-8). */
export function liveKitMessage(kind: FrameKind, payload: Uint8Array): Message {
  if (kind === FrameKind.LiveKitBinary) return payload;
  if (kind === FrameKind.LiveKitText) {
    try {
      return fromUtf8(payload);
    } catch {
      throw new ProtocolError('text frame is not UTF-8');
    }
  }
  throw new ProtocolError('unexpected VollyControl after connect');
}

// Classes rather than objects of closures: a relaying session holds one small
// object for its keys, the methods are shared by all sessions.

/** v1: every client frame after VollyConnect is a LiveKit message. */
class ChannelCrypto implements SessionCrypto {
  constructor(private readonly channel: SealedChannel) {}
  open(data: Buffer): Message {
    // The received buffer is the relay's alone: open in place, no copy per frame.
    const { kind, payload } = this.channel.opener.openInPlace(data);
    return liveKitMessage(kind, payload);
  }
  seal(kind: FrameKind, payload: Uint8Array): Uint8Array {
    return this.channel.sealer.seal(kind, payload);
  }
  destroy(): void {
    this.channel.destroy();
  }
}

export const channelCrypto = (channel: SealedChannel): SessionCrypto => new ChannelCrypto(channel);

/** v2: the first client frame is the key confirmation (no message); the rest are LiveKit messages. */
class V2Crypto implements SessionCrypto {
  constructor(private readonly session: v2.ServerSessionV2) {}
  open(data: Buffer): Message | null {
    const r = this.session.open(data);
    return r.type === 'confirmed' ? null : liveKitMessage(r.kind, r.payload);
  }
  seal(kind: FrameKind, payload: Uint8Array): Uint8Array {
    return this.session.seal(kind, payload);
  }
  destroy(): void {
    this.session.destroy();
  }
  confirmed(): boolean {
    return this.session.confirmed;
  }
}

export const sessionV2Crypto = (session: v2.ServerSessionV2): SessionCrypto => new V2Crypto(session);
