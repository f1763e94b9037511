// The TLS settings as an operator meets them: `volly-pq proxy` as a child
// process with VOLLY_TLS_* in its environment (or a YAML file). A bad setting
// exits 2 before anything listens, with one line saying what is wrong; good
// ones serve wss://, which `volly-pq probe` joins through (trusting the test CA
// with NODE_EXTRA_CA_CERTS), and the proxy's session line names the group.

import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { volly } from '../../proxy/test/run-cli.js';
import { startChildProxy } from '../harness/child-proxy.ts';
import { generateApiKeyPair, type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { makeTempDir, waitFor } from '../harness/process.ts';
import { createTestPki, type TestPki } from '../harness/tls.ts';

const client = generateApiKeyPair();
const upstream = generateApiKeyPair();
/** Client keys and the separate upstream key every proxy start needs (a probe uses only LIVEKIT_KEYS). */
const KEYS = { LIVEKIT_KEYS: `${client.apiKey}: ${client.apiSecret}`, VOLLY_UPSTREAM_KEY: upstream.apiKey, VOLLY_UPSTREAM_SECRET: upstream.apiSecret };
let pki: TestPki;

beforeAll(() => {
  pki = createTestPki();
});

describe('a bad TLS setting: exit 2, one line naming it', () => {
  const cases: Array<[string, () => Record<string, string>, RegExp]> = [
    [
      'a certificate without a key',
      () => ({ VOLLY_TLS_CERT: pki.server.certPath }),
      /^volly-pq: VOLLY_TLS_CERT and VOLLY_TLS_KEY go together: set both \(TLS\) or neither \(plain HTTP\)$/,
    ],
    ['a key without a certificate', () => ({ VOLLY_TLS_KEY: pki.server.keyPath }), /^volly-pq: VOLLY_TLS_CERT and VOLLY_TLS_KEY go together/],
    [
      'a missing certificate file',
      () => ({ VOLLY_TLS_CERT: '/nonexistent/tls.crt', VOLLY_TLS_KEY: pki.server.keyPath }),
      /^volly-pq: VOLLY_TLS_CERT\/VOLLY_TLS_KEY: cannot read the certificate \/nonexistent\/tls\.crt: ENOENT$/,
    ],
    [
      'the key of another certificate',
      () => ({ VOLLY_TLS_CERT: pki.server.certPath, VOLLY_TLS_KEY: pki.caCertPath.replace('ca.pem', 'ca.key') }),
      /^volly-pq: VOLLY_TLS_CERT\/VOLLY_TLS_KEY: the key .*ca\.key does not match the certificate .*server\.pem$/,
    ],
    [
      'a key file given as the certificate',
      () => ({ VOLLY_TLS_CERT: pki.server.keyPath, VOLLY_TLS_KEY: pki.server.keyPath }),
      /^volly-pq: VOLLY_TLS_CERT\/VOLLY_TLS_KEY: the certificate .*server\.key is not a PEM certificate$/,
    ],
    [
      'a group OpenSSL does not know',
      () => ({ VOLLY_TLS_CERT: pki.server.certPath, VOLLY_TLS_KEY: pki.server.keyPath, VOLLY_TLS_GROUPS: 'X25519MLKEM768:Kyber512' }),
      /^volly-pq: VOLLY_TLS_GROUPS \(or "tls_groups" in the config file\): OpenSSL 3\.5\.\d+ does not accept "X25519MLKEM768:Kyber512"/,
    ],
    ['TLS 1.1', () => ({ VOLLY_TLS_MIN_VERSION: 'TLSv1.1' }), /^volly-pq: VOLLY_TLS_MIN_VERSION \(or "tls_min_version" in the config file\): /],
  ];
  it.each(cases)('%s', async (_what, env, message) => {
    const r = await volly(['proxy'], { ...KEYS, VOLLY_LISTEN: '127.0.0.1:0', VOLLY_ADMIN_LISTEN: '127.0.0.1:0', ...env() });
    expect(r.code).toBe(2);
    expect(r.stdout).toBe('');
    expect(r.stderr.trim()).toMatch(message);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
  });

  it('the YAML file takes the same settings (--check)', async () => {
    const file = join(makeTempDir('tls-yaml'), 'volly.yaml');
    writeFileSync(file, `tls_cert: ${pki.server.certPath}\ntls_key: ${pki.server.keyPath}\ntls_min_version: TLSv1.3\ntls_groups: X25519MLKEM768/X25519\n`);
    expect((await volly(['proxy', '--config', file, '--check'], KEYS)).code).toBe(0);
    writeFileSync(file, `tls_cert: ${pki.server.certPath}\n`);
    const r = await volly(['proxy', '--config', file, '--check'], KEYS);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^volly-pq: VOLLY_TLS_CERT and VOLLY_TLS_KEY go together/);
  });
});

describe('volly-pq proxy serving wss:// as a child process', () => {
  let livekit: LiveKitServer;
  beforeAll(async () => {
    livekit = await startLiveKit();
  });
  afterAll(async () => {
    await livekit?.stop();
  });

  it('volly-pq probe joins over wss:// (X25519MLKEM768) and the session line names the group', async () => {
    const proxy = await startChildProxy(livekit, {
      client,
      noWait: true,
      inspect: false,
      env: { VOLLY_TLS_CERT: pki.server.certPath, VOLLY_TLS_KEY: pki.server.keyPath },
    });
    const { proc, port } = proxy;
    try {
      await waitFor('the proxy to be ready', async () => (await fetch(`${proxy.adminUrl}/readyz`)).status === 200, { proc, timeoutMs: 20_000 });
      const probe = await volly(['probe', `wss://localhost:${port}`, '--room', 'tls-probe', '--identity', 'prober', '--json'], {
        ...KEYS,
        NODE_EXTRA_CA_CERTS: pki.caCertPath,
      });
      expect(probe.stderr).toBe('');
      expect(probe.code).toBe(0);
      expect(JSON.parse(probe.stdout)).toMatchObject({ ok: true, algorithm: 'ML-KEM-768' });
      // Plain ws:// to a TLS listener does not get through.
      expect((await volly(['probe', `ws://127.0.0.1:${port}`, '--room', 'tls-probe'], KEYS)).code).not.toBe(0);

      const lines = proc
        .logTail(200)
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
      expect(lines.find((l) => l.event === 'listening')).toMatchObject({ tls: true });
      expect(lines.find((l) => l.event === 'tls_certificate')).toMatchObject({
        fingerprint256: pki.server.fingerprint256,
        groups: 'X25519MLKEM768:X25519:P-256:P-384',
        minVersion: 'TLSv1.2',
      });
      expect(lines.find((l) => l.event === 'session_start' && l.identity === 'prober')).toMatchObject({
        mode: 'pq',
        tlsVersion: 'TLSv1.3',
        tlsGroup: 'X25519MLKEM768',
      });
    } finally {
      await proc.stop();
    }
  });
});
