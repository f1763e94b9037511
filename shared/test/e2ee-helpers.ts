/**
 * Shared by the e2ee unit tests: backends bound per crypto runtime, an app
 * signing key, participants with signed statements, and an in-memory relay
 * that stands where LiveKit's data channel stands (the adapter to the real
 * one is tested in test/e2e/e2ee*.test.ts).
 */
import * as browser from '../src/backend/browser.js';
import * as node from '../src/backend/node.js';
import type { E2eeBackends } from '../src/e2ee/backends.js';
import { type BoundE2ee, bindE2ee, E2eeSession, type ParticipantKeys, statementRequest } from '../src/e2ee/index.js';
import type { KemAlgorithm } from '../src/kem/types.js';

export const nodeBackends: E2eeBackends = {
  getKem: (a) => node.getKem(a),
  getSigner: (a) => node.getSigner(a),
  aead: node.getAead(),
  randomBytes: node.randomBytes,
};
export const nobleBackends: E2eeBackends = {
  getKem: (a) => browser.getKem(a),
  getSigner: (a) => browser.getSigner(a),
  aead: browser.getAead(),
  randomBytes: browser.randomBytes,
};
export const BACKENDS = { node: bindE2ee(nodeBackends), noble: bindE2ee(nobleBackends) } as const;

export const CONTEXT = 'test.example/e2ee';
export const ROOM = 'room-1';

export function appKey(e: BoundE2ee) {
  return e.backends.getSigner('ML-DSA-65').keygen();
}

export interface Party {
  readonly identity: string;
  readonly keys: ParticipantKeys;
  readonly statement: Uint8Array;
}

export function party(e: BoundE2ee, appSecretKey: Uint8Array, identity: string, kemAlgorithm: KemAlgorithm = 'X-Wing', room = ROOM): Party {
  const keys = e.makeParticipantKeys(kemAlgorithm);
  const b64 = e.signE2eeStatement({ appSecretKey, context: CONTEXT, room, identity, request: statementRequest(keys), ttlSeconds: 600 });
  return { identity, keys, statement: new Uint8Array(Buffer.from(b64, 'base64url')) };
}

/** A room of sessions joined by a relay; `keys` records every key each party installed, per sender. */
export class Relay {
  readonly sessions = new Map<string, E2eeSession>();
  readonly keys = new Map<string, Array<{ sender: string; keyIndex: number; key: Uint8Array }>>();
  readonly sent: Array<{ from: string; to?: readonly string[]; bytes: Uint8Array }> = [];

  constructor(
    private readonly e: BoundE2ee,
    private readonly verificationKeys: Uint8Array[],
    private readonly timings = { joinDebounceMs: 5, switchDelayMs: 1, reaskMs: 50, statementTimeoutMs: 100 },
  ) {}

  async join(p: Party): Promise<E2eeSession> {
    const installed: Array<{ sender: string; keyIndex: number; key: Uint8Array }> = [];
    this.keys.set(p.identity, installed);
    const s = new E2eeSession(
      this.e.backends,
      {
        send: async (bytes, to) => {
          this.sent.push({ from: p.identity, ...(to ? { to } : {}), bytes });
          for (const [id, other] of this.sessions)
            if (id !== p.identity && (!to || to.includes(id))) queueMicrotask(() => void other.receive(bytes, p.identity));
        },
      },
      { setKey: async (sender, keyIndex, key) => void installed.push({ sender, keyIndex, key: key.slice() }) },
      { statement: p.statement, secrets: p.keys, verificationKeys: this.verificationKeys, context: CONTEXT, ...this.timings },
    );
    const present = [...this.sessions.keys()];
    for (const other of this.sessions.values()) other.participantJoined(p.identity);
    this.sessions.set(p.identity, s);
    await s.start(present);
    return s;
  }

  leave(identity: string): void {
    this.sessions.get(identity)?.stop();
    this.sessions.delete(identity);
    for (const other of this.sessions.values()) other.participantLeft(identity);
  }

  /** The last key `receiver` installed for `sender`. */
  lastKey(receiver: string, sender: string): { keyIndex: number; key: Uint8Array } | undefined {
    return this.keys
      .get(receiver)
      ?.filter((k) => k.sender === sender)
      .at(-1);
  }

  close(): void {
    for (const s of this.sessions.values()) s.stop();
  }
}

export const settle = (ms = 30) => new Promise((r) => setTimeout(r, ms));

export async function until(what: string, check: () => boolean, ms = 5000): Promise<void> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await settle(10);
  }
}
