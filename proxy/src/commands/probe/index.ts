/**
 * `volly-pq probe`: a real volly-pq session against a running proxy, like
 * `openssl s_client` for TLS: v2 (first flight to the proxy's static key) or
 * v1 (KEM round trip), in-band/unbound or token-bound, then LiveKit's
 * JoinResponse and a clean leave. Options → probe settings here; the session
 * in probe.ts, run.ts and handshake.ts; the output in report.ts.
 */
import { randomBytes as nodeRandomBytes } from 'node:crypto';
import { equalBytes, getKem, KEM_ALGORITHMS, type KemAlgorithm, peekTokenPayload, readPqClaims } from '@volly/shared';
import { type Command, Option } from 'commander';
import { EXIT, type KeyOptions, parseDuration, signingKey, UsageError } from '../common.js';
import { readKemKeyFile } from '../keygen.js';
import { mintToken } from '../token.js';
import { type ProbeOptions, type ProtocolChoice, probe } from './probe.js';
import { describeFailure, formatReport, type ProbeMode } from './report.js';
import { readServerKeyFiles, wellKnownUrl } from './server-keys.js';
import { probeSignalUrl } from './url.js';

export { type ProbeOptions, probe } from './probe.js';
export { describeFailure, formatReport, type ProbeFailure, type ProbeReport, type ProbeStage } from './report.js';
export { probeSignalUrl } from './url.js';

/** A minted probe token lives this long. */
const MINTED_TTL_S = 300;

interface ProbeCliOptions extends KeyOptions {
  token?: string;
  room?: string;
  identity?: string;
  algorithm?: KemAlgorithm;
  mode?: ProbeMode;
  bindKey?: string;
  protocol: ProtocolChoice;
  serverKey: string[];
  wellKnown?: string;
  timeout: string;
  json?: boolean;
}

/** --token given with --bind-key: it must be bound to that key. */
function checkBinding(token: string, publicKey: Uint8Array): void {
  const payload = peekTokenPayload(token);
  let bound: ReturnType<typeof readPqClaims> = null;
  try {
    bound = payload ? readPqClaims(payload, 0) : null;
  } catch {
    bound = null;
  }
  if (!bound || !equalBytes(bound.publicKey, publicKey)) throw new UsageError('--token: not bound to the public key in --bind-key (video.pqPublicKey)');
}

/** Options → probe settings: mints a token when none is given, picks mode and algorithm, checks the binding. */
async function resolveOptions(url: string, opts: ProbeCliOptions): Promise<ProbeOptions> {
  const timeoutMs = parseDuration(opts.timeout, '--timeout') * 1000;
  if (opts.token !== undefined && (opts.room || opts.identity || opts.key || opts.config))
    throw new UsageError('--token: --room, --identity, --key and --config mint a token; give one or the other');
  const keyFile = opts.bindKey ? readKemKeyFile(opts.bindKey, { needSecret: true, option: '--bind-key' }) : undefined;
  const mode: ProbeMode = opts.mode ?? (keyFile ? 'token-bound' : 'in-band');
  if (mode === 'in-band' && keyFile) throw new UsageError('--bind-key: only with --mode token-bound');
  if (keyFile && opts.algorithm && opts.algorithm !== keyFile.algorithm)
    throw new UsageError(`--algorithm ${opts.algorithm}: the key in --bind-key is ${keyFile.algorithm}`);
  probeSignalUrl(url, ''); // a bad URL is a usage error before any key work
  const serverKeys = readServerKeyFiles(opts.serverKey);
  if (opts.protocol === 'v1' && serverKeys.kem.length)
    throw new UsageError('--server-key: X-Wing and ML-KEM-768 keys are volly-pq.v2 keys; not with --protocol v1');
  if (opts.protocol === 'v2' && serverKeys.sig.length) throw new UsageError('--server-key: ML-DSA-65 keys pin volly-pq.v1 handshakes; not with --protocol v2');
  if (opts.wellKnown && opts.protocol === 'v1') throw new UsageError('--well-known: a volly-pq.v2 document; not with --protocol v1');
  const wellKnown = opts.wellKnown ? wellKnownUrl(opts.wellKnown) : undefined;
  const boundAlgorithm = keyFile?.algorithm ?? opts.algorithm ?? 'ML-KEM-768';
  let keyPair = keyFile?.keyPair;
  if (mode === 'token-bound' && !keyPair) {
    if (opts.token !== undefined) throw new UsageError('--mode token-bound with --token needs --bind-key FILE: the key pair the token is bound to');
    keyPair = getKem(boundAlgorithm).keygen();
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
      ...(keyPair && mode === 'token-bound' ? { bind: { algorithm: boundAlgorithm, publicKey: keyPair.publicKey } } : {}),
    });
  } else if (mode === 'token-bound' && keyPair) {
    checkBinding(token, keyPair.publicKey);
  }
  return {
    url,
    token,
    mode,
    protocol: opts.protocol,
    ...(opts.algorithm ? { algorithm: opts.algorithm } : {}),
    ...(keyPair && mode === 'token-bound' ? { bound: { algorithm: boundAlgorithm, keyPair } } : {}),
    serverKeys,
    ...(wellKnown ? { wellKnown } : {}),
    timeoutMs,
  };
}

