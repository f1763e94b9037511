// The real volly-pq proxy for tests, started in this process on free loopback
// ports in front of a real LiveKit (see livekit.ts). Client keys are separate
// from the upstream key LiveKit holds, as in production.

import { type Config, createLogger, loadConfig, type RunningProxy, startProxy } from '@volly/proxy';
import { generateApiKeyPair, type LiveKitServer } from './livekit.ts';
import { type TokenOptions, token } from './tokens.ts';

export interface TestProxy {
  readonly proxy: RunningProxy;
  readonly config: Config;
  /** http://127.0.0.1:PORT */
  readonly url: string;
  /** ws://127.0.0.1:PORT */
  readonly wsUrl: string;
  readonly adminUrl: string;
  /** The client-facing key that tokens are signed with. */
  readonly apiKey: string;
  readonly apiSecret: string;
  /** A client token for `room`, optionally bound to a PQ key. */
  token(room: string, identity: string, opts?: TokenOptions): Promise<string>;
  /** The proxy's Prometheus text. */
  metrics(): Promise<string>;
  close(): Promise<void>;
}

export async function startTestProxy(
  livekit: LiveKitServer,
  env: Record<string, string> = {},
  opts: { logger?: ReturnType<typeof createLogger> } = {},
): Promise<TestProxy> {
  const client = generateApiKeyPair();
  const config = loadConfig({
    VOLLY_LISTEN: '127.0.0.1:0',
    VOLLY_ADMIN_LISTEN: '127.0.0.1:0',
    VOLLY_UPSTREAM_URL: livekit.url,
    LIVEKIT_KEYS: `${client.apiKey}: ${client.apiSecret}`,
    VOLLY_UPSTREAM_KEY: livekit.apiKey,
    VOLLY_UPSTREAM_SECRET: livekit.apiSecret,
    VOLLY_LOG_LEVEL: process.env.VOLLY_TEST_LOG_LEVEL ?? 'warn',
    ...env,
  });
  const proxy = await startProxy(config, opts.logger ?? createLogger(config.logLevel));
  const adminUrl = `http://127.0.0.1:${proxy.adminPort}`;
  return {
    proxy,
    config,
    url: `http://127.0.0.1:${proxy.port}`,
    wsUrl: `ws://127.0.0.1:${proxy.port}`,
    adminUrl,
    apiKey: client.apiKey,
    apiSecret: client.apiSecret,
    token: (room, identity, t = {}) => token(client, room, identity, t),
    metrics: async () => (await fetch(`${adminUrl}/metrics`)).text(),
    close: () => proxy.close(),
  };
}
