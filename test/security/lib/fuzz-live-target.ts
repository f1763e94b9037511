// The target under fuzz: a real LiveKit, the proxy in this process or in a
// worker thread of it, the victim's and the open identity's tokens, and seeds
// recorded from real sessions through the proxy.

import { Worker } from 'node:worker_threads';
import { getKem, type KemAlgorithm, type KemKeyPair, splitSignalUrl, toBase64Url } from '@volly/shared';
import type { VideoGrant } from 'livekit-server-sdk';
import { type LiveKitServer, startLiveKit } from '../../harness/livekit.ts';
import { startTestProxy } from '../../harness/proxy.ts';
import { openRawPq } from '../../harness/raw-pq.ts';
import { signalUrl } from '../../harness/signal.ts';
import { type Credentials, token } from '../../harness/tokens.ts';
import { ALGS, type FuzzTarget, type ProxyEndpoint, type Seeds } from './fuzz-live-types.ts';
import type { TokenKeys } from './token-arbs.ts';

/** Fuzz tokens may update their metadata (the watcher's oracle); a bound key lives 4 h. */
export function mint(
  creds: Credentials,
  identity: string,
  room: string,
  ttl = '4h',
  grant: VideoGrant = {},
  bind?: { algorithm: KemAlgorithm; publicKey: Uint8Array; keyExpiry?: number },
): Promise<string> {
  return token(creds, room, identity, {
    ttl,
    grant: { canUpdateOwnMetadata: true, ...grant },
    ...(bind && { bind: { ...bind, keyExpiry: bind.keyExpiry ?? Math.floor(Date.now() / 1000) + 4 * 3600 } }),
  });
}

const PROXY_ENV = { VOLLY_LOG_LEVEL: 'error', VOLLY_HANDSHAKE_TIMEOUT_MS: '5000' };

async function proxyInProcess(livekit: LiveKitServer, env: Record<string, string>): Promise<ProxyEndpoint> {
  const p = await startTestProxy(livekit, { ...PROXY_ENV, ...env });
  return {
    host: '127.0.0.1',
    port: p.proxy.port,
    wsUrl: p.wsUrl,
    adminUrl: p.adminUrl,
    apiKey: p.apiKey,
    apiSecret: p.apiSecret,
    maxFrameBytes: p.config.limits.maxFrameBytes,
    where: 'process',
    crashes: [],
    exited: () => false,
    close: () => p.close(),
  };
}

async function proxyInWorker(livekit: LiveKitServer, env: Record<string, string>): Promise<ProxyEndpoint> {
  const worker = new Worker(new URL('./proxy-worker.ts', import.meta.url), {
    workerData: { livekit: { url: livekit.url, apiKey: livekit.apiKey, apiSecret: livekit.apiSecret }, env: { ...PROXY_ENV, ...env } },
  });
  const crashes: string[] = [];
  let exited = false;
  let onClosed: (() => void) | undefined;
  worker.on('error', (err) => crashes.push(`worker error: ${err.stack ?? err.message}`));
  worker.on('exit', () => {
    exited = true;
    onClosed?.();
  });
  const ready = await new Promise<{ port: number; adminPort: number; apiKey: string; apiSecret: string; maxFrameBytes: number }>((resolve, reject) => {
    worker.on('message', (m: { type: string; message?: string }) => {
      if (m.type === 'ready') resolve(m as never);
      if (m.type === 'crash') crashes.push(m.message ?? '');
    });
    worker.once('exit', (code) => reject(new Error(`proxy worker exited with ${code} before it was ready`)));
  });
  return {
    host: '127.0.0.1',
    port: ready.port,
    wsUrl: `ws://127.0.0.1:${ready.port}`,
    adminUrl: `http://127.0.0.1:${ready.adminPort}`,
    apiKey: ready.apiKey,
    apiSecret: ready.apiSecret,
    maxFrameBytes: ready.maxFrameBytes,
    where: 'worker',
    crashes,
    exited: () => exited,
    close: () =>
      new Promise<void>((resolve) => {
        if (exited) return resolve();
        const t = setTimeout(() => void worker.terminate(), 45_000);
        onClosed = () => {
          clearTimeout(t);
          resolve();
        };
        worker.on('message', (m: { type: string }) => {
          if (m.type === 'closed') onClosed?.();
        });
        worker.postMessage('close');
      }),
  };
}

