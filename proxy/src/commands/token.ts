/**
 * `volly-pq token`: a client access token, made with livekit-server-sdk's
 * AccessToken and signed with one of the app's API keys (LIVEKIT_KEYS),
 * optionally bound to a KEM public key (video.pqPublicKey, pqAlgorithm,
 * pqKeyExpiry; addPqClaims from @volly/shared) for token-bound handshakes,
 * and optionally pinning the proxy's keys: v2 static KEM keys
 * (video.pqServerKemKeys, addServerKemKeys) from key files or the proxy's
 * well-known document, v1 ML-DSA-65 identity keys (video.pqServerKeys).
 */
import { TrackSource } from '@livekit/protocol';
import {
  addPqClaims,
  addServerKemKeys,
  addServerKeys,
  fromBase64Url,
  getKem,
  KEM_ALGORITHMS,
  type KemAlgorithm,
  type ServerKemKeyPin,
  type ServerKeyPin,
} from '@volly/shared';
import { type Command, Option } from 'commander';
import { AccessToken, type VideoGrant } from 'livekit-server-sdk';
import { type KeyOptions, parseDuration, signingKey, UsageError } from './common.js';
import { readKemKeyFile } from './keygen.js';
import { fetchWellKnown, readServerKeyFiles, wellKnownUrl } from './probe/server-keys.js';

type GrantKind = 'boolean' | 'string' | 'sources';

/** Every video grant field and how its `--grant` value is read (the compiler checks none is missing). */
const GRANT_FIELDS: { readonly [K in keyof Required<VideoGrant>]: GrantKind } = {
  roomCreate: 'boolean',
  roomJoin: 'boolean',
  roomList: 'boolean',
  roomRecord: 'boolean',
  roomAdmin: 'boolean',
  room: 'string',
  ingressAdmin: 'boolean',
  canPublish: 'boolean',
  canPublishSources: 'sources',
  canSubscribe: 'boolean',
  canPublishData: 'boolean',
  canUpdateOwnMetadata: 'boolean',
  hidden: 'boolean',
  recorder: 'boolean',
  agent: 'boolean',
  canSubscribeMetrics: 'boolean',
  canManageAgentSession: 'boolean',
  destinationRoom: 'string',
};

const SOURCES: Record<string, TrackSource> = {
  camera: TrackSource.CAMERA,
  microphone: TrackSource.MICROPHONE,
  screen_share: TrackSource.SCREEN_SHARE,
  screen_share_audio: TrackSource.SCREEN_SHARE_AUDIO,
};

/** `k=v` pairs (from repeated --grant) → a VideoGrant; unknown names and bad values are usage errors. */
export function parseGrants(pairs: readonly string[]): VideoGrant {
  const grant: Record<string, unknown> = {};
  for (const pair of pairs) {
    const i = pair.indexOf('=');
    const name = i < 0 ? pair : pair.slice(0, i);
    const value = i < 0 ? '' : pair.slice(i + 1);
    const kind = (GRANT_FIELDS as Record<string, GrantKind>)[name];
    if (i < 0 || !kind) throw new UsageError(`--grant ${pair}: expected NAME=VALUE with NAME one of ${Object.keys(GRANT_FIELDS).join(', ')}`);
    if (kind === 'boolean') {
      if (value !== 'true' && value !== 'false') throw new UsageError(`--grant ${pair}: ${name} is true or false`);
      grant[name] = value === 'true';
    } else if (kind === 'sources') {
      const names = value.split(',').filter(Boolean);
      const bad = names.find((s) => !(s in SOURCES));
      if (bad !== undefined) throw new UsageError(`--grant ${pair}: unknown track source "${bad}" (known: ${Object.keys(SOURCES).join(', ')})`);
      grant[name] = names.map((s) => SOURCES[s]);
    } else {
      grant[name] = value;
    }
  }
  return grant as VideoGrant;
}

/** The KEM key a token is bound to (its expiry in unix seconds; without one, the token's own exp). */
export interface Binding {
  readonly algorithm: KemAlgorithm;
  readonly publicKey: Uint8Array;
  readonly keyExpiry?: number;
}

