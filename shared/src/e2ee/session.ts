/**
 * One participant's volly-e2ee.v1 state, independent of livekit-client
 * (./livekit.ts wires it to a Room): who has a verified statement, the own
 * media key and its generation, the last generation accepted per sender, and
 * the messages of docs/E2EE.md sections 6-8. Transport and key installation
 * are injected, so Node tests run three sessions over an in-memory relay.
 */
import { equalBytes } from '../bytes.js';
import type { KemAlgorithm } from '../kem/types.js';
import type { E2eeBackends } from './backends.js';
import { MEDIA_KEY_LENGTH } from './constants.js';
import { E2eeError, type E2eeErrorCode } from './errors.js';
import { E2eeEvents, type E2eeMetrics } from './events.js';
import { decodeKeyShare, keyIndexOf, openKeyShare, sealKeyShare } from './key-share.js';
import { decodeE2eeMessage, encodeAnnounce } from './messages.js';
import { type Clock, DEFAULT_REKEY_TIMINGS, RekeyPolicy, type RekeyTimings, type RotateReason, realClock } from './rekey.js';
import { decodeStatement, type Statement, verifyStatement } from './statement.js';

export interface E2eeTransport {
  /** A reliable data message on the volly-e2ee.v1 topic; `to` absent: everyone. */
  send(data: Uint8Array, to?: readonly string[]): Promise<void>;
}

export interface KeySink {
  /** Installs a media key for `identity` at `keyIndex`; for the own identity this also makes it the sending key. */
  setKey(identity: string, keyIndex: number, key: Uint8Array): Promise<void>;
}

export interface ParticipantSecrets {
  readonly kemAlgorithm: KemAlgorithm;
  readonly kemSecretKey: Uint8Array;
  readonly sigSecretKey: Uint8Array;
}

export interface E2eeSessionOptions extends Partial<RekeyTimings> {
  /** The own statement, as the token server signed it. */
  readonly statement: Uint8Array;
  readonly secrets: ParticipantSecrets;
  readonly verificationKeys: readonly Uint8Array[];
  /** The app context every statement must carry. */
  readonly context: string;
  /** Re-ask a participant without a statement after this long; report it unprotected after statementTimeoutMs. */
  readonly reaskMs?: number;
  readonly statementTimeoutMs?: number;
  readonly clock?: Clock;
}

interface Member {
  statement?: Statement;
  lastGeneration: number;
  timers: unknown[];
  pendingShare?: Uint8Array;
  /** The last statement refused, so a repeat is not reported again. */
  rejected?: Uint8Array;
}

export class E2eeSession extends E2eeEvents {
  readonly identity: string;
  readonly room: string;
  readonly #own: Statement;
  readonly #members = new Map<string, Member>();
  readonly #policy: RekeyPolicy;
  readonly #clock: Clock;
  #generation = 0;
  #chain: Promise<void> = Promise.resolve();
  #stopped = false;

  constructor(
    private readonly b: E2eeBackends,
    private readonly transport: E2eeTransport,
    private readonly sink: KeySink,
    private readonly opts: E2eeSessionOptions,
  ) {
    super();
    this.#own = decodeStatement(opts.statement);
    this.identity = this.#own.identity;
    this.room = this.#own.room;
    this.#clock = opts.clock ?? realClock;
    const timings = { ...DEFAULT_REKEY_TIMINGS, ...pickTimings(opts) };
    this.#policy = new RekeyPolicy(timings, (r) => this.#rotate(r), this.#clock);
  }

  get generation(): number {
    return this.#generation;
  }

