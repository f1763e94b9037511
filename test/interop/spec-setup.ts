// Shared setup of the spec-client suites: a v2 static key file written as
// docs/cli.md describes it (secret key in seed form), and the real LiveKit
// with the real proxy in front holding that key.

import { randomBytes } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../harness/proxy.ts';
import { fetchWellKnown, type StaticKey } from './spec-client-v2.ts';
import * as c from './spec-crypto.ts';

/** LiveKit's own query for /rtc, as livekit-client builds it. */
export const QUERY = 'auto_subscribe=1&sdk=js&version=2.15.0&protocol=16';

const dir = mkdtempSync(join(tmpdir(), 'volly-spec-keys-'));

/** A fresh v2 static key file: `{algorithm, publicKey, secretKey: seed}`. */
export function staticKeyFile(algorithm: c.Alg): string {
  const seed = randomBytes(c.SIZES[algorithm].seed);
  const file = join(dir, `${algorithm}-${seed.subarray(0, 4).toString('hex')}.json`);
  writeFileSync(file, JSON.stringify({ algorithm, publicKey: c.b64u(c.keygen(algorithm, seed).publicKey), secretKey: c.b64u(seed) }));
  return file;
}

/** The section 7 binding claims for a key pair, valid for `ttlS` seconds (negative: already passed). */
export const bindClaims = (algorithm: c.Alg, kp: c.KeyPair, ttlS = 600) => ({
  pqPublicKey: c.b64u(kp.publicKey),
  pqAlgorithm: algorithm,
  pqKeyExpiry: Math.floor(Date.now() / 1000) + ttlS,
});

export interface SpecEnv {
  livekit: LiveKitServer;
  proxy: TestProxy;
  /** The proxy's one v2 key (X-Wing), as its document lists it. */
  key: StaticKey;
  keyPath: string;
  close(): Promise<void>;
}

export async function startSpecEnv(): Promise<SpecEnv> {
  const keyPath = staticKeyFile('X-Wing');
  const livekit = await startLiveKit();
  const proxy = await startTestProxy(livekit, { VOLLY_SERVER_KEYS: keyPath });
  const [key] = (await fetchWellKnown(proxy.url)) as [StaticKey];
  return {
    livekit,
    proxy,
    key,
    keyPath,
    async close() {
      await proxy.close();
      await livekit.stop();
    },
  };
}

/** The suite's environment, started before its tests and stopped after (fields are set in beforeAll). */
export function useSpecEnv(): SpecEnv {
  const env = {} as SpecEnv;
  beforeAll(async () => {
    Object.assign(env, await startSpecEnv());
  });
  afterAll(() => env.close?.());
  return env;
}
