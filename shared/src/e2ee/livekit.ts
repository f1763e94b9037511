/**
 * The livekit-client adapter: plugs an E2eeSession into a Room built with
 * `e2ee: { keyProvider: new BaseKeyProvider(PQ_KEY_PROVIDER_OPTIONS), worker }`.
 * Data messages on the volly-e2ee.v1 topic feed the session, membership
 * events drive rotation, and every media key goes into livekit-client's key
 * provider (per participant, key index = generation mod 16) as HKDF key
 * material, exactly as livekit-client's own createKeyMaterialFromBuffer does.
 * Typed structurally, so @volly/shared does not depend on livekit-client.
 */
import type { E2eeBackends } from './backends.js';
import { E2EE_TOPIC, KEY_RING_SIZE } from './constants.js';
import { E2eeError } from './errors.js';
import type { E2eeEventMap, E2eeEventName, E2eeMetrics } from './events.js';
import type { RotateReason } from './rekey.js';
import { E2eeSession, type E2eeSessionOptions } from './session.js';

/**
 * Key provider options for a volly-e2ee.v1 room: per-participant keys, no
 * auto-ratchet (a ratchet is computable by a leaver), never mark a key bad
 * (shares may arrive after the first frames), AES-256-GCM frames.
 */
export const PQ_KEY_PROVIDER_OPTIONS = Object.freeze({
  sharedKey: false,
  ratchetWindowSize: 0,
  failureTolerance: -1,
  keyringSize: KEY_RING_SIZE,
  keySize: 256,
});

interface KeyProviderLike {
  getOptions(): { sharedKey: boolean; ratchetWindowSize: number; keyringSize: number };
}

type Listener = (...args: never[]) => void;
/** What the adapter uses of livekit-client's Room. */
export interface LiveKitRoomLike {
  readonly name: string;
  readonly localParticipant: {
    readonly identity: string;
    publishData(data: Uint8Array, options: { reliable?: boolean; topic?: string; destinationIdentities?: string[] }): Promise<void>;
  };
  readonly remoteParticipants: ReadonlyMap<string, unknown>;
  readonly options: { readonly e2ee?: unknown };
  on(event: never, listener: Listener): unknown;
  off(event: never, listener: Listener): unknown;
  setE2EEEnabled(enabled: boolean): Promise<void>;
}

export interface EnablePqE2eeOptions extends Omit<E2eeSessionOptions, 'clock'> {
  /** The key provider the Room was built with (default: room.options.e2ee.keyProvider). */
  readonly keyProvider?: unknown;
  /** Where rotations and refusals are logged; null: nowhere. Default console.info. */
  readonly log?: ((line: string) => void) | null;
}

export interface PqE2eeHandle {
  readonly metrics: Readonly<E2eeMetrics>;
  readonly generation: number;
  on<K extends E2eeEventName>(name: K, fn: (e: E2eeEventMap[K]) => void): () => void;
  /** Identities that verified and get our keys. */
  verified(): string[];
  rotateNow(reason?: RotateReason): Promise<void>;
  /** Stops key handling and turns livekit-client's E2EE off. */
  disable(): Promise<void>;
}

function keyProviderOf(room: LiveKitRoomLike, given: unknown): KeyProviderLike & { onSetEncryptionKey: (k: CryptoKey, id: string, i: number) => void } {
  const kp = (given ?? (room.options.e2ee as { keyProvider?: unknown } | undefined)?.keyProvider) as Record<string, unknown> | undefined;
  if (!kp || typeof kp.onSetEncryptionKey !== 'function' || typeof kp.getOptions !== 'function') {
    throw new E2eeError('ERR_E2EE_CONFIG', 'the Room has no livekit-client key provider (Room options e2ee.keyProvider)');
  }
  const o = (kp as unknown as KeyProviderLike).getOptions();
  if (o.sharedKey || o.ratchetWindowSize !== 0 || o.keyringSize !== KEY_RING_SIZE) {
    throw new E2eeError('ERR_E2EE_CONFIG', 'the key provider must use PQ_KEY_PROVIDER_OPTIONS (per-participant keys, no ratchet, 16 slots)');
  }
  return kp as never;
}

/** Starts volly-e2ee.v1 on a connected Room and turns livekit-client's E2EE on. */
export async function enablePqE2ee(b: E2eeBackends, room: LiveKitRoomLike, opts: EnablePqE2eeOptions): Promise<PqE2eeHandle> {
  const provider = keyProviderOf(room, opts.keyProvider);
  const lp = room.localParticipant;
  const session = new E2eeSession(
    b,
    { send: (data, to) => lp.publishData(data, { reliable: true, topic: E2EE_TOPIC, ...(to ? { destinationIdentities: [...to] } : {}) }) },
    {
      async setKey(identity, keyIndex, key) {
        const material = await crypto.subtle.importKey('raw', key.slice(), 'HKDF', false, ['deriveBits', 'deriveKey']);
        provider.onSetEncryptionKey(material, identity, keyIndex);
      },
    },
    opts,
  );
  if (session.identity !== lp.identity || session.room !== room.name) {
    throw new E2eeError('ERR_E2EE_CONFIG', 'the statement is for another identity or room than this Room');
  }
  const log = opts.log === undefined ? (l: string) => console.info(l) : opts.log;
  if (log) {
    session.on('key-rotated', (e) =>
      log(`[volly-e2ee] key rotated: generation ${e.generation}, index ${e.keyIndex}, reason ${e.reason}, ${e.recipients} recipients`),
    );
    session.on('key-received', (e) => log(`[volly-e2ee] key received from ${e.identity}: generation ${e.generation}`));
    session.on('statement-rejected', (e) => log(`[volly-e2ee] statement of ${e.identity} rejected: ${e.reason}`));
    session.on('unprotected', (e) => log(`[volly-e2ee] ${e.identity} is not end-to-end protected`));
  }
  // The identity comes as the 6th argument too, when the participant object is not there yet.
  const onData = (payload: Uint8Array, participant?: { identity: string }, _kind?: unknown, topic?: string, _enc?: unknown, identity?: string) => {
    const from = participant?.identity ?? identity;
    if (topic === E2EE_TOPIC && from) void session.receive(payload, from);
  };
  const onJoin = (p: { identity: string }) => session.participantJoined(p.identity);
  const onLeave = (p: { identity: string }) => session.participantLeft(p.identity);
  const events: Array<[string, Listener]> = [
    ['dataReceived', onData as Listener],
    ['participantConnected', onJoin as Listener],
    ['participantDisconnected', onLeave as Listener],
    ['disconnected', (() => stop()) as Listener],
  ];
  const stop = () => {
    session.stop();
    for (const [name, fn] of events) room.off(name as never, fn);
  };
  for (const [name, fn] of events) room.on(name as never, fn);
  await session.start([...room.remoteParticipants.keys()]);
  await room.setE2EEEnabled(true);
  return {
    metrics: session.metrics,
    get generation() {
      return session.generation;
    },
    on: (name, fn) => session.on(name, fn),
    verified: () => session.verified(),
    rotateNow: (reason) => session.rotateNow(reason),
    async disable() {
      stop();
      await room.setE2EEEnabled(false);
    },
  };
}
