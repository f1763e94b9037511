// The leak oracles, independent of what the fuzzer's own client saw: the
// proxy's counters (upstream dials, client_to_upstream frames), LiveKit's log
// (sessions started, by identity) and a watcher participant in the post-join
// room that would see metadata only a fuzzed frame could set.

import { readFileSync } from 'node:fs';
import type { SignalResponse } from '@livekit/protocol';
import type { LiveKitServer } from '../../harness/livekit.ts';
import { metricSum } from '../../harness/metrics.ts';
import { connectSignal, type SignalConnection } from '../../harness/signal.ts';
import { mint } from './fuzz-live-target.ts';
import type { FuzzTarget, ProxyEndpoint } from './fuzz-live-types.ts';

export async function metricsSnapshot(p: ProxyEndpoint): Promise<{ dialsPq: number; dialsClassical: number; c2u: number }> {
  const text = await (await fetch(`${p.adminUrl}/metrics`)).text();
  const sum = (name: string, label: string) => metricSum(text, name, label);
  return {
    dialsPq: sum('volly_upstream_dial_duration_seconds_count', 'mode="pq"'),
    dialsClassical: sum('volly_upstream_dial_duration_seconds_count', 'mode="classical"'),
    c2u: sum('volly_frames_total', 'direction="client_to_upstream"'),
  };
}

export function liveKitJoins(livekit: LiveKitServer): { total: number; byIdentity: Map<string, number> } {
  const byIdentity = new Map<string, number>();
  let total = 0;
  for (const line of readFileSync(livekit.logFile, 'utf8').split('\n')) {
    if (!line.includes('starting RTC session')) continue;
    total++;
    const id = /"participant": "([^"]*)"/.exec(line)?.[1] ?? '?';
    byIdentity.set(id, (byIdentity.get(id) ?? 0) + 1);
  }
  return { total, byIdentity };
}

/** A participant connected to LiveKit directly, in the post-join room: any 'LEAK' metadata it sees came from a fuzzed frame. */
export class Watcher {
  leaked = 0;
  reconnects = 0;
  #sig: SignalConnection | undefined;
  #stopped = false;
  #ping: ReturnType<typeof setInterval> | undefined;
  private readonly t: FuzzTarget;
  constructor(t: FuzzTarget) {
    this.t = t;
  }
  async start(): Promise<void> {
    const token = await mint(this.t.livekit, 'fz-watcher', 'fz-post-room', '4h', { hidden: true });
    const connect = async () => {
      const sig = await connectSignal(this.t.livekit.wsUrl, token);
      this.#sig = sig;
      const scan = (m: SignalResponse) => {
        if (m.message.case === 'update' && m.message.value.participants.some((p) => p.metadata.includes('LEAK'))) this.leaked++;
      };
      sig.received.forEach(scan);
      sig.ws.on('message', () => {
        const last = sig.received[sig.received.length - 1];
        if (last) scan(last);
      });
      void sig.closed.then(() => {
        if (this.#stopped) return;
        this.reconnects++;
        setTimeout(() => void connect().catch(() => {}), 200);
      });
    };
    await connect();
    this.#ping = setInterval(() => {
      try {
        this.#sig?.send({ case: 'ping', value: BigInt(Date.now()) });
      } catch {}
    }, 5000);
  }
  async stop(): Promise<void> {
    this.#stopped = true;
    clearInterval(this.#ping);
    await this.#sig?.close();
  }
}
