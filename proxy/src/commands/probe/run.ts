/**
 * Drives one probe session over `ws`: dials, runs the handshake (v1 or v2,
 * handshake.ts), waits for LiveKit's JoinResponse, records what it saw and
 * leaves cleanly. Every failure is kept with the stage it happened in, the
 * close code and reason, and LiveKit's HTTP status when LiveKit refused.
 */
import { DisconnectReason, LeaveRequest, LeaveRequest_Action, ServerInfo_Edition, SignalRequest, SignalResponse } from '@livekit/protocol';
import { CloseCode, closeCodeInfo, FrameKind, fromUtf8, isSendableCloseCode, SUBPROTOCOL } from '@volly/shared';
import WebSocket, { type RawData } from 'ws';
import type { Handshake, Step } from './handshake.js';
import type { ProbeFailure, ProbeReport, ProbeStage } from './report.js';

const ms = (from: number) => Math.round((performance.now() - from) * 10) / 10;

const bytesOf = (data: RawData): Uint8Array =>
  Array.isArray(data)
    ? Buffer.concat(data)
    : data instanceof ArrayBuffer
      ? new Uint8Array(data)
      : new Uint8Array(data.buffer, data.byteOffset, data.byteLength);

function describeSocketError(err: Error & { code?: string }): string {
  if (/no subprotocol|invalid subprotocol/i.test(err.message)) return `the server did not accept the ${SUBPROTOCOL} subprotocol (is this a volly-pq proxy?)`;
  return err.code && !err.message.includes(err.code) ? `${err.message} (${err.code})` : err.message;
}

/** What LiveKit's JoinResponse says about the server, the room and us. */
function recordJoin(report: ProbeReport, join: Extract<SignalResponse['message'], { case: 'join' }>['value']): void {
  const info = join.serverInfo;
  report.server = {
    version: info?.version ?? join.serverVersion,
    protocol: info?.protocol ?? 0,
    edition: info ? (ServerInfo_Edition[info.edition] ?? String(info.edition)) : '',
    region: info?.region ?? join.serverRegion,
    nodeId: info?.nodeId ?? '',
  };
  report.room = { name: join.room?.name ?? '', sid: join.room?.sid ?? '' };
  report.participant = { identity: join.participant?.identity ?? '', sid: join.participant?.sid ?? '' };
}

const LEAVE = new SignalRequest({
  message: {
    case: 'leave',
    value: new LeaveRequest({ canReconnect: false, reason: DisconnectReason.CLIENT_INITIATED, action: LeaveRequest_Action.DISCONNECT }),
  },
}).toBinary();

/** Runs the session; `report` is filled in and resolved. Never rejects. */
export function runSession(
  hs: Handshake,
  report: ProbeReport,
  timeoutMs: number,
  started = performance.now(),
  onKeyed: (step: Extract<Step, { type: 'keyed' }>) => void = () => {},
): Promise<ProbeReport> {
  return new Promise((resolve) => {
    let stage: ProbeStage | 'leave' = 'connect';
    let openedAt = 0;
    let closeTimer: ReturnType<typeof setTimeout> | undefined;
    const ws = new WebSocket(hs.socketUrl, hs.protocols, { perMessageDeflate: false, handshakeTimeout: timeoutMs });

    const fail = (f: Omit<ProbeFailure, 'stage'>) => {
      if (!report.failure) report.failure = { stage: stage === 'leave' ? 'join' : stage, ...f };
    };
    /** Close (now, or after the server had `waitMs` to close first); drop the socket if the close handshake stalls. */
    const closeSoon = (code: number, reason: string, waitMs = 0) => {
      if (closeTimer) return;
      closeTimer = setTimeout(() => {
        if (ws.readyState === WebSocket.OPEN) ws.close(code, reason);
        closeTimer = setTimeout(() => ws.terminate(), 2000);
      }, waitMs);
    };
    const deadline = setTimeout(() => {
      fail({ message: `no JoinResponse within ${timeoutMs} ms` });
      ws.terminate();
    }, timeoutMs);

    const onLiveKit = (kind: number, payload: Uint8Array) => {
      if (stage !== 'join') return;
      let msg: SignalResponse;
      try {
        msg =
          kind === FrameKind.LiveKitText ? SignalResponse.fromJsonString(fromUtf8(payload), { ignoreUnknownFields: true }) : SignalResponse.fromBinary(payload);
      } catch {
        fail({ message: 'LiveKit sent a message that is not a SignalResponse' });
        return closeSoon(1000, 'probe failed');
      }
      if (msg.message.case !== 'join') {
        const why = msg.message.case === 'leave' ? ` (reason ${DisconnectReason[msg.message.value.reason]})` : '';
        fail({ message: `LiveKit's first message is ${msg.message.case ?? 'empty'}${why}, not a JoinResponse` });
        return closeSoon(1000, 'probe failed');
      }
      report.joinMs = ms(started);
      recordJoin(report, msg.message.value);
      stage = 'leave';
      ws.send(hs.seal(LEAVE));
      closeSoon(1000, 'probe done');
    };

    const apply = (steps: Step[]) => {
      for (const s of steps) {
        if (s.type === 'send') ws.send(s.frame);
        else if (s.type === 'keyed') {
          report.sessionId = s.sessionId;
          report.fingerprint = s.fingerprint;
          report.handshakeMs = ms(openedAt);
          stage = 'join';
          onKeyed(s);
        } else if (s.type === 'message') onLiveKit(s.kind, s.payload);
        else if (s.failure.code && isSendableCloseCode(s.failure.closeCode, 'client')) {
          // Found by the client itself (a signature that does not verify: 4526): it closes with that code, and says only its name.
          fail({ message: s.failure.message });
          closeSoon(s.failure.closeCode, closeCodeInfo(s.failure.closeCode).name);
        } else {
          fail({ message: s.failure.message, ...(s.failure.status ? { liveKitStatus: s.failure.status } : {}) });
          // The proxy closes right after its error, with the code that matters.
          closeSoon(1000, 'probe failed', 1000);
        }
      }
    };

    ws.on('unexpected-response', (req, res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        if (body.length < 4096) body += chunk;
      });
      res.once('close', () => {
        fail({ message: body.trim() || res.statusMessage || 'upgrade refused', httpStatus: res.statusCode ?? 0 });
        req.destroy();
        ws.terminate();
      });
    });
    ws.on('error', (err) => fail({ message: describeSocketError(err) }));
    ws.on('open', () => {
      openedAt = performance.now();
      report.connectMs = ms(started);
      stage = 'handshake';
      apply(hs.opened(ws.protocol));
    });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        fail({ message: 'text frame on a sealed session' });
        return closeSoon(CloseCode.Malformed, 'text frame');
      }
      apply(hs.received(bytesOf(data)));
    });
    ws.on('close', (code, reasonBuf) => {
      const reason = reasonBuf.toString();
      if (openedAt) {
        report.closed = { code, reason };
        // v2: a sealed error or the close itself may say more than the reason.
        if (stage !== 'leave') apply(hs.closed(code, reason));
      }
      if (stage !== 'leave') fail({ message: reason || 'connection closed before the JoinResponse' });
      // 1005/1006 say only that no close frame came; the code a proxy closes with says why.
      if (report.failure && code !== 1005 && code !== 1006) Object.assign(report.failure, { closeCode: code, closeReason: reason });
      clearTimeout(deadline);
      clearTimeout(closeTimer);
      hs.dispose();
      report.ok = !report.failure && stage === 'leave';
      resolve(report);
    });
  });
}
