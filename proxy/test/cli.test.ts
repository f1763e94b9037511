// The `volly-pq` bin as a user runs it (a child process, no LiveKit): usage
// and help, exit codes, one-line errors, keygen's output and files, token
// claims (verified with jose), and probe's failures against local stand-ins
// that refuse or stall. Probes of a real proxy are in test/cli/.

import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBase64Url, getKem, KEM_ALGORITHMS, readPqClaims, SUBPROTOCOL, toBase64Url } from '@volly/shared';
import { decodeProtectedHeader, jwtVerify } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebSocketServer } from 'ws';
import { volly } from './run-cli.js';

const PKG = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')) as { version: string };

const S1 = 'a'.repeat(32);
const S2 = 'b'.repeat(40);
const KEYS = { LIVEKIT_KEYS: `key1: ${S1}\nkey2: ${S2}` };
const UPSTREAM = { VOLLY_UPSTREAM_KEY: 'up', VOLLY_UPSTREAM_SECRET: 'u'.repeat(32) };
const COMMANDS = ['proxy', 'keygen', 'token', 'probe'] as const;

/** Exit 2 with exactly one line on stderr, matching `line`, and nothing on stdout. */
async function usageError(args: string[], line: RegExp, env: Record<string, string> = KEYS): Promise<void> {
  const r = await volly(args, env);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(line);
}

const tempDir = () => mkdtempSync(join(tmpdir(), 'volly-cli-'));
const secondsNow = () => Math.floor(Date.now() / 1000);

describe('usage', () => {
  it.each(COMMANDS)('%s --help: usage, the exit codes, exit 0', async (cmd) => {
    const r = await volly([cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`Usage: volly-pq ${cmd} `);
    expect(r.stdout).toMatch(/Exit codes:\n {2}0 {2}success\n {2}1 {2}runtime failure.*\n {2}2 {2}bad usage or a bad setting/);
  });

  it('volly-pq --help lists every command; help COMMAND works too', async () => {
    const r = await volly(['--help']);
    expect(r.code).toBe(0);
    for (const cmd of COMMANDS) expect(r.stdout).toMatch(new RegExp(`^ {2}${cmd} `, 'm'));
    const h = await volly(['help', 'probe']);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain('Usage: volly-pq probe [options] <url>');
  });

  it('proxy --help lists every setting by its env name', async () => {
    const r = await volly(['proxy', '--help']);
    for (const env of ['VOLLY_LISTEN', 'LIVEKIT_KEYS', 'VOLLY_UPSTREAM_URL', 'VOLLY_PQ_POLICY', 'VOLLY_DRAIN_TIMEOUT_MS']) expect(r.stdout).toContain(env);
  });

  it('--version prints the package version', async () => {
    expect(await volly(['--version'])).toMatchObject({ code: 0, stdout: `${PKG.version}\n` });
  });

  it('no command: help on stderr, exit 2', async () => {
    const r = await volly([]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('Usage: volly-pq');
  });

  it('an unknown command or option: one line, exit 2', async () => {
    const cmd = await volly(['serve']);
    expect(cmd.code).toBe(2);
    expect(cmd.stderr.split('\n')[0]).toBe("volly-pq: unknown command 'serve'");
    const opt = await volly(['keygen', '--nope']);
    expect(opt.code).toBe(2);
    expect(opt.stderr.split('\n')[0]).toBe("volly-pq: unknown option '--nope'");
  });
});

describe('proxy', () => {
  it.each([
    [
      'VOLLY_PQ_POLICY=maybe',
      { ...KEYS, ...UPSTREAM, VOLLY_PQ_POLICY: 'maybe' },
      /^volly-pq: VOLLY_PQ_POLICY \(or "pq_policy" in the config file\): .*"prefer"\|"require"\n$/,
    ],
    [
      'VOLLY_MAX_HANDSHAKES=lots',
      { ...KEYS, ...UPSTREAM, VOLLY_MAX_HANDSHAKES: 'lots' },
      /^volly-pq: VOLLY_MAX_HANDSHAKES \(or "max_handshakes" in the config file\): /,
    ],
    ['no VOLLY_UPSTREAM_KEY', KEYS, /^volly-pq: VOLLY_UPSTREAM_KEY \(or "upstream_key" in the config file\) is required\n$/],
    ['no LIVEKIT_KEYS', {}, /^volly-pq: LIVEKIT_KEYS \(or "keys" in the config file\) is required\n$/],
  ])('a bad setting (%s): one line naming it, exit 2, nothing started', async (_what, env, line) => {
    await usageError(['proxy'], line, env);
  });

  it('a missing --config file: exit 2 naming it', async () => {
    await usageError(['proxy', '--config', '/nonexistent.yaml'], /^volly-pq: --config \/nonexistent\.yaml: /);
  });

  it('--check prints the settings without secrets and exits 0; --demo turns the demo on', async () => {
    const r = await volly(['proxy', '--check', '--demo'], {
      ...KEYS,
      VOLLY_LISTEN: '127.0.0.1:1',
      VOLLY_UPSTREAM_KEY: 'up',
      VOLLY_UPSTREAM_SECRET: 'u'.repeat(32),
    });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ listen: '127.0.0.1:1', keys: ['key1', 'key2'], upstream_key: 'up', pq_policy: 'prefer', demo: true });
    for (const secret of [S1, S2, 'u'.repeat(32)]) expect(r.stdout).not.toContain(secret);
  });

  it('--check reads a YAML file, the environment over it', async () => {
    const file = join(tempDir(), 'volly.yaml');
    writeFileSync(file, `keys:\n  filekey: ${S2}\nupstream_key: up\nupstream_secret: ${'u'.repeat(32)}\npq_policy: require\nlisten: 127.0.0.1:7000\n`);
    const r = await volly(['proxy', '--check', '--config', file], { VOLLY_LISTEN: '127.0.0.1:7001' });
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ listen: '127.0.0.1:7001', keys: ['filekey'], pq_policy: 'require' });
  });
});