export async function startFuzzTarget(opts: { env?: Record<string, string>; proxyIn?: 'process' | 'worker' } = {}): Promise<FuzzTarget> {
  const livekit = await startLiveKit({ logLevel: 'info' });
  const proxy = opts.proxyIn === 'worker' ? await proxyInWorker(livekit, opts.env ?? {}) : await proxyInProcess(livekit, opts.env ?? {});
  const bound = {} as Record<KemAlgorithm, { token: string; keyPair: KemKeyPair }>;
  for (const a of ALGS) {
    const keyPair = getKem(a).keygen();
    bound[a] = { keyPair, token: await mint(proxy, 'fz-victim', 'fz-room', '4h', {}, { algorithm: a, publicKey: keyPair.publicKey }) };
  }
  const keys: TokenKeys = {
    apiKey: proxy.apiKey,
    apiSecret: proxy.apiSecret,
    upstreamKey: livekit.apiKey,
    upstreamSecret: livekit.apiSecret,
    mlKemPublicKey: toBase64Url(bound['ML-KEM-768'].keyPair.publicKey),
    xWingPublicKey: toBase64Url(bound['X-Wing'].keyPair.publicKey),
  };
  const openBound = {} as Record<KemAlgorithm, string>;
  for (const a of ALGS) openBound[a] = await mint(proxy, 'fz-open', 'fz-open-room', '4h', {}, { algorithm: a, publicKey: bound[a].keyPair.publicKey });
  const query = splitSignalUrl(signalUrl(proxy.wsUrl, 'x'), 'in-band').query;
  const seeds = await recordSeeds(proxy);
  return {
    livekit,
    proxy,
    keys,
    victimToken: await mint(proxy, 'fz-victim', 'fz-room'),
    bound,
    openToken: await mint(proxy, 'fz-open', 'fz-open-room'),
    openBound,
    seeds,
    query,
    async close() {
      await proxy.close();
      await livekit.stop();
    },
  };
}

/** Real sessions through the proxy (both algorithms, both modes), frames recorded with openRawPq. */
async function recordSeeds(proxy: ProxyEndpoint): Promise<Seeds> {
  const seeds: Seeds = { handshakes: [], connects: [], sealedLiveKit: [], received: [], all: [] };
  for (const a of ALGS) {
    for (const mode of ['in-band', 'token-bound'] as const) {
      const keyPair = mode === 'token-bound' ? getKem(a).keygen() : undefined;
      const t = await mint(proxy, `fz-seed-${a}-${mode}`, 'fz-seed-room', '10m', {}, keyPair ? { algorithm: a, publicKey: keyPair.publicKey } : undefined);
      const raw = await openRawPq(proxy.wsUrl, t, { algorithm: a, ...(keyPair ? { keyPair } : {}) });
      raw.send({ case: 'updateMetadata', value: { metadata: 'seed' } as never });
      raw.send({ case: 'ping', value: BigInt(Date.now()) });
      await raw.waitFor((m) => m.message.case === 'pong');
      raw.ws.close(1000);
      await raw.closed;
      if (mode === 'in-band') seeds.handshakes.push(raw.sent[0] as Uint8Array);
      const sealed = mode === 'in-band' ? raw.sent.slice(1) : raw.sent;
      seeds.connects.push(sealed[0] as Uint8Array);
      seeds.sealedLiveKit.push(...sealed.slice(1));
      seeds.received.push(...raw.received);
    }
  }
  seeds.all = [...seeds.handshakes, ...seeds.connects, ...seeds.sealedLiveKit, ...seeds.received];
  return seeds;
}
/** Frames client→LiveKit and dials made by recordSeeds (2 frames and 1 dial per session). */
export const SEED_SESSIONS = 4;
