/** What `volly-pq probe` reports, and how it prints it. */
import { CloseCode, CloseCodeV2, type KemAlgorithm } from '@volly/shared';

export type ProbeStage = 'connect' | 'handshake' | 'join';
export type ProbeMode = 'in-band' | 'token-bound';

export interface ProbeFailure {
  /** connect: TCP/WebSocket upgrade (and, for v2, choosing the server key); handshake: the KEM exchange; join: authorization and LiveKit's join. */
  readonly stage: ProbeStage;
  readonly message: string;
  /** HTTP status of a refused WebSocket upgrade. */
  httpStatus?: number;
  /** The close code the session ended with (4401, 4502, ...). */
  closeCode?: number;
  closeReason?: string;
  /** LiveKit's HTTP status when it refused the proxy's upstream dial (sealed 4502 error). */
  liveKitStatus?: number;
}

/** The server key the session was authenticated with: v2's static KEM key, or v1's pinned ML-DSA-65 signer. */
export interface ProbeServerKey {
  /** Hex key id (v2: the 16-byte id the well-known document and token pins use; v1: the ML-DSA-65 key id). */
  readonly id: string;
  readonly algorithm: string;
  /** option: --server-key; document: the proxy's well-known document; token: the token's pins. */
  readonly from: 'option' | 'document' | 'token';
  /** The token (or --server-key for v1) pins it, and the session proved the proxy holds it. */
  readonly pinned: boolean;
}

export interface ProbeReport {
  ok: boolean;
  /** The WebSocket URL dialed, without its query (no token). */
  readonly url: string;
  /** The wire protocol spoken. */
  protocol: 'v1' | 'v2';
  readonly mode: ProbeMode;
  algorithm: KemAlgorithm;
  readonly backends: { readonly kem: string; readonly aead: string };
  /** --protocol auto fell back to v1: why (no well-known document). */
  fallback?: string;
  serverKey?: ProbeServerKey;
  sessionId?: string;
  fingerprint?: string;
  /** Milliseconds: WebSocket open after the dial; keys derived after open; JoinResponse after the dial. */
  connectMs?: number;
  handshakeMs?: number;
  joinMs?: number;
  server?: { version: string; protocol: number; edition: string; region: string; nodeId: string };
  room?: { name: string; sid: string };
  participant?: { identity: string; sid: string };
  closed?: { code: number; reason: string };
  failure?: ProbeFailure;
}

const CLOSE_NAMES: Record<number, string> = {
  1000: 'normal',
  1001: 'going away',
  1006: 'abnormal',
  ...Object.fromEntries([...Object.entries(CloseCode), ...Object.entries(CloseCodeV2)].map(([name, code]) => [code, name])),
};

/** One line for a failure: where, the close code or HTTP status, and why. */
export function describeFailure(f: ProbeFailure): string {
  const details = [
    f.httpStatus ? `HTTP ${f.httpStatus}` : '',
    f.closeCode !== undefined ? `close ${f.closeCode} (${CLOSE_NAMES[f.closeCode] ?? 'unknown'})` : '',
    f.liveKitStatus ? `LiveKit HTTP ${f.liveKitStatus}` : '',
  ].filter(Boolean);
  return `FAILED at ${f.stage}: ${details.length ? `${details.join(' ')} — ` : ''}${f.message}`;
}

function describeServerKey(k: ProbeServerKey): string {
  return `${k.algorithm} ${k.id} (from ${k.from}${k.pinned ? ', pinned' : ''})`;
}

export function formatReport(r: ProbeReport): string {
  const rows: Array<[string, string | undefined]> = [
    ['url', r.url],
    ['protocol', `volly-pq.${r.protocol}${r.fallback ? ` (${r.fallback})` : ''}`],
    ['mode', r.mode],
    ['algorithm', `${r.algorithm} (KEM ${r.backends.kem}, AEAD ${r.backends.aead})`],
    ['server key', r.serverKey ? describeServerKey(r.serverKey) : undefined],
    ['session id', r.sessionId],
    ['fingerprint', r.fingerprint],
    ['connect', r.connectMs !== undefined ? `${r.connectMs.toFixed(1)} ms` : undefined],
    ['handshake', r.handshakeMs !== undefined ? `${r.handshakeMs.toFixed(1)} ms` : undefined],
    ['JoinResponse', r.joinMs !== undefined ? `${r.joinMs.toFixed(1)} ms after dial` : undefined],
    [
      'LiveKit',
      r.server
        ? `${r.server.version} (protocol ${r.server.protocol}, edition ${r.server.edition}${r.server.region ? `, region ${r.server.region}` : ''}, node ${r.server.nodeId})`
        : undefined,
    ],
    ['room', r.room ? `${r.room.name} (${r.room.sid})` : undefined],
    ['participant', r.participant ? `${r.participant.identity} (${r.participant.sid})` : undefined],
    ['closed', r.closed ? `${r.closed.code}${r.closed.reason ? ` ${r.closed.reason}` : ''}` : undefined],
  ];
  const lines = rows.filter((row): row is [string, string] => row[1] !== undefined).map(([k, v]) => `  ${k.padEnd(13)}${v}`);
  lines.push(r.ok ? 'OK' : describeFailure(r.failure ?? { stage: 'join', message: 'no JoinResponse' }));
  return `${lines.join('\n')}\n`;
}