describe('keygen', () => {
  const sizes = { 'ML-KEM-768': { pk: 1184, sk: 64 }, 'X-Wing': { pk: 1216, sk: 32 } } as const;

  it.each(KEM_ALGORITHMS)('%s: {algorithm, publicKey, secretKey} base64url, a consistent pair', async (algorithm) => {
    const r = await volly(['keygen', '--algorithm', algorithm]);
    expect(r.code).toBe(0);
    const pair = JSON.parse(r.stdout) as { algorithm: string; publicKey: string; secretKey: string };
    expect(Object.keys(pair)).toEqual(['algorithm', 'publicKey', 'secretKey']);
    expect(pair.algorithm).toBe(algorithm);
    const pk = fromBase64Url(pair.publicKey);
    const sk = fromBase64Url(pair.secretKey);
    expect(pk?.length).toBe(sizes[algorithm].pk);
    expect(sk?.length).toBe(sizes[algorithm].sk);
    expect(toBase64Url(getKem(algorithm).keygen(sk as Uint8Array).publicKey)).toBe(pair.publicKey);
    // A KEM round trip with the printed pair.
    const { ciphertext, sharedSecret } = getKem(algorithm).encapsulate(pk as Uint8Array);
    expect(getKem(algorithm).decapsulate(ciphertext, sk as Uint8Array)).toEqual(sharedSecret);
  });

  it('defaults to ML-KEM-768 and makes a fresh pair every time', async () => {
    const [a, b] = await Promise.all([volly(['keygen']), volly(['keygen'])]);
    expect(JSON.parse(a.stdout).algorithm).toBe('ML-KEM-768');
    expect(JSON.parse(a.stdout).secretKey).not.toBe(JSON.parse(b.stdout).secretKey);
  });

  it('--out writes the pair with mode 0600 and prints only the public half', async () => {
    const file = join(tempDir(), 'key.json');
    const r = await volly(['keygen', '--algorithm', 'X-Wing', '--out', file]);
    expect(r.code).toBe(0);
    const printed = JSON.parse(r.stdout);
    const saved = JSON.parse(readFileSync(file, 'utf8'));
    expect(printed).toEqual({ algorithm: 'X-Wing', publicKey: saved.publicKey });
    expect(fromBase64Url(saved.secretKey)?.length).toBe(32);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('--out refuses an existing file (exit 2) unless --force, which leaves it 0600', async () => {
    const file = join(tempDir(), 'key.json');
    writeFileSync(file, 'old');
    chmodSync(file, 0o644);
    await usageError(['keygen', '--out', file], /^volly-pq: --out .*key\.json: exists \(use --force to overwrite\)\n$/);
    expect(readFileSync(file, 'utf8')).toBe('old');
    const r = await volly(['keygen', '--out', file, '--force', '--public-only']);
    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${JSON.parse(readFileSync(file, 'utf8')).publicKey}\n`);
    expect(fromBase64Url(r.stdout.trim())?.length).toBe(1184);
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('bad usage exits 2; an unwritable --out exits 1', async () => {
    await usageError(['keygen', '--public-only'], /^volly-pq: --public-only: only with --out/);
    await usageError(['keygen', '--force'], /^volly-pq: --force: only with --out/);
    await usageError(['keygen', '--algorithm', 'RSA-2048'], /^volly-pq: option '-a, --algorithm <name>' argument 'RSA-2048' is invalid/);
    const r = await volly(['keygen', '--out', '/nonexistent/dir/key.json']);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe('volly-pq: --out /nonexistent/dir/key.json: cannot write (ENOENT)\n');
  });
});

describe('token', () => {
  async function mint(args: string[], env: Record<string, string> = KEYS) {
    const r = await volly(['token', ...args], env);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.endsWith('\n')).toBe(true);
    return r.stdout.trim();
  }
  const verify = async (token: string, secret = S1) => (await jwtVerify(token, new TextEncoder().encode(secret), { algorithms: ['HS256'] })).payload;

  it('an HS256 LiveKit token from the first key of LIVEKIT_KEYS: iss, sub, room grant, 10 minutes', async () => {
    const token = await mint(['--room', 'r1', '--identity', 'alice', '--name', 'Alice', '--metadata', 'm', '--attribute', 'team=blue', '--attribute', 'x=1=2']);
    expect(decodeProtectedHeader(token).alg).toBe('HS256');
    const claims = await verify(token);
    expect(claims).toMatchObject({
      iss: 'key1',
      sub: 'alice',
      name: 'Alice',
      metadata: 'm',
      attributes: { team: 'blue', x: '1=2' },
      video: { roomJoin: true, room: 'r1' },
    });
    expect((claims.exp as number) - (claims.nbf as number)).toBe(600);
    expect(Math.abs((claims.nbf as number) - secondsNow())).toBeLessThanOrEqual(5);
  });

  it('--ttl, --key and --grant', async () => {
    const claims = await verify(
      await mint([
        '-r',
        'r2',
        '-i',
        'bob',
        '--ttl',
        '2h',
        '--key',
        'key2',
        '--grant',
        'canPublish=false',
        '--grant',
        'canPublishSources=camera,microphone',
        '-g',
        'hidden=true',
        '-g',
        'roomJoin=false',
      ]),
      S2,
    );
    expect(claims.iss).toBe('key2');
    expect((claims.exp as number) - (claims.nbf as number)).toBe(7200);
    expect(claims.video).toEqual({ roomJoin: false, room: 'r2', canPublish: false, canPublishSources: ['camera', 'microphone'], hidden: true });
  });

  it('LIVEKIT_KEYS comma-separated, or the keys of a --config file', async () => {
    expect((await verify(await mint(['-r', 'r', '-i', 'c'], { LIVEKIT_KEYS: `key1: ${S1}, key2: ${S2}` }))).iss).toBe('key1');
    const file = join(tempDir(), 'volly.yaml');
    writeFileSync(file, `keys:\n  filekey: ${S2}\n`);
    expect((await verify(await mint(['-r', 'r', '-i', 'c', '--config', file], {}), S2)).iss).toBe('filekey');
  });

  it('--bind-key FILE binds it to the key pair made by keygen', async () => {
    const file = join(tempDir(), 'key.json');
    await volly(['keygen', '--algorithm', 'X-Wing', '--out', file]);
    const key = JSON.parse(readFileSync(file, 'utf8'));
    const claims = await verify(await mint(['-r', 'r', '-i', 'carol', '--ttl', '5m', '--bind-key', file]));
    expect(claims.video).toMatchObject({ roomJoin: true, room: 'r', pqAlgorithm: 'X-Wing', pqPublicKey: key.publicKey });
    // Without --key-ttl the key lives as long as the token: its exp (rounded up to the second, so never before it).
    const pq = readPqClaims(claims as Record<string, unknown>);
    expect(pq?.keyExpiry).toBeGreaterThanOrEqual(claims.exp as number);
    expect(pq?.keyExpiry).toBeLessThanOrEqual((claims.exp as number) + 1);
  });

  it('--public-key: the algorithm follows from the key length; --key-ttl sets pqKeyExpiry', async () => {
    const pk = toBase64Url(getKem('ML-KEM-768').keygen().publicKey);
    const claims = await verify(await mint(['-r', 'r', '-i', 'dan', '--ttl', '1h', '--public-key', pk, '--key-ttl', '90s']));
    expect(claims.video).toMatchObject({ pqAlgorithm: 'ML-KEM-768', pqPublicKey: pk });
    expect(Math.abs((claims.video as { pqKeyExpiry: number }).pqKeyExpiry - (secondsNow() + 90))).toBeLessThanOrEqual(5);
  });

  const base = ['--room', 'r', '--identity', 'i'];
  it.each<[string[], RegExp, Record<string, string>?]>([
    [['--room', 'r'], /^volly-pq: required option '-i, --identity <identity>' not specified\n$/],
    [[...base, '--grant', 'canPublsh=false'], /^volly-pq: --grant canPublsh=false: expected NAME=VALUE with NAME one of roomCreate, /],
    [[...base, '--grant', 'canPublish=yes'], /^volly-pq: --grant canPublish=yes: canPublish is true or false\n$/],
    [[...base, '--grant', 'canPublishSources=webcam'], /^volly-pq: --grant canPublishSources=webcam: unknown track source "webcam"/],
    [[...base, '--ttl', '10 minutes'], /^volly-pq: --ttl: expected a duration like 90s, 10m, 2h or 1d, got "10 minutes"\n$/],
    [[...base, '--key', 'key3'], /^volly-pq: --key key3: not one of the configured API keys \(key1, key2\)\n$/],
    [
      [...base, '--public-key', toBase64Url(new Uint8Array(100))],
      /^volly-pq: --public-key: 100 bytes is not a public key \(ML-KEM-768 1184, X-Wing 1216 bytes\)\n$/,
    ],
    [[...base, '--bind-key', '/nonexistent.json'], /^volly-pq: --bind-key \/nonexistent\.json: cannot read \(ENOENT\)\n$/],
    [base, /^volly-pq: LIVEKIT_KEYS is not set/, {}],
    [base, /^volly-pq: LIVEKIT_KEYS: the secret of key k is shorter than 32 characters\n$/, { LIVEKIT_KEYS: 'k: short' }],
  ])('bad input %j: one line naming it, exit 2', async (args, line, env = KEYS) => {
    await usageError(['token', ...args], line, env);
  });

  it('a key file whose public key is not the secret key’s is refused', async () => {
    const dir = tempDir();
    const [a, b] = [join(dir, 'a.json'), join(dir, 'b.json')];
    await volly(['keygen', '--out', a]);
    await volly(['keygen', '--out', b]);
    const mixed = join(dir, 'mixed.json');
    writeFileSync(mixed, JSON.stringify({ ...JSON.parse(readFileSync(a, 'utf8')), publicKey: JSON.parse(readFileSync(b, 'utf8')).publicKey }));
    await usageError(['token', '-r', 'r', '-i', 'i', '--bind-key', mixed], /"publicKey" is not the public key of "secretKey"\n$/);
  });
});

describe('probe without a proxy', () => {
  let refusing: Server;
  let silent: WebSocketServer;
  const portOf = (s: Server) => (s.address() as AddressInfo).port;

  beforeAll(async () => {
    // Refuses every upgrade the way a draining proxy does.
    refusing = createServer();
    refusing.on('upgrade', (_req, socket) =>
      socket.end('HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\nproxy is draining; reconnect\n'),
    );
    // Accepts volly-pq.v1 and then says nothing.
    silent = new WebSocketServer({ host: '127.0.0.1', port: 0, handleProtocols: (p) => (p.has(SUBPROTOCOL) ? SUBPROTOCOL : false) });
    await Promise.all([new Promise<void>((r) => refusing.listen(0, '127.0.0.1', r)), new Promise<void>((r) => silent.once('listening', r))]);
  });
  afterAll(async () => {
    refusing.closeAllConnections();
    await new Promise((r) => refusing.close(r));
    for (const c of silent.clients) c.terminate();
    await new Promise((r) => silent.close(r));
  });

  it('nothing listening: exit 1, FAILED at connect with the socket error', async () => {
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = portOf(closed);
    await new Promise((r) => closed.close(r));
    const r = await volly(['probe', `ws://127.0.0.1:${port}`, '--token', 'x']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`  url          ws://127.0.0.1:${port}/rtc\n`);
    expect(r.stdout).toMatch(new RegExp(`^FAILED at connect: connect ECONNREFUSED 127\\.0\\.0\\.1:${port}$`, 'm'));
  });

  it('an upgrade refused over HTTP: exit 1 with the status and body; --json has it too', async () => {
    const url = `http://127.0.0.1:${portOf(refusing)}/livekit`;
    const r = await volly(['probe', url, '--token', 'x']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain(`  url          ws://127.0.0.1:${portOf(refusing)}/livekit/rtc\n`);
    expect(r.stdout).toMatch(/^FAILED at connect: HTTP 503 — proxy is draining; reconnect$/m);
    const j = await volly(['probe', url, '--token', 'x', '--json']);
    expect(j.code).toBe(1);
    expect(JSON.parse(j.stdout)).toMatchObject({
      ok: false,
      mode: 'in-band',
      algorithm: 'ML-KEM-768',
      failure: { stage: 'connect', httpStatus: 503, message: 'proxy is draining; reconnect' },
    });
    expect(j.stderr).toBe('volly-pq probe: FAILED at connect: HTTP 503 — proxy is draining; reconnect\n');
  });

  it('a server that never answers: exit 1 after --timeout', async () => {
    const t0 = Date.now();
    const r = await volly(['probe', `ws://127.0.0.1:${(silent.address() as AddressInfo).port}`, '--token', 'x', '--timeout', '1s']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/^FAILED at handshake: no JoinResponse within 1000 ms$/m);
    expect(Date.now() - t0).toBeLessThan(10_000);
  });

  it.each<[string[], RegExp, Record<string, string>?]>([
    [['ftp://host', '--token', 'x'], /^volly-pq: <url>: expected ws:\/\/, wss:\/\/, http:\/\/ or https:\/\/, got ftp:\n$/],
    [['not a url', '--token', 'x'], /^volly-pq: <url>: not a URL: "not a url"\n$/],
    [['ws://h', '--token', 'x', '--room', 'r'], /^volly-pq: --token: --room, --identity, --key and --config mint a token; give one or the other\n$/],
    [['ws://h', '--token', 'x', '--mode', 'token-bound'], /^volly-pq: --mode token-bound with --token needs --bind-key FILE/],
    [['ws://h', '--mode', 'sideways'], /^volly-pq: option '-m, --mode <mode>' argument 'sideways' is invalid/],
    [['ws://h', '--timeout', 'soon'], /^volly-pq: --timeout: expected a duration/],
    [['ws://h'], /^volly-pq: LIVEKIT_KEYS is not set/, {}],
    [[], /^volly-pq: missing required argument 'url'\n$/],
  ])('bad usage %j: exit 2 before dialing', async (args, line, env = KEYS) => {
    await usageError(['probe', ...args], line, env);
  });

  it('--bind-key conflicts: in-band mode, another algorithm, a token bound to another key', async () => {
    const file = join(tempDir(), 'key.json');
    await volly(['keygen', '--out', file]);
    await usageError(['probe', 'ws://h', '--bind-key', file, '--mode', 'in-band'], /^volly-pq: --bind-key: only with --mode token-bound\n$/);
    await usageError(['probe', 'ws://h', '--bind-key', file, '--algorithm', 'X-Wing'], /^volly-pq: --algorithm X-Wing: the key in --bind-key is ML-KEM-768\n$/);
    const other = await volly(['token', '-r', 'r', '-i', 'i'], KEYS);
    await usageError(['probe', 'ws://h', '--bind-key', file, '--token', other.stdout.trim()], /^volly-pq: --token: not bound to the public key in --bind-key/);
  });
});