export interface MintOptions {
  readonly keyId: string;
  readonly secret: string;
  readonly room: string;
  readonly identity: string;
  readonly ttlSeconds: number;
  readonly name?: string;
  readonly metadata?: string;
  readonly attributes?: Record<string, string>;
  /** Merged over the default grant `{roomJoin: true, room}`. */
  readonly grant?: VideoGrant;
  readonly bind?: Binding;
  /** The proxy's keys the client may trust: v2 static KEM keys (or their ids), v1 ML-DSA-65 identity keys. */
  readonly pins?: { readonly kem?: readonly ServerKemKeyPin[]; readonly sig?: readonly ServerKeyPin[] };
}

export function mintToken(o: MintOptions): Promise<string> {
  const at = new AccessToken(o.keyId, o.secret, {
    identity: o.identity,
    ttl: o.ttlSeconds,
    ...(o.name !== undefined ? { name: o.name } : {}),
    ...(o.metadata !== undefined ? { metadata: o.metadata } : {}),
    ...(o.attributes ? { attributes: o.attributes } : {}),
  });
  at.addGrant({ roomJoin: true, room: o.room, ...o.grant });
  if (o.bind) addPqClaims(at, o.bind);
  if (o.pins?.kem?.length) addServerKemKeys(at, o.pins.kem);
  if (o.pins?.sig?.length) addServerKeys(at, o.pins.sig);
  return at.toJwt();
}

/** The algorithm of a bare public key: `--algorithm` if given, else the one whose key length it has. */
function publicKeyBinding(b64: string, algorithm: string | undefined): { algorithm: KemAlgorithm; publicKey: Uint8Array } {
  const publicKey = fromBase64Url(b64);
  if (!publicKey) throw new UsageError('--public-key: not base64url');
  const fits = KEM_ALGORITHMS.filter((a) => getKem(a).publicKeyLength === publicKey.length && (algorithm === undefined || a === algorithm));
  const found = fits[0];
  if (!found) {
    const lengths = KEM_ALGORITHMS.map((a) => `${a} ${getKem(a).publicKeyLength}`).join(', ');
    throw new UsageError(`--public-key: ${publicKey.length} bytes is not ${algorithm ? `an ${algorithm}` : 'a'} public key (${lengths} bytes)`);
  }
  return { algorithm: found, publicKey };
}

interface TokenCliOptions extends KeyOptions {
  room: string;
  identity: string;
  name?: string;
  metadata?: string;
  attribute: string[];
  ttl: string;
  bindKey?: string;
  publicKey?: string;
  algorithm?: string;
  keyTtl?: string;
  grant: string[];
  serverKey: string[];
  wellKnown?: string;
}

/** How long the well-known document may take. */
const DOCUMENT_TIMEOUT_MS = 10_000;

/** --server-key files and the --well-known document → the pins the token carries (none: undefined). */
async function serverPins(opts: TokenCliOptions): Promise<MintOptions['pins']> {
  const files = readServerKeyFiles(opts.serverKey);
  const url = opts.wellKnown === undefined ? undefined : wellKnownUrl(opts.wellKnown);
  // The document lists the current key and the next one: pinning all of them keeps the token valid across a rotation.
  const listed = url ? await fetchWellKnown(url, DOCUMENT_TIMEOUT_MS) : [];
  const kem = [...files.kem, ...listed];
  if (kem.length > 16) throw new UsageError(`--server-key/--well-known: ${kem.length} v2 keys; a token pins at most 16`);
  if (!kem.length && !files.sig.length) return undefined;
  return { kem, sig: files.sig };
}

const collect = (v: string, prev: string[]) => [...prev, v];

function attributes(pairs: readonly string[]): Record<string, string> | undefined {
  if (pairs.length === 0) return undefined;
  return Object.fromEntries(
    pairs.map((p) => {
      const i = p.indexOf('=');
      if (i <= 0) throw new UsageError(`--attribute ${p}: expected NAME=VALUE`);
      return [p.slice(0, i), p.slice(i + 1)];
    }),
  );
}

