// What the network scenarios share: the servers under test and how each
// "target" (a way of reaching LiveKit) opens a session.

import type { LiveKitServer } from '../../harness/livekit.ts';
import type { SealedOptions } from '../lib/client.ts';
import type { BenchNginx, BenchProxy } from '../lib/servers.ts';
import type { KeyPairCreds } from '../lib/tokens.ts';

export interface Servers {
  readonly livekit: LiveKitServer;
  readonly proxy: BenchProxy;
  readonly nginx: BenchNginx | undefined;
  /** The bare Node.js + ws relay (the floor of a Node.js relay). */
  readonly nodeWs?: BenchNginx | undefined;
}

export type TargetName = 'direct' | 'nginx' | 'node-ws' | 'classical' | 'sealed';

export interface Target {
  readonly name: TargetName;
  readonly baseUrl: string;
  readonly creds: KeyPairCreds;
  readonly sealed?: SealedOptions;
}

export function target(s: Servers, name: TargetName): Target {
  switch (name) {
    case 'direct':
      return { name, baseUrl: s.livekit.wsUrl, creds: s.livekit };
    case 'nginx':
      if (!s.nginx) throw new Error('nginx is not running');
      return { name, baseUrl: s.nginx.wsUrl, creds: s.livekit };
    case 'node-ws':
      if (!s.nodeWs) throw new Error('the node-ws relay is not running');
      return { name, baseUrl: s.nodeWs.wsUrl, creds: s.livekit };
    case 'classical':
      return { name, baseUrl: s.proxy.wsUrl, creds: s.proxy };
    case 'sealed':
      return { name, baseUrl: s.proxy.wsUrl, creds: s.proxy, sealed: { algorithm: 'ML-KEM-768', flow: 'in-band' } };
  }
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Resolves when `p` does or after `ms`, whichever is first. */
export const within = <T>(p: Promise<T>, ms: number): Promise<T | undefined> =>
  Promise.race([p, new Promise<undefined>((r) => setTimeout(() => r(undefined), ms).unref())]);

/** Rotate `xs` by `r` places: round r starts with a different entry, so no target always goes first. */
export const rotate = <T>(xs: readonly T[], r: number): T[] => xs.map((_, i) => xs[(i + r) % xs.length] as T);
