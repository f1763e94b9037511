/**
 * `volly-pq probe`: a real volly-pq.v1 session against a running proxy, like
 * `openssl s_client` for TLS. It opens the signaling WebSocket, runs the
 * handshake (in-band or token-bound) through the shared ClientSession state
 * machine over `ws`, waits for LiveKit's JoinResponse, reports what it saw
 * and leaves cleanly. Any failure is reported with the stage it happened in,
 * the close code and reason, and LiveKit's HTTP status when LiveKit refused.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import {
  ClientInfo,
  ClientInfo_SDK,
  ConnectionSettings,
  DisconnectReason,
  JoinRequest,
  LeaveRequest,
  LeaveRequest_Action,
  ServerInfo_Edition,
  SignalRequest,
  SignalResponse,
  WrappedJoinRequest,
  WrappedJoinRequest_Compression,
} from '@livekit/protocol';
import {
  type ClientMode,
  type ClientOutput,
  ClientSession,
  CloseCode,
  equalBytes,
  FrameKind,
  fingerprint,
  fromUtf8,
  getAead,
  getKem,
  isSignalPath,
  KEM_ALGORITHMS,
  type KemAlgorithm,
  type KemKeyPair,
  newSessionId,
  peekTokenPayload,
  randomBytes,
  readPqClaims,
  SUBPROTOCOL,
  splitSignalUrl,
} from '@volly/shared';
import { type Command, Option } from 'commander';
import WebSocket, { type RawData } from 'ws';
import { EXIT, type KeyOptions, parseDuration, signingKey, UsageError, VERSION } from './common.js';
import { readKemKeyFile } from './keygen.js';
import { mintToken } from './token.js';

/** The LiveKit client protocol the probe speaks (`protocol=`); LiveKit v1.13.5 knows up to 17. */
const LIVEKIT_PROTOCOL = 16;
/** A minted probe token lives this long. */
const MINTED_TTL_S = 300;

export type ProbeStage = 'connect' | 'handshake' | 'join';

export interface ProbeFailure {
  /** connect: TCP/WebSocket upgrade; handshake: the KEM exchange; join: authorization and LiveKit's join. */
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

export interface ProbeReport {
  ok: boolean;
  /** The WebSocket URL dialed, without its query (no token). */
  readonly url: string;
  readonly mode: ClientMode;
  readonly algorithm: KemAlgorithm;
  readonly backends: { readonly kem: string; readonly aead: string };
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

export interface ProbeOptions {
  /** The proxy, ws(s):// or http(s)://; `/rtc` is appended unless the path is a signaling path. */
  readonly url: string;
  readonly token: string;
  readonly mode: ClientMode;
  readonly algorithm: KemAlgorithm;
  /** Token-bound: the key pair the token is bound to. */
  readonly keyPair?: KemKeyPair;
  readonly timeoutMs: number;
}

/** The signaling URL a LiveKit client would dial: path `/rtc` (query parameters) or `/rtc/v1` (join_request). */
export function probeSignalUrl(base: string, token: string): URL {
  let u: URL;
  try {
    u = new URL(base);
  } catch {
    throw new UsageError(`<url>: not a URL: "${base}"`);
  }
  const scheme = { 'http:': 'ws:', 'https:': 'wss:', 'ws:': 'ws:', 'wss:': 'wss:' }[u.protocol];
  if (!scheme) throw new UsageError(`<url>: expected ws://, wss://, http:// or https://, got ${u.protocol}`);
  u.protocol = scheme;
  if (!isSignalPath(u.pathname)) u.pathname = `${u.pathname.replace(/\/+$/, '')}/rtc`;
  u.search = '';
  u.searchParams.set('access_token', token);
  const clientInfo = { sdk: ClientInfo_SDK.NODE, version: VERSION, protocol: LIVEKIT_PROTOCOL };
  if (/\/rtc\/v1\/?$/.test(u.pathname)) {
    const join = new JoinRequest({ clientInfo: new ClientInfo(clientInfo), connectionSettings: new ConnectionSettings({ autoSubscribe: false }) });
    const wrapped = new WrappedJoinRequest({ compression: WrappedJoinRequest_Compression.NONE, joinRequest: join.toBinary() });
    // LiveKit decodes it with Go's base64.URLEncoding, which wants the '=' padding.
    u.searchParams.set('join_request', Buffer.from(wrapped.toBinary()).toString('base64').replaceAll('+', '-').replaceAll('/', '_'));
  } else {
    u.searchParams.set('auto_subscribe', '0');
    u.searchParams.set('sdk', 'node');
    u.searchParams.set('version', VERSION);
    u.searchParams.set('protocol', String(LIVEKIT_PROTOCOL));
  }
  return u;
}

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

/** Runs one probe session. Never rejects: every failure is in the report. */
export function probe(o: ProbeOptions): Promise<ProbeReport> {
  const started = performance.now();
  const kem = getKem(o.algorithm);
  const aead = getAead();
  const sessionId = newSessionId(randomBytes);
  const split = splitSignalUrl(probeSignalUrl(o.url, o.token).href, o.mode, sessionId);
  const shown = new URL(split.socketUrl);
  shown.search = '';
  const report: ProbeReport = { ok: false, url: shown.href, mode: o.mode, algorithm: o.algorithm, backends: { kem: kem.backend, aead: aead.backend } };
  const session = new ClientSession({
    kem,
    aead,
    mode: o.mode,
    ...(o.keyPair ? { keyPair: o.keyPair } : {}),
    accessToken: split.accessToken,
    query: split.query,
    sessionId,
    randomBytes,
  });

  return new Promise((resolve) => {
    let stage: ProbeStage | 'leave' = 'connect';
    let openedAt = 0;
    let closeTimer: ReturnType<typeof setTimeout> | undefined;
    const ws = new WebSocket(split.socketUrl, SUBPROTOCOL, { perMessageDeflate: false, handshakeTimeout: o.timeoutMs });

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
      fail({ message: `no JoinResponse within ${o.timeoutMs} ms` });
      ws.terminate();
    }, o.timeoutMs);

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
      const join = msg.message.value;
      const info = join.serverInfo;
      report.joinMs = ms(started);
      report.server = {
        version: info?.version ?? join.serverVersion,
        protocol: info?.protocol ?? 0,
        edition: info ? (ServerInfo_Edition[info.edition] ?? String(info.edition)) : '',
        region: info?.region ?? join.serverRegion,
        nodeId: info?.nodeId ?? '',
      };
      report.room = { name: join.room?.name ?? '', sid: join.room?.sid ?? '' };
      report.participant = { identity: join.participant?.identity ?? '', sid: join.participant?.sid ?? '' };
      stage = 'leave';
      const leave = new SignalRequest({
        message: {
          case: 'leave',
          value: new LeaveRequest({ canReconnect: false, reason: DisconnectReason.CLIENT_INITIATED, action: LeaveRequest_Action.DISCONNECT }),
        },
      });
      ws.send(session.seal(leave.toBinary()));
      closeSoon(1000, 'probe done');
    };

