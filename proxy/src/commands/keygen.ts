/**
 * `volly-pq keygen`: a key pair as JSON, `{algorithm, publicKey, secretKey}`,
 * both keys base64url, the secret key in its compact seed form (ML-KEM-768:
 * 64 bytes d||z, X-Wing: 32 bytes, ML-DSA-65: the 32-byte seed ξ). KEM key
 * files are read back by `token --bind-key` (the public key) and `probe
 * --bind-key` (the whole pair); ML-DSA-65 files, which also carry their
 * `keyId`, are the proxy's server identity keys (VOLLY_SERVER_KEYS).
 */
import { chmodSync, writeFileSync } from 'node:fs';
import { getKem, getSigner, KEM_ALGORITHMS, SIG_ALGORITHMS, serverKeyId, toBase64Url, toHex } from '@volly/shared';
import { type Command, Option } from 'commander';
import { type KemKeyFromFile, KeyFileError, kemKeyOf, readKeyFileJson } from '../key-file.js';
import { UsageError } from './common.js';

type Generated = { publicKey: Uint8Array; secretKey: Uint8Array; keyId?: string };

/** Every algorithm keygen knows, by name: the KEMs clients bind tokens to, and ML-DSA-65 for server identity keys. */
const GENERATORS: Record<string, () => Generated> = {
  ...Object.fromEntries(KEM_ALGORITHMS.map((a) => [a, () => getKem(a).keygen()])),
  ...Object.fromEntries(
    SIG_ALGORITHMS.map((a) => [
      a,
      () => {
        const pair = getSigner(a).keygen();
        return { ...pair, keyId: toHex(serverKeyId(pair.publicKey)) };
      },
    ]),
  ),
};

export interface KeyFile {
  readonly algorithm: string;
  readonly publicKey: string;
  readonly secretKey?: string;
  /** ML-DSA-65 only: hex of SHA-256(publicKey)[0..8], as the proxy names the key on the wire and in GET /server-keys. */
  readonly keyId?: string;
}

export function generateKeyFile(algorithm: string): KeyFile & { secretKey: string } {
  const generate = GENERATORS[algorithm];
  if (!generate) throw new UsageError(`--algorithm: unknown algorithm "${algorithm}" (known: ${Object.keys(GENERATORS).join(', ')})`);
  const { publicKey, secretKey, keyId } = generate();
  return { algorithm, publicKey: toBase64Url(publicKey), secretKey: toBase64Url(secretKey), ...(keyId ? { keyId } : {}) };
}

/** A KEM key read from a key file: the public key, and the pair when the file holds the secret key. */
export type KemKey = KemKeyFromFile;

/** Reads and checks a keygen file; the public key must be the one the secret key (seed) gives. */
export function readKemKeyFile(file: string, opts: { needSecret: boolean; option: string }): KemKey {
  try {
    return kemKeyOf(readKeyFileJson(file), opts.needSecret);
  } catch (err) {
    if (err instanceof KeyFileError) throw new UsageError(`${opts.option} ${file}: ${err.message}`);
    throw err;
  }
}

const json = (v: unknown) => `${JSON.stringify(v, null, 2)}\n`;

export function registerKeygen(program: Command): Command {
  return program
    .command('keygen')
    .summary('make a key pair (JSON): a KEM key to bind client tokens to, or an ML-DSA-65 server identity key')
    .description(
      'Make a key pair and print it as JSON: {algorithm, publicKey, secretKey}, both base64url, the secret key as its seed\n' +
        '(ML-DSA-65 adds its keyId). With --out the pair goes to FILE (mode 0600) and only the public half is printed.',
    )
    .addOption(new Option('-a, --algorithm <name>', 'key algorithm').choices(Object.keys(GENERATORS)).default('ML-KEM-768'))
    .option('-o, --out <file>', 'write the key pair to FILE (created with mode 0600) instead of stdout')
    .option('-f, --force', 'with --out: overwrite FILE if it exists')
    .option('--public-only', 'with --out: print only the bare base64url public key (for scripts)')
    .addHelpText(
      'after',
      `
Examples:
  volly-pq keygen                                   # key pair JSON on stdout
  volly-pq keygen --algorithm X-Wing --out key.json # pair to key.json, {algorithm, publicKey} on stdout
  PUB=$(volly-pq keygen --out key.json --public-only)
  volly-pq token --room r --identity alice --bind-key key.json
  volly-pq keygen --algorithm ML-DSA-65 --out server.json  # the proxy's identity: VOLLY_SERVER_KEYS=server.json`,
    )
    .action((opts: { algorithm: string; out?: string; force?: boolean; publicOnly?: boolean }) => {
      if (opts.force && !opts.out) throw new UsageError('--force: only with --out');
      if (opts.publicOnly && !opts.out) throw new UsageError('--public-only: only with --out (the secret key would be lost)');
      const pair = generateKeyFile(opts.algorithm);
      if (!opts.out) {
        process.stdout.write(json(pair));
        return;
      }
      try {
        writeFileSync(opts.out, json(pair), { mode: 0o600, flag: opts.force ? 'w' : 'wx' });
        // An overwritten file keeps its old mode: tighten it.
        chmodSync(opts.out, 0o600);
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'EEXIST') throw new UsageError(`--out ${opts.out}: exists (use --force to overwrite)`);
        throw new Error(`--out ${opts.out}: cannot write (${code ?? (err as Error).message})`);
      }
      const { secretKey: _secret, ...publicHalf } = pair;
      process.stdout.write(opts.publicOnly ? `${pair.publicKey}\n` : json(publicHalf));
    });
}
