/**
 * The open phase of a tunnel session: LiveKit frames both ways between the
 * SDK's socket (plain WebSocket on loopback) and the PQ session (sealed, to
 * the proxy), text as text and binary as binary, each direction held back by
 * a Valve when the other side cannot keep up, and the first close on either
 * side carried to the other (close-map.ts).
 */
import type { WebSocket } from 'ws';
import { HIGH_WATER, Valve } from './backpressure.js';
import { closeReasonBytes, proxyCloseFor, sdkCloseFor } from './close-map.js';
import type { PqDial } from './dial.js';
import type { TunnelSessionRecord } from './record.js';

/** Ends the SDK's socket the way the proxy's side ended. */
function endSdk(sdk: WebSocket, code: number, reason: string): void {
  const c = sdkCloseFor(code, reason);
  if (c.type === 'drop') sdk.terminate();
  else sdk.close(c.code, c.reason);
}

export function relay(sdk: WebSocket, dial: PqDial, early: readonly MessageEvent[], record: TunnelSessionRecord): void {
  const { pq } = dial;
  let ended = false;
  const up = new Valve(
    () => pq.bufferedAmount,
    () => sdk.pause(),
    () => sdk.resume(),
    () => record.paused('sdk_to_proxy'),
  );
  const down = new Valve(
    () => sdk.bufferedAmount,
    () => dial.inner()?.pause(),
    () => dial.inner()?.resume(),
    () => record.paused('proxy_to_sdk'),
  );
  const finish = (by: 'sdk' | 'proxy', code: number, reason: string) => {
    if (ended) return;
    ended = true;
    up.stop();
    down.stop();
    record.ended(by, code, reason);
  };

  const toSdk = (ev: MessageEvent) => {
    if (sdk.readyState !== sdk.OPEN) return;
    const data = ev.data as string | ArrayBuffer;
    const binary = typeof data !== 'string';
    const payload = binary ? Buffer.from(data) : data;
    record.frame('proxy_to_sdk', binary ? payload.length : Buffer.byteLength(data));
    sdk.send(payload, { binary });
    down.check();
  };
  for (const ev of early) toSdk(ev);
  pq.onmessage = (ev) => toSdk(ev as MessageEvent);
  pq.onclose = (ev) => {
    const { code, reason } = ev as CloseEvent;
    finish('proxy', code, reason);
    if (sdk.readyState === sdk.OPEN || sdk.readyState === sdk.CONNECTING) endSdk(sdk, code, reason);
  };
  pq.onerror = null;

  sdk.on('message', (data: Buffer, isBinary: boolean) => {
    if (pq.readyState !== pq.OPEN) return;
    record.frame('sdk_to_proxy', data.length);
    pq.send(isBinary ? new Uint8Array(data.buffer, data.byteOffset, data.byteLength) : data.toString('utf8'));
    up.check();
  });
  sdk.on('close', (code: number, reason: Buffer) => {
    finish('sdk', code, reason.toString('utf8'));
    pq.close(proxyCloseFor(code), closeReasonBytes(reason.toString('utf8')));
  });
  // The close event follows an error; the error itself says nothing the SDK needs.
  sdk.on('error', () => {});
  // A message already queued above the high-water mark pauses the proxy's side at once.
  if (sdk.bufferedAmount > HIGH_WATER) down.check();
}
