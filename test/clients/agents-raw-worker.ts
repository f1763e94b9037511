// A LiveKit agent worker by hand, over any WebSocket-like socket: it sends
// WorkerMessage.register, accepts every availability request and hands each
// ServerMessage it receives to the caller. The Node agents SDK does the same
// (and more); this one lets a test speak the agent protocol through a PQ
// socket, and lets test/record-agent-frames.ts record LiveKit's own frames.

import { AvailabilityResponse, JobType, ParticipantPermission, RegisterWorkerRequest, ServerMessage, WorkerMessage } from '@livekit/protocol';

/** The part of a WebSocket the worker needs (ws's and PqWebSocket's both fit). */
export interface WorkerSocket {
  send(data: Uint8Array | string): void;
}

export interface RawWorker {
  /** Every ServerMessage received, in order, with the frame exactly as it arrived. */
  readonly received: Array<{ message: ServerMessage; raw: Uint8Array | string }>;
  /** Feed it each message the socket delivers. */
  onMessage(data: Uint8Array | string): void;
  /** Resolves with the first message of this kind (already received or not). */
  waitFor<K extends NonNullable<ServerMessage['message']['case']>>(
    kind: K,
    timeoutMs?: number,
  ): Promise<Extract<ServerMessage['message'], { case: K }>['value']>;
}

/** Registers a room worker named `agentName`; `json` speaks protobuf JSON text frames (LiveKit answers in kind). */
export function startRawWorker(socket: WorkerSocket, agentName: string, opts: { json?: boolean; identity?: string } = {}): RawWorker {
  const send = (m: WorkerMessage) => socket.send(opts.json ? m.toJsonString() : m.toBinary());
  const received: RawWorker['received'] = [];
  const waiters: Array<() => void> = [];
  send(
    new WorkerMessage({
      message: {
        case: 'register',
        value: new RegisterWorkerRequest({
          type: JobType.JT_ROOM,
          agentName,
          version: 'raw-worker',
          allowedPermissions: new ParticipantPermission({ canPublish: true, canSubscribe: true, canPublishData: true }),
        }),
      },
    }),
  );
  return {
    received,
    onMessage(data) {
      const message = typeof data === 'string' ? ServerMessage.fromJsonString(data, { ignoreUnknownFields: true }) : ServerMessage.fromBinary(data);
      received.push({ message, raw: data });
      if (message.message.case === 'availability' && message.message.value.job) {
        const jobId = message.message.value.job.id;
        const value = new AvailabilityResponse({
          jobId,
          available: true,
          participantIdentity: opts.identity ?? `${agentName}-agent`,
          participantName: agentName,
        });
        send(new WorkerMessage({ message: { case: 'availability', value } }));
      }
      for (const w of waiters.splice(0)) w();
    },
    waitFor(kind, timeoutMs = 15_000) {
      type V = Extract<ServerMessage['message'], { case: typeof kind }>['value'];
      const find = () => received.find((r) => r.message.message.case === kind)?.message.message.value as V | undefined;
      return new Promise<V>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no ${kind} within ${timeoutMs} ms`)), timeoutMs);
        const check = () => {
          const v = find();
          if (v === undefined) return void waiters.push(check);
          clearTimeout(t);
          resolve(v);
        };
        check();
      });
    },
  };
}