    const apply = (outputs: ClientOutput[]) => {
      for (const out of outputs) {
        if (out.type === 'send') ws.send(out.frame);
        else if (out.type === 'keyed') {
          report.sessionId = out.result.sessionId;
          report.fingerprint = fingerprint(out.result);
          report.handshakeMs = ms(openedAt);
          stage = 'join';
        } else if (out.type === 'message') onLiveKit(out.kind, out.payload);
        else {
          fail({ message: out.failure.message, ...(out.failure.status ? { liveKitStatus: out.failure.status } : {}) });
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
      apply(session.start());
    });
    ws.on('message', (data, isBinary) => {
      if (!isBinary) {
        fail({ message: 'text frame on a sealed session' });
        return closeSoon(CloseCode.Malformed, 'text frame');
      }
      apply(session.receive(bytesOf(data)));
    });
    ws.on('close', (code, reasonBuf) => {
      const reason = reasonBuf.toString();
      if (openedAt) report.closed = { code, reason };
      if (stage !== 'leave') fail({ message: reason || 'connection closed before the JoinResponse' });
      // 1005/1006 say only that no close frame came; the code a proxy closes with says why.
      if (report.failure && code !== 1005 && code !== 1006) Object.assign(report.failure, { closeCode: code, closeReason: reason });
      clearTimeout(deadline);
      clearTimeout(closeTimer);
      session.close();
      report.ok = !report.failure && stage === 'leave';
      resolve(report);
    });
  });
}

