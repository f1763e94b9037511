/**
 * volly-e2ee.v1 sessions (../src/e2ee/session.ts) over an in-memory relay
 * standing where LiveKit's data channel stands: three parties get each
 * other's keys; a leave rotates every remaining sender's key and the leaver
 * never gets the new one; a joiner gets only a key made after it joined; a
 * party with a statement from another app key gets nothing and is reported;
 * a party without E2EE is reported unprotected. And the rekey policy alone,
 * on a fake clock.
 */
import { afterEach, describe, expect, test } from 'vitest';
import { DEFAULT_REKEY_TIMINGS, type E2eeSession, RekeyPolicy, type RotateReason } from '../src/e2ee/index.js';
import { appKey, BACKENDS, party, Relay, until } from './e2ee-helpers.js';

const relays: Relay[] = [];
afterEach(() => {
  for (const r of relays.splice(0)) r.close();
});

const eq = (a?: Uint8Array, b?: Uint8Array) => !!a && !!b && a.length === b.length && a.every((x, i) => x === b[i]);

describe.each(['node', 'noble'] as const)('three parties on %s', (backend) => {
  const e = BACKENDS[backend];
  const app = appKey(e);

  async function room() {
    const relay = new Relay(e, [app.publicKey]);
    relays.push(relay);
    const [a, b, c] = ['alice', 'bob', 'carol'].map((id) => party(e, app.secretKey, id));
    const sessions: Record<string, E2eeSession> = {};
    for (const p of [a, b, c]) sessions[p.identity] = await relay.join(p as NonNullable<typeof p>);
    // Everyone holds every other sender's current key.
    const agreed = () =>
      ['alice', 'bob', 'carol'].every((r) => ['alice', 'bob', 'carol'].every((s) => r === s || eq(relay.lastKey(r, s)?.key, relay.lastKey(s, s)?.key)));
    await until('all keys agreed', agreed);
    return { relay, sessions, agreed };
  }

  test('every party gets every other sender current key, at the same index', async () => {
    const { relay, sessions } = await room();
    for (const s of ['alice', 'bob', 'carol']) {
      const own = relay.lastKey(s, s);
      expect(own?.keyIndex).toBe(sessions[s]?.generation ? sessions[s].generation % 16 : -1);
      for (const r of ['alice', 'bob', 'carol']) if (r !== s) expect(relay.lastKey(r, s)?.keyIndex).toBe(own?.keyIndex);
    }
    expect(sessions.alice?.verified().sort()).toEqual(['bob', 'carol']);
    expect(sessions.alice?.metrics.statementsVerified).toBe(2);
  });

  test('a leave rotates every remaining key, and the leaver never gets the new ones', async () => {
    const { relay, sessions } = await room();
    const before = { alice: relay.lastKey('alice', 'alice')?.key, bob: relay.lastKey('bob', 'bob')?.key };
    const carolKnew = relay.keys.get('carol')?.map((k) => k.key) ?? [];
    const rotated: RotateReason[] = [];
    sessions.alice?.on('key-rotated', (ev) => rotated.push(ev.reason));
    relay.leave('carol');
    await until('alice and bob rotated and agreed', () => {
      const a = relay.lastKey('alice', 'alice')?.key;
      const b = relay.lastKey('bob', 'bob')?.key;
      return !eq(a, before.alice) && !eq(b, before.bob) && eq(relay.lastKey('bob', 'alice')?.key, a) && eq(relay.lastKey('alice', 'bob')?.key, b);
    });
    expect(rotated).toContain('leave');
    const now = [relay.lastKey('alice', 'alice')?.key, relay.lastKey('bob', 'bob')?.key];
    for (const k of now) expect(carolKnew.some((old) => eq(old, k))).toBe(false);
    // Nothing after the leave was addressed to carol.
    const afterLeave = relay.sent.slice(-4);
    expect(afterLeave.every((m) => !m.to?.includes('carol'))).toBe(true);
  });

  test('a joiner gets only a key made after it joined', async () => {
    const { relay } = await room();
    const aliceKeysBefore = (relay.keys.get('alice') ?? []).filter((k) => k.sender === 'alice').map((k) => k.key);
    await relay.join(party(e, app.secretKey, 'dave'));
    await until('dave has alice key', () => eq(relay.lastKey('dave', 'alice')?.key, relay.lastKey('alice', 'alice')?.key));
    const daveGot = (relay.keys.get('dave') ?? []).filter((k) => k.sender === 'alice').map((k) => k.key);
    for (const k of daveGot) expect(aliceKeysBefore.some((old) => eq(old, k))).toBe(false);
  });

  test('a statement signed by another app key: no key for it, none from it, the app is told', async () => {
    const { relay, sessions } = await room();
    const rejected: string[] = [];
    sessions.alice?.on('statement-rejected', (ev) => rejected.push(`${ev.identity} ${ev.reason}`));
    const mallory = party(e, appKey(e).secretKey, 'mallory');
    const m = await relay.join(mallory);
    await until('rejected', () => rejected.length > 0);
    expect(rejected[0]).toBe('mallory ERR_E2EE_SIGNATURE');
    await new Promise((r) => setTimeout(r, 100));
    expect(relay.sent.some((x) => x.to?.includes('mallory') && x.bytes[0] === 2)).toBe(false);
    expect(relay.keys.get('alice')?.some((k) => k.sender === 'mallory')).toBe(false);
    expect(relay.keys.get('mallory')?.some((k) => k.sender !== 'mallory')).toBe(false);
    expect(sessions.alice?.metrics.statementsRejected).toBe(1);
    // Mallory pins the real app key, so she sees the others and sends them shares: none is opened.
    expect(m.verified().sort()).toEqual(['alice', 'bob', 'carol']);
    expect(relay.sent.some((x) => x.from === 'mallory' && x.bytes[0] === 2)).toBe(true);
  });

  test('a participant that never announces is reported unprotected and gets no key', async () => {
    const { relay, sessions } = await room();
    const seen: string[] = [];
    sessions.bob?.on('unprotected', (ev) => seen.push(ev.identity));
    sessions.bob?.participantJoined('plain');
    await until('unprotected', () => seen.length > 0, 2000);
    expect(seen).toEqual(['plain']);
    expect(relay.sent.filter((x) => x.to?.includes('plain')).every((x) => x.bytes[0] === 1)).toBe(true);
  });

  test('a replayed old share is refused and the key stays', async () => {
    const { relay, sessions } = await room();
    const old = relay.sent.find((x) => x.from === 'alice' && x.to?.[0] === 'bob' && x.bytes[0] === 2);
    await sessions.alice?.rotateNow();
    await until('bob has alice new key', () => eq(relay.lastKey('bob', 'alice')?.key, relay.lastKey('alice', 'alice')?.key));
    const current = relay.lastKey('bob', 'alice')?.key;
    await sessions.bob?.receive(old?.bytes as Uint8Array, 'alice');
    expect(sessions.bob?.metrics.sharesRejected).toBe(1);
    expect(relay.lastKey('bob', 'alice')?.key).toEqual(current);
  });
});

