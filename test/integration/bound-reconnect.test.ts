// A token-bound client reconnects after its first token's exp, through the
// real proxy and the real LiveKit, with the token LiveKit refreshed (as
// livekit-client's signal reconnect does): the proxy re-signs the refresh with
// the session's binding, and a key that lives with its token (addPqClaims'
// default) follows the refreshed exp instead of expiring with the first token.
// An app's explicit, shorter key expiry still ends reconnects when it passes.

import { CloseCode, getKem, type KemKeyPair, readPqClaims } from '@volly/shared';
import { decodeJwt } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { kemKeyFile } from '../harness/key-files.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { connectPq, PqConnectError } from '../harness/pq-signal.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { connectV2, V2ConnectError } from '../harness/v2-signal.ts';

/** Long enough to join on a loaded machine, short enough to wait out. */
const TTL_S = 6;

let livekit: LiveKitServer;
let proxy: TestProxy;

beforeAll(async () => {
  const keyFile = kemKeyFile();
  livekit = await startLiveKit();
  // Leeway 0: the first token is refused the second its exp passes.
  proxy = await startTestProxy(livekit, { VOLLY_TOKEN_LEEWAY_S: '0', VOLLY_SERVER_KEYS: keyFile });
});
afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
});

interface Joined {
  readonly identity: string | undefined;
  waitForRefresh(): Promise<string>;
  close(): Promise<void>;
}

/** The two handshakes, each joining with a token bound to `kp`. */
const VERSIONS = {
  v1: async (token: string, kp: KemKeyPair): Promise<Joined> => {
    const sig = await connectPq(proxy.wsUrl, token, { keyPairs: [kp] });
    expect(sig.ws.pq.mode).toBe('token-bound');
    return { identity: sig.join.participant?.identity, waitForRefresh: () => sig.waitFor('refreshToken'), close: () => sig.close() };
  },
  v2: async (token: string, kp: KemKeyPair): Promise<Joined> => {
    const sig = await connectV2(proxy.wsUrl, token, { bound: { algorithm: 'X-Wing', keyPair: kp } });
    return { identity: sig.join.participant?.identity, waitForRefresh: () => sig.waitFor('refreshToken'), close: () => sig.close() };
  },
};

const closeCodeOf = (err: unknown) => (err instanceof PqConnectError || err instanceof V2ConnectError ? err.code : undefined);
const sleepUntil = (unixSeconds: number) => new Promise((r) => setTimeout(r, Math.max(0, unixSeconds * 1000 - Date.now())));
const pqKeyExpiryOf = (token: string) => (decodeJwt(token).video as Record<string, unknown>).pqKeyExpiry as number;

describe.each(Object.keys(VERSIONS) as (keyof typeof VERSIONS)[])('%s token-bound', (version) => {
  const connect = VERSIONS[version];

  it('reconnects after the first token’s exp with LiveKit’s refreshed token (default key expiry)', async () => {
    const room = `bound-reconnect-${version}-${Date.now().toString(36)}`;
    const kp = getKem('X-Wing').keygen();
    const first = await proxy.token(room, 'alice', { ttl: `${TTL_S}s`, bind: { algorithm: 'X-Wing', publicKey: kp.publicKey } });
    const firstExp = decodeJwt(first).exp as number;
    expect(pqKeyExpiryOf(first)).toBeGreaterThanOrEqual(firstExp);

    const session = await connect(first, kp);
    expect(session.identity).toBe('alice');
    const refreshed = await session.waitForRefresh();
    const claims = decodeJwt(refreshed);
    expect(claims.iss).toBe(proxy.apiKey);
    expect(claims.sub).toBe('alice');
    expect(claims.exp).toBeGreaterThan(firstExp);
    // The binding is kept, and its key expiry moved on with the refreshed token.
    expect(readPqClaims(claims as Record<string, unknown>)?.publicKey).toEqual(kp.publicKey);
    expect(pqKeyExpiryOf(refreshed)).toBeGreaterThanOrEqual(claims.exp as number);
    await session.close();

    await sleepUntil(firstExp + 1);
    // The first token is dead now (so the reconnect below rests on the refreshed one alone)…
    expect(
      closeCodeOf(
        await connect(first, kp).then(
          () => 'joined',
          (e: unknown) => e,
        ),
      ),
    ).toBe(CloseCode.Unauthorized);
    // …and the refreshed one, whose key expiry has not passed, joins as the same participant.
    expect(pqKeyExpiryOf(refreshed)).toBeGreaterThan(Date.now() / 1000);
    const again = await connect(refreshed, kp);
    expect(again.identity).toBe('alice');
    await again.close();
  }, 60_000);
});

describe('v1 token-bound, explicit key expiry', () => {
  it('an explicit expiry shorter than the token stays in the refreshed token and ends reconnects once it passes', async () => {
    const room = `bound-explicit-${Date.now().toString(36)}`;
    const kp = getKem('X-Wing').keygen();
    const keyExpiry = Math.floor(Date.now() / 1000) + TTL_S;
    const first = await proxy.token(room, 'bob', { ttl: '10m', bind: { algorithm: 'X-Wing', publicKey: kp.publicKey, keyExpiry } });
    const session = await VERSIONS.v1(first, kp);
    const refreshed = await session.waitForRefresh();
    expect(pqKeyExpiryOf(refreshed)).toBe(keyExpiry);
    await session.close();
    await sleepUntil(keyExpiry + 1);
    const err = await VERSIONS.v1(refreshed, kp).then(
      () => 'joined',
      (e: unknown) => e,
    );
    expect(closeCodeOf(err)).toBe(CloseCode.Unauthorized);
  }, 60_000);
});