const CLOSE_NAMES: Record<number, string> = {
  1000: 'normal',
  1001: 'going away',
  1006: 'abnormal',
  ...Object.fromEntries(Object.entries(CloseCode).map(([name, code]) => [code, name])),
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

export function formatReport(r: ProbeReport): string {
  const rows: Array<[string, string | undefined]> = [
    ['url', r.url],
    ['mode', r.mode],
    ['algorithm', `${r.algorithm} (KEM ${r.backends.kem}, AEAD ${r.backends.aead})`],
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

interface ProbeCliOptions extends KeyOptions {
  token?: string;
  room?: string;
  identity?: string;
  algorithm?: KemAlgorithm;
  mode?: ClientMode;
  bindKey?: string;
  timeout: string;
  json?: boolean;
}

/** Options → probe settings: mints a token when none is given, picks mode and algorithm, checks the binding. */
async function resolveOptions(url: string, opts: ProbeCliOptions): Promise<ProbeOptions> {
  const timeoutMs = parseDuration(opts.timeout, '--timeout') * 1000;
  if (opts.token !== undefined && (opts.room || opts.identity || opts.key || opts.config))
    throw new UsageError('--token: --room, --identity, --key and --config mint a token; give one or the other');
  const keyFile = opts.bindKey ? readKemKeyFile(opts.bindKey, { needSecret: true, option: '--bind-key' }) : undefined;
  const mode: ClientMode = opts.mode ?? (keyFile ? 'token-bound' : 'in-band');
  if (mode === 'in-band' && keyFile) throw new UsageError('--bind-key: only with --mode token-bound');
  if (keyFile && opts.algorithm && opts.algorithm !== keyFile.algorithm)
    throw new UsageError(`--algorithm ${opts.algorithm}: the key in --bind-key is ${keyFile.algorithm}`);
  const algorithm = keyFile?.algorithm ?? opts.algorithm ?? 'ML-KEM-768';
  probeSignalUrl(url, ''); // a bad URL is a usage error before any key work
  let keyPair = keyFile?.keyPair;
  if (mode === 'token-bound' && !keyPair) {
    if (opts.token !== undefined) throw new UsageError('--mode token-bound with --token needs --bind-key FILE: the key pair the token is bound to');
    keyPair = getKem(algorithm).keygen();
  }
  let token = opts.token;
  if (token === undefined) {
    const { keyId, secret } = signingKey(opts);
    token = await mintToken({
      keyId,
      secret,
      room: opts.room ?? 'volly-probe',
      identity: opts.identity ?? `volly-probe-${nodeRandomBytes(3).toString('hex')}`,
      ttlSeconds: MINTED_TTL_S,
      // Invisible to the room's participants, and asks for nothing but the join.
      grant: { hidden: true, canPublish: false, canSubscribe: false, canPublishData: false },
      ...(keyPair && mode === 'token-bound'
        ? { bind: { algorithm, publicKey: keyPair.publicKey, keyExpiry: Math.floor(Date.now() / 1000) + MINTED_TTL_S } }
        : {}),
    });
  } else if (mode === 'token-bound' && keyPair) {
    const payload = peekTokenPayload(token);
    let bound: ReturnType<typeof readPqClaims> = null;
    try {
      bound = payload ? readPqClaims(payload, 0) : null;
    } catch {
      bound = null;
    }
    if (!bound || !equalBytes(bound.publicKey, keyPair.publicKey))
      throw new UsageError('--token: not bound to the public key in --bind-key (video.pqPublicKey)');
  }
  return { url, token, mode, algorithm, ...(keyPair ? { keyPair } : {}), timeoutMs };
}

export function registerProbe(program: Command): Command {
  return program
    .command('probe')
    .summary('join through a running proxy over volly-pq.v1 and report what happened')
    .description(
      'Run a real volly-pq.v1 session against a proxy: handshake, key confirmation, LiveKit join, clean leave.\n' +
        "Prints mode, algorithm, session id, fingerprint, handshake and join times, LiveKit's version and protocol,\n" +
        "room and participant. On failure prints the stage, close code, reason and LiveKit's HTTP status, and exits 1.\n" +
        'Without --token it mints one (room volly-probe, a hidden participant) with the first key of LIVEKIT_KEYS.',
    )
    .argument('<url>', 'the proxy: ws://, wss://, http:// or https://HOST:PORT[/PATH]; /rtc is appended unless PATH ends in /rtc or /rtc/v1')
    .option('-t, --token <jwt>', 'a client access token to join with')
    .option('-r, --room <name>', 'room of the minted token (default volly-probe)')
    .option('-i, --identity <identity>', 'identity of the minted token (default volly-probe-XXXXXX)')
    .option('-k, --key <id>', 'API key id to mint with (default: the first of LIVEKIT_KEYS)')
    .option('-c, --config <file>', 'read the API keys from this proxy settings file instead of LIVEKIT_KEYS')
    .addOption(new Option('-a, --algorithm <name>', 'KEM algorithm (default ML-KEM-768, or the --bind-key file’s)').choices(KEM_ALGORITHMS))
    .addOption(new Option('-m, --mode <mode>', 'handshake: in-band (default) or token-bound (key in the token)').choices(['in-band', 'token-bound']))
    .option('--bind-key <file>', 'token-bound: the key pair (keygen file) the token is, or is to be, bound to')
    .option('--timeout <duration>', 'give up without a JoinResponse after this long', '10s')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Environment:
  LIVEKIT_KEYS  the app's API keys ("key: secret"), used to mint a token when --token is not given

Examples:
  LIVEKIT_KEYS="devkey: <secret>" volly-pq probe ws://127.0.0.1:7880
  volly-pq probe wss://rtc.example.com --algorithm X-Wing --mode token-bound
  volly-pq probe http://127.0.0.1:7880 --token "$(volly-pq token --room r --identity probe)" --json`,
    )
    .action(async (url: string, opts: ProbeCliOptions) => {
      const report = await probe(await resolveOptions(url, opts));
      process.stdout.write(opts.json ? `${JSON.stringify(report, null, 2)}\n` : formatReport(report));
      if (!report.ok) {
        if (opts.json && report.failure) process.stderr.write(`volly-pq probe: ${describeFailure(report.failure)}\n`);
        process.exitCode = EXIT.failure;
      }
    });
}