const collect = (v: string, prev: string[]) => [...prev, v];

export function registerProbe(program: Command): Command {
  return program
    .command('probe')
    .summary('join through a running proxy over volly-pq (v2 or v1) and report what happened')
    .description(
      'Run a real volly-pq session against a proxy: handshake, key confirmation, LiveKit join, clean leave.\n' +
        'Prints protocol, mode, algorithm, server key, session id, fingerprint, handshake and join times, LiveKit’s version\n' +
        'and protocol, room and participant. On failure prints the stage, close code, reason and LiveKit’s HTTP status, and exits 1.\n' +
        'Without --token it mints one (room volly-probe, a hidden participant) with the first key of LIVEKIT_KEYS.\n' +
        '--protocol auto (default) speaks v2 when --server-key names a v2 key, the token pins v2 keys (video.pqServerKemKeys)\n' +
        'or the proxy serves /.well-known/volly-pq, and v1 otherwise, as the browser shim does. Pins in the token are\n' +
        'verified: v2 uses only a pinned key (the handshake proves the proxy holds it); v1 requires a pinned signature.',
    )
    .argument('<url>', 'the proxy: ws://, wss://, http:// or https://HOST:PORT[/PATH]; /rtc is appended unless PATH ends in /rtc or /rtc/v1')
    .option('-t, --token <jwt>', 'a client access token to join with')
    .option('-r, --room <name>', 'room of the minted token (default volly-probe)')
    .option('-i, --identity <identity>', 'identity of the minted token (default volly-probe-XXXXXX)')
    .option('-k, --key <id>', 'API key id to mint with (default: the first of LIVEKIT_KEYS)')
    .option('-c, --config <file>', 'read the API keys from this proxy settings file instead of LIVEKIT_KEYS')
    .addOption(new Option('-p, --protocol <version>', 'wire protocol').choices(['auto', 'v2', 'v1']).default('auto'))
    .addOption(
      new Option('-a, --algorithm <name>', 'KEM algorithm: v1’s KEM (default ML-KEM-768), v2’s static key; token-bound: the --bind-key file’s').choices(
        KEM_ALGORITHMS,
      ),
    )
    .addOption(new Option('-m, --mode <mode>', 'in-band/unbound (default) or token-bound (client key in the token)').choices(['in-band', 'token-bound']))
    .option('--bind-key <file>', 'token-bound: the key pair (keygen file) the token is, or is to be, bound to')
    .option(
      '--server-key <file>',
      'the proxy’s key (keygen file, public half is enough; repeatable): X-Wing/ML-KEM-768 = v2 static key to use instead of the document, ML-DSA-65 = v1 signature pin',
      collect,
      [],
    )
    .option('--well-known <url>', 'v2: where the proxy’s key document is (default <proxy origin>/.well-known/volly-pq)')
    .option('--timeout <duration>', 'give up without a JoinResponse after this long', '10s')
    .option('--json', 'print the report as JSON')
    .addHelpText(
      'after',
      `
Environment:
  LIVEKIT_KEYS  the app's API keys ("key: secret"), used to mint a token when --token is not given

Examples:
  LIVEKIT_KEYS="devkey: <secret>" volly-pq probe ws://127.0.0.1:7880
  volly-pq probe wss://rtc.example.com --protocol v2 --mode token-bound
  volly-pq probe wss://rtc.example.com --server-key v2-key.json          # v2 to this key, no document fetch
  volly-pq probe http://127.0.0.1:7880 --token "$(volly-pq token --room r --identity probe --server-key v2-key.json)" --json`,
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
