// The SDK-side tunnel fuzz target: a real LiveKit, the real proxy (v2 keys)
// in front of it, a wire tap between proxy and tunnel, and `volly-pq tunnel`
// as a child process (startTunnel) dialing the proxy through the tap. Mints the
// HTTP fuzz's tokens (Twirp, forwarded in clear by design) and a separate
// family of signaling tokens that must never cross the tap in clear: they
// only travel in upgrades and validate requests, which the tunnel seals or
// answers itself.

import { createLogger } from '@volly/proxy';
import { AccessToken } from 'livekit-server-sdk';
import { type LiveKitServer, startLiveKit } from '../../harness/livekit.ts';
import { startTestProxy, type TestProxy } from '../../harness/proxy.ts';
import { startTunnel, startWireTap, type TestTunnel, tunnelLog, v2ProxyEnv, type WireTap } from '../../harness/tunnel.ts';
import { type HttpTokens, mintTokens } from './fuzz-http-target.ts';

export const SIG_ROOM = 'fz-tun-room';

export interface SigTokens {
  /** Valid join tokens for SIG_ROOM (one per concurrent lane: LiveKit keeps one session per identity). */
  readonly join: readonly string[];
  /** Signed with a stranger's secret: the proxy refuses it (sealed 401). */
  readonly bad: string;
}

export interface TunnelFuzzTarget {
  readonly livekit: LiveKitServer;
  readonly proxy: TestProxy;
  readonly tap: WireTap;
  readonly tunnel: TestTunnel;
  readonly host: string;
  readonly port: number;
  readonly http: HttpTokens;
  readonly sig: SigTokens;
  /** Strings no reply and no log line may hold. */
  readonly secrets: readonly string[];
  /** Whether the tunnel process still answers (its admin listener). */
  alive(): Promise<boolean>;
  log(): string;
  close(): Promise<void>;
}

async function joinToken(key: string, secret: string, identity: string): Promise<string> {
  const at = new AccessToken(key, secret, { identity, ttl: '4h' });
  at.addGrant({ roomJoin: true, room: SIG_ROOM, canPublish: true, canSubscribe: true });
  return at.toJwt();
}

export async function startTunnelFuzzTarget(opts: { lanes: number; protocol?: 'v1' | 'v2' }): Promise<TunnelFuzzTarget> {
  const livekit = await startLiveKit();
  // the proxy's refusals of fuzz inputs are expected: only its errors are worth a line
  const proxy = await startTestProxy(livekit, v2ProxyEnv(), { logger: createLogger('error') });
  const tap = await startWireTap(proxy);
  const tunnel = await startTunnel(tap.proxy, { protocol: opts.protocol ?? 'v2' });
  const http = await mintTokens(proxy.apiKey, proxy.apiSecret);
  const join = await Promise.all(Array.from({ length: opts.lanes + 2 }, (_, i) => joinToken(proxy.apiKey, proxy.apiSecret, `fz-tun-${i}`)));
  const bad = await joinToken(proxy.apiKey, 'not-the-secret-not-the-secret-not-the-secret', 'fz-tun-bad');
  const port = Number(new URL(tunnel.url).port);
  return {
    livekit,
    proxy,
    tap,
    tunnel,
    host: '127.0.0.1',
    port,
    http,
    sig: { join, bad },
    secrets: [proxy.apiSecret, livekit.apiSecret],
    alive: () =>
      tunnel.metrics().then(
        (m) => m.includes('volly_tunnel_'),
        () => false,
      ),
    log: () => tunnelLog(tunnel),
    async close() {
      await tunnel.close();
      await tap.close();
      await proxy.close();
      await livekit.stop();
    },
  };
}
