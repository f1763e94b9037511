// A Chrome DevTools Protocol client for a Node process started with
// --inspect=127.0.0.1:PORT (the child-process proxy): full GCs, so memory
// figures are what the process still holds rather than garbage not yet
// collected, and heap snapshots. Connects on first use.

import WebSocket from 'ws';
import { LOOPBACK } from './ports.ts';

export interface CdpEvent {
  method?: string;
  params?: Record<string, unknown>;
}

export interface Inspector {
  /** Sends `method` and resolves on its reply; events that arrive meanwhile go to `onEvent`. */
  call(method: string, opts?: { onEvent?: (e: CdpEvent) => void; timeoutMs?: number }): Promise<void>;
  /** Drops the connection (the next call connects again, e.g. after a restart). */
  close(): Promise<void>;
}

export function inspectorOn(port: number): Inspector {
  let socket: Promise<WebSocket> | undefined;
  let seq = 0;
  const connect = async (): Promise<WebSocket> => {
    const list = (await (await fetch(`http://${LOOPBACK}:${port}/json/list`)).json()) as Array<{ webSocketDebuggerUrl: string }>;
    const ws = new WebSocket(list[0]?.webSocketDebuggerUrl ?? '', { perMessageDeflate: false });
    // A process killed under us must not crash the test with an unhandled 'error'.
    ws.on('error', () => {});
    await new Promise((resolve, reject) => {
      ws.once('open', resolve);
      ws.once('error', reject);
    });
    return ws;
  };
  return {
    async call(method, { onEvent, timeoutMs = 60_000 } = {}) {
      socket ??= connect();
      const ws = await socket;
      const id = ++seq;
      await new Promise<void>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`inspector ${method} timed out`)), timeoutMs);
        const onMessage = (data: Buffer) => {
          const m = JSON.parse(data.toString()) as CdpEvent & { id?: number };
          if (m.id === undefined) onEvent?.(m);
          if (m.id !== id) return;
          clearTimeout(t);
          ws.off('message', onMessage);
          resolve();
        };
        ws.on('message', onMessage);
        ws.send(JSON.stringify({ id, method }));
      });
    },
    async close() {
      const ws = await socket?.catch(() => undefined);
      socket = undefined;
      ws?.terminate();
    },
  };
}
