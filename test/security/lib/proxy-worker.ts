// The proxy under fuzz in a worker thread of the fuzzer's process: the same
// startTestProxy, on its own event loop (and core). Reports its ports, every
// uncaught exception or unhandled rejection, and closes on request.

import { parentPort, workerData } from 'node:worker_threads';
import type { LiveKitServer } from '../../harness/livekit.ts';
import { startTestProxy } from '../../harness/proxy.ts';

const port = parentPort;
if (!port) throw new Error('proxy-worker.ts runs as a worker thread');
const report = (kind: string) => (err: unknown) => port.postMessage({ type: 'crash', message: `${kind}: ${(err as Error)?.stack ?? String(err)}` });
process.on('uncaughtException', report('uncaughtException'));
process.on('unhandledRejection', report('unhandledRejection'));

const { livekit, env } = workerData as { livekit: Pick<LiveKitServer, 'url' | 'apiKey' | 'apiSecret'>; env: Record<string, string> };
const p = await startTestProxy(livekit as LiveKitServer, env);
port.postMessage({
  type: 'ready',
  port: p.proxy.port,
  adminPort: p.proxy.adminPort,
  apiKey: p.apiKey,
  apiSecret: p.apiSecret,
  maxFrameBytes: p.config.limits.maxFrameBytes,
});
port.on('message', (m) => {
  if (m !== 'close') return;
  // drain and close, then end the thread even if a socket or timer still holds it
  void p.close().finally(() => {
    port.postMessage({ type: 'closed' });
    process.exit(0);
  });
});