export function registerToken(program: Command): Command {
  return program
    .command('token')
    .summary('mint a client access token, optionally bound to a KEM public key and pinning the proxy’s keys')
    .description(
      'Mint a LiveKit client access token (HS256, livekit-server-sdk AccessToken) signed with the first API key of\n' +
        'LIVEKIT_KEYS (or --key), and print it. --bind-key/--public-key bind it to a KEM public key (video.pqPublicKey,\n' +
        'pqAlgorithm, pqKeyExpiry), so only a client holding that key can use it (token-bound handshake).\n' +
        '--server-key/--well-known pin the proxy’s keys (video.pqServerKemKeys for v2, video.pqServerKeys for v1).',
    )
    .requiredOption('-r, --room <name>', 'room to join')
    .requiredOption('-i, --identity <identity>', 'participant identity')
    .option('--name <name>', 'participant display name')
    .option('--metadata <text>', 'participant metadata')
    .option('--attribute <name=value>', 'participant attribute (repeatable)', collect, [])
    .option('--ttl <duration>', 'token lifetime: 90s, 10m, 2h, 1d', '10m')
    .option('-k, --key <id>', 'API key id to sign with (default: the first of LIVEKIT_KEYS)')
    .option('-c, --config <file>', 'read the API keys from this proxy settings file instead of LIVEKIT_KEYS')
    .addOption(new Option('--bind-key <file>', 'bind to the public key in this keygen file').conflicts('publicKey'))
    .option('--public-key <base64url>', 'bind to this KEM public key')
    .addOption(new Option('-a, --algorithm <name>', 'algorithm of --public-key (default: from its length)').choices(KEM_ALGORITHMS))
    .option('--key-ttl <duration>', "how long the bound key may be used (video.pqKeyExpiry; default: the token's exp, carried into refreshed tokens)")
    .option(
      '-g, --grant <name=value>',
      'video grant field, e.g. canPublish=false, canPublishSources=camera,microphone (repeatable; merged over roomJoin=true and room)',
      collect,
      [],
    )
    .option(
      '--server-key <file>',
      "pin the proxy's key (keygen file, public half is enough; repeatable): X-Wing/ML-KEM-768 in video.pqServerKemKeys (v2), ML-DSA-65 in video.pqServerKeys (v1)",
      collect,
      [],
    )
    .option('--well-known <url>', "pin every v2 key of the proxy's document (its origin, or the document's URL)")
    .addHelpText(
      'after',
      `
Environment:
  LIVEKIT_KEYS  the app's API keys, LiveKit's "key: secret" format (one per line, or comma-separated)

Examples:
  volly-pq token --room demo --identity alice
  volly-pq token --room demo --identity bob --ttl 1h --grant canPublish=false
  volly-pq keygen --out key.json && volly-pq token --room demo --identity carol --bind-key key.json
  volly-pq token --room demo --identity dave --server-key v2-key.json      # only this proxy key (v2)
  volly-pq token --room demo --identity erin --well-known https://rtc.example.com`,
    )
    .action(async (opts: TokenCliOptions) => {
      if (!opts.room) throw new UsageError('--room: must not be empty');
      if (!opts.identity) throw new UsageError('--identity: must not be empty');
      const ttlSeconds = parseDuration(opts.ttl, '--ttl');
      // Without --key-ttl the key lives exactly as long as the token (addPqClaims' default, from the same ttl).
      const keyTtl = opts.keyTtl === undefined ? undefined : parseDuration(opts.keyTtl, '--key-ttl');
      if (opts.algorithm && !opts.publicKey) throw new UsageError('--algorithm: only with --public-key (a key file names its algorithm)');
      if (opts.keyTtl && !opts.publicKey && !opts.bindKey) throw new UsageError('--key-ttl: only with --bind-key or --public-key');
      const key = opts.bindKey
        ? readKemKeyFile(opts.bindKey, { needSecret: false, option: '--bind-key' })
        : opts.publicKey
          ? publicKeyBinding(opts.publicKey, opts.algorithm)
          : undefined;
      const grant = parseGrants(opts.grant);
      const attrs = attributes(opts.attribute);
      const { keyId, secret } = signingKey(opts);
      const pins = await serverPins(opts);
      const token = await mintToken({
        keyId,
        secret,
        room: opts.room,
        identity: opts.identity,
        ttlSeconds,
        grant,
        ...(opts.name !== undefined ? { name: opts.name } : {}),
        ...(opts.metadata !== undefined ? { metadata: opts.metadata } : {}),
        ...(attrs ? { attributes: attrs } : {}),
        ...(pins ? { pins } : {}),
        ...(key
          ? {
              bind: {
                algorithm: key.algorithm,
                publicKey: key.publicKey,
                ...(keyTtl !== undefined ? { keyExpiry: Math.floor(Date.now() / 1000) + keyTtl } : {}),
              },
            }
          : {}),
      });
      process.stdout.write(`${token}\n`);
    });
}