describe('rekey policy (fake clock)', () => {
  function fake() {
    let now = 0;
    const timers = new Map<number, { at: number; fn: () => void }>();
    let id = 0;
    const clock = {
      setTimeout: (fn: () => void, ms: number) => {
        timers.set(++id, { at: now + ms, fn });
        return id;
      },
      clearTimeout: (h: unknown) => void timers.delete(h as number),
    };
    const advance = (ms: number) => {
      now += ms;
      for (;;) {
        const due = [...timers].filter(([, t]) => t.at <= now).sort((x, y) => x[1].at - y[1].at)[0];
        if (!due) return;
        timers.delete(due[0]);
        due[1].fn();
      }
    };
    return { clock, advance, now: () => now };
  }

  test('joins coalesce, a leave wins and goes at once, the timer rotates and restarts', () => {
    const f = fake();
    const got: RotateReason[] = [];
    const p = new RekeyPolicy(DEFAULT_REKEY_TIMINGS, (r) => got.push(r), f.clock, f.now);
    p.rotated();
    p.joined();
    f.advance(100);
    p.joined();
    f.advance(250);
    expect(got).toEqual(['join']);
    p.joined();
    p.left();
    f.advance(0);
    expect(got).toEqual(['join', 'leave']);
    f.advance(1000);
    expect(got).toEqual(['join', 'leave']);
    f.advance(DEFAULT_REKEY_TIMINGS.rotateEveryMs);
    expect(got).toEqual(['join', 'leave', 'timer']);
    expect(p.switchDelay('leave')).toBe(0);
    expect(p.switchDelay('join')).toBe(DEFAULT_REKEY_TIMINGS.switchDelayMs);
    p.stop();
    p.joined();
    f.advance(10_000_000);
    expect(got).toHaveLength(3);
  });
});