  /** Identities whose statements verified and who get our keys. */
  verified(): string[] {
    return [...this.#members].filter(([, m]) => m.statement).map(([id]) => id);
  }

  /** Installs the first key and announces the own statement to everyone present. */
  async start(present: readonly string[] = []): Promise<void> {
    for (const id of present) this.participantJoined(id);
    await this.#rotateNow('start');
    await this.transport.send(encodeAnnounce(this.opts.statement, true));
  }

  participantJoined(id: string): void {
    if (this.#stopped || id === this.identity || this.#members.has(id)) return;
    const m: Member = { lastGeneration: 0, timers: [] };
    this.#members.set(id, m);
    const reask = this.#clock.setTimeout(() => {
      if (!m.statement && !m.rejected) this.#send(encodeAnnounce(this.opts.statement, true), [id]);
    }, this.opts.reaskMs ?? 3000);
    const give = this.#clock.setTimeout(() => {
      if (!m.statement && !m.rejected && this.#members.get(id) === m) this.emit('unprotected', { identity: id });
    }, this.opts.statementTimeoutMs ?? 5000);
    m.timers.push(reask, give);
  }

  participantLeft(id: string): void {
    const m = this.#members.get(id);
    if (!m) return;
    this.#drop(id, m);
    if (m.statement) this.#policy.left();
  }

  /** A data message on our topic from the LiveKit participant `from`. */
  async receive(bytes: Uint8Array, from: string): Promise<void> {
    if (this.#stopped || from === this.identity) return;
    try {
      const msg = decodeE2eeMessage(bytes);
      if (msg.type === 'announce') return this.#onAnnounce(msg.statement, msg.replyWanted, from);
      const m = this.#members.get(from);
      if (m && !m.statement) {
        m.pendingShare = msg.bytes; // the statement may still be on its way: open when it verifies
        return;
      }
      await this.#onShare(msg.bytes, from);
    } catch (err) {
      this.emit('message-rejected', { identity: from, reason: codeOf(err) });
    }
  }

  /** Forces a rotation now (the app's "rekey" button, tests). */
  rotateNow(reason: RotateReason = 'timer'): Promise<void> {
    return this.#rotateNow(reason);
  }

  stop(): void {
    this.#stopped = true;
    this.#policy.stop();
    for (const [id, m] of this.#members) this.#drop(id, m);
  }

  #onAnnounce(statementBytes: Uint8Array, replyWanted: boolean, from: string): void {
    if (replyWanted) this.#send(encodeAnnounce(this.opts.statement, false), [from]);
    this.participantJoined(from);
    const m = this.#members.get(from) as Member;
    let st: Statement;
    try {
      st = verifyStatement(this.b, statementBytes, {
        verificationKeys: this.opts.verificationKeys,
        room: this.room,
        context: this.opts.context,
        identity: from,
      });
    } catch (err) {
      if (m.statement) return; // a bad copy never replaces a verified statement
      if (m.rejected && equalBytes(m.rejected, statementBytes)) return;
      m.rejected = statementBytes.slice();
      this.metrics.statementsRejected++;
      this.emit('statement-rejected', { identity: from, reason: codeOf(err) });
      return;
    }
    if (m.statement && equalBytes(m.statement.bytes, st.bytes)) return;
    // A new statement (first, or the participant re-enabled E2EE with new keys): its generations start over,
    // replays of old shares fail on the old signing key, and it gets a fresh key from everyone.
    m.statement = st;
    m.lastGeneration = 0;
    m.rejected = undefined;
    this.metrics.statementsVerified++;
    this.emit('statement-verified', { identity: from, kemAlgorithm: st.kemAlgorithm, expiresAt: st.expiresAt });
    const untilExpiry = st.expiresAt * 1000 - Date.now();
    m.timers.push(this.#clock.setTimeout(() => m.statement === st && this.#expire(from, m), Math.max(0, Math.min(untilExpiry, 2 ** 31 - 1))));
    this.#policy.joined();
    const pending = m.pendingShare;
    m.pendingShare = undefined;
    if (pending) void this.#onShare(pending, from).catch((err) => this.emit('message-rejected', { identity: from, reason: codeOf(err) }));
  }

  async #onShare(bytes: Uint8Array, from: string): Promise<void> {
    const m = this.#members.get(from);
    let key: Uint8Array;
    let generation: number;
    try {
      const share = decodeKeyShare(bytes);
      if (share.sender !== from) throw new E2eeError('ERR_E2EE_BINDING', 'key share names another sender');
      key = openKeyShare(this.b, share, {
        me: this.identity,
        room: this.room,
        kemAlgorithm: this.#own.kemAlgorithm,
        kemSecretKey: this.opts.secrets.kemSecretKey,
        senderSigPublicKey: m?.statement?.sigPublicKey,
        lastGeneration: m?.lastGeneration ?? 0,
      });
      generation = share.generation;
    } catch (err) {
      this.metrics.sharesRejected++;
      throw err;
    }
    (m as Member).lastGeneration = generation;
    await this.sink.setKey(from, keyIndexOf(generation), key);
    key.fill(0);
    this.metrics.sharesAccepted++;
    this.emit('key-received', { identity: from, generation, keyIndex: keyIndexOf(generation) });
  }

  #expire(id: string, m: Member): void {
    if (this.#members.get(id) !== m) return;
    this.#drop(id, m);
    this.emit('statement-expired', { identity: id });
    this.#policy.expired();
  }

  #drop(id: string, m: Member): void {
    for (const t of m.timers) this.#clock.clearTimeout(t);
    this.#members.delete(id);
  }

  #rotate(reason: RotateReason): void {
    void this.#rotateNow(reason).catch((err) => this.emit('error', { reason: codeOf(err) }));
  }

  /** Rotations run one at a time, in order. */
  #rotateNow(reason: RotateReason): Promise<void> {
    const next = this.#chain.then(() => this.#doRotate(reason));
    this.#chain = next.catch(() => {});
    return next;
  }

  async #doRotate(reason: RotateReason): Promise<void> {
    if (this.#stopped) return;
    const started = Date.now();
    const generation = ++this.#generation;
    const key = this.b.randomBytes(MEDIA_KEY_LENGTH);
    const recipients = [...this.#members].filter(([, m]) => m.statement);
    await Promise.all(
      recipients.map(([id, m]) => {
        const st = m.statement as Statement;
        const share = sealKeyShare(
          this.b,
          { kemAlgorithm: st.kemAlgorithm, generation, room: this.room, sender: this.identity, recipient: id },
          { recipientKemPublicKey: st.kemPublicKey, senderSigSecretKey: this.opts.secrets.sigSecretKey, mediaKey: key },
        );
        this.metrics.sharesSent++;
        return this.transport.send(share, [id]);
      }),
    );
    const delay = this.#policy.switchDelay(reason);
    if (delay > 0) await new Promise((r) => this.#clock.setTimeout(() => r(undefined), delay));
    if (this.#stopped) return;
    await this.sink.setKey(this.identity, keyIndexOf(generation), key);
    key.fill(0);
    this.metrics.keysRotated++;
    this.#policy.rotated();
    this.emit('key-rotated', { generation, keyIndex: keyIndexOf(generation), reason, recipients: recipients.length, ms: Date.now() - started });
  }

  #send(data: Uint8Array, to: readonly string[]): void {
    void this.transport.send(data, to).catch(() => this.emit('error', { reason: 'ERR_E2EE_SEND' }));
  }
}

function pickTimings(o: Partial<RekeyTimings>): Partial<RekeyTimings> {
  const out: Record<string, number> = {};
  for (const k of ['joinDebounceMs', 'leaveDebounceMs', 'rotateEveryMs', 'switchDelayMs'] as const) if (o[k] !== undefined) out[k] = o[k];
  return out;
}

const codeOf = (err: unknown): E2eeErrorCode | string => (err instanceof E2eeError ? err.code : ((err as { code?: string })?.code ?? 'ERR_E2EE_INTERNAL'));

export type { E2eeMetrics };
