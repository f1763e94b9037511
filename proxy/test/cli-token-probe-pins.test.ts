// `volly-pq token` and `volly-pq probe` with the proxy's keys, without a
// proxy: token pins v2 static keys (video.pqServerKemKeys) from key files or a
// well-known document served here, and v1 identity keys (video.pqServerKeys);
// probe's --protocol, --server-key and --well-known refuse what cannot work
// before dialing. Probes of a real proxy with keys are in test/cli/probe.test.ts.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fromBase64Url, getKem, peekTokenPayload, toBase64Url, v2 } from '@volly/shared';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { volly } from './run-cli.js';

const KEYS = { LIVEKIT_KEYS: `key1: ${'a'.repeat(32)}` };
const dir = mkdtempSync(join(tmpdir(), 'volly-cli-pins-'));
const file = (name: string) => join(dir, name);
const videoOf = (token: string) => peekTokenPayload(token)?.video as Record<string, unknown>;

/** A static key as a keygen file's public half, and its v2 key id. */
function kemKeyFile(name: string, algorithm: 'X-Wing' | 'ML-KEM-768'): { path: string; key: v2.ServerStaticKey } {
  const { publicKey } = getKem(algorithm).keygen();
  writeFileSync(file(name), JSON.stringify({ algorithm, publicKey: toBase64Url(publicKey) }));
  return { path: file(name), key: v2.staticKey(algorithm, publicKey, 2_000_000_000) };
}

let server: Server;
let base: string;
const xwing = kemKeyFile('x-wing.json', 'X-Wing');
const mlkem = kemKeyFile('ml-kem.json', 'ML-KEM-768');
const idOf = (k: v2.ServerStaticKey) => toBase64Url(k.id);

beforeAll(async () => {
  // The proxy's document at /.well-known/volly-pq; nothing else.
  server = createServer((req, res) => {
    if (req.url === v2.WELL_KNOWN_PATH) res.writeHead(200, { 'content-type': 'application/json' }).end(v2.wellKnownDocument([xwing.key, mlkem.key]));
    else res.writeHead(404).end('not found');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

async function mint(args: string[]): Promise<string> {
  const r = await volly(['token', '-r', 'room', '-i', 'alice', ...args], KEYS);
  expect(r.code, r.stderr).toBe(0);
  return r.stdout.trim();
}

async function usage(args: string[], line: RegExp): Promise<void> {
  const r = await volly(args, KEYS);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stdout).toBe('');
  expect(r.stderr).toMatch(line);
}

describe('token pins the proxy’s keys', () => {
  it('--server-key: a v2 key file pins its key id; an ML-DSA-65 file pins the identity key (v1)', async () => {
    const sig = file('server-id.json');
    expect((await volly(['keygen', '--algorithm', 'ML-DSA-65', '--out', sig])).code).toBe(0);
    const video = videoOf(await mint(['--server-key', xwing.path, '--server-key', sig]));
    expect(video.pqServerKemKeys).toEqual([idOf(xwing.key)]);
    expect((video.pqServerKeys as string[]).map((k) => fromBase64Url(k)?.length)).toEqual([1952]);
    expect(video.roomJoin).toBe(true);
  });

  it('--well-known: every key of the document (current and next), from an origin or the document’s URL', async () => {
    expect(videoOf(await mint(['--well-known', base])).pqServerKemKeys).toEqual([idOf(xwing.key), idOf(mlkem.key)]);
    expect(videoOf(await mint(['--well-known', `${base}${v2.WELL_KNOWN_PATH}`, '--server-key', mlkem.path])).pqServerKemKeys).toEqual([
      idOf(mlkem.key),
      idOf(xwing.key),
      idOf(mlkem.key),
    ]);
  });

  it('without either, no pins', async () => {
    const video = videoOf(await mint([]));
    expect(video.pqServerKemKeys).toBeUndefined();
    expect(video.pqServerKeys).toBeUndefined();
  });

  it('a document that is not there: exit 1, one line with the URL and status', async () => {
    const r = await volly(['token', '-r', 'room', '-i', 'alice', '--well-known', `${base}/elsewhere`], KEYS);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(`volly-pq: ${base}/elsewhere: HTTP 404\n`);
  });

  it.each<[string[], RegExp]>([
    [['--server-key', '/nonexistent.json'], /^volly-pq: --server-key \/nonexistent\.json: cannot read \(ENOENT\)\n$/],
    [['--well-known', 'ftp://host'], /^volly-pq: --well-known: expected http:\/\/, https:\/\/, ws:\/\/ or wss:\/\/, got ftp:\n$/],
  ])('bad input %j: exit 2', async (args, line) => {
    await usage(['token', '-r', 'room', '-i', 'alice', ...args], line);
  });
});

describe('probe with --protocol, --server-key, --well-known', () => {
  it.each<[string, string[], RegExp]>([
    ['--protocol v3', ['--protocol', 'v3'], /^volly-pq: option '-p, --protocol <version>' argument 'v3' is invalid/],
    [
      'v1 with a v2 key',
      ['--protocol', 'v1', '--server-key', xwing.path],
      /^volly-pq: --server-key: X-Wing and ML-KEM-768 keys are volly-pq\.v2 keys; not with --protocol v1\n$/,
    ],
    ['v1 with --well-known', ['--protocol', 'v1', '--well-known', 'http://h'], /^volly-pq: --well-known: a volly-pq\.v2 document; not with --protocol v1\n$/],
  ])('bad usage (%s): exit 2 before dialing', async (_what, args, line) => {
    await usage(['probe', 'ws://127.0.0.1:9', '--token', 'x', ...args], line);
  });

  it('--protocol v2 where no document is served: exit 1 at connect, naming the URL', async () => {
    const r = await volly(['probe', base, '--token', 'x', '--protocol', 'v2', '--well-known', `${base}/nowhere`, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      ok: false,
      protocol: 'v2',
      failure: { stage: 'connect', message: `no v2 server key: ${base}/nowhere: HTTP 404` },
    });
  });

  it('--well-known elsewhere: the probe reads the keys there and dials v2 to the current one', async () => {
    // Nothing accepts the upgrade here (404): what matters is the key it chose and the protocol it spoke.
    const r = await volly(['probe', `ws://127.0.0.1:${new URL(base).port}/lk`, '--token', 'x', '--well-known', base, '--json']);
    expect(r.code).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({
      protocol: 'v2',
      algorithm: 'X-Wing',
      serverKey: { id: Buffer.from(xwing.key.id).toString('hex'), from: 'document', pinned: false },
      failure: { stage: 'connect', httpStatus: 404 },
    });
  });
});
