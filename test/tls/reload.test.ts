// Certificate rotation without a restart, laid out as Kubernetes mounts a
// Secret: tls.crt and tls.key are symlinks into `..data`, itself a symlink to
// a timestamped directory that the kubelet swaps atomically. The proxy
// re-reads the pair every VOLLY_TLS_RELOAD_INTERVAL_MS: the next connection
// gets the new certificate, a session opened before keeps working, and a
// broken pair is logged once and not served.

import { X509Certificate } from 'node:crypto';
import { mkdirSync, renameSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { connect } from 'node:tls';
import { Ping } from '@livekit/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricValue } from '../harness/metrics.ts';
import type { PqSignal } from '../harness/pq-signal.ts';
import { makeTempDir } from '../harness/process.ts';
import { createTestPki, type TestCert, type TestPki } from '../harness/tls.ts';
import { connectPqTls, startTlsProxy, type TlsProxy } from '../harness/tls-proxy.ts';
import { until } from '../harness/wait.ts';

const RELOAD_MS = 100;

/** A Secret volume as the kubelet lays it out, with atomic swaps of `..data`. */
class SecretVolume {
  #n = 0;
  constructor(readonly dir: string) {}

  get certPath(): string {
    return join(this.dir, 'tls.crt');
  }
  get keyPath(): string {
    return join(this.dir, 'tls.key');
  }

  /** Writes a new timestamped directory with these PEMs and points `..data` at it. */
  publish(certPem: string, keyPem: string): void {
    const version = `..2026_01_01_00_00_0${++this.#n}.000000000`;
    mkdirSync(join(this.dir, version));
    writeFileSync(join(this.dir, version, 'tls.crt'), certPem);
    writeFileSync(join(this.dir, version, 'tls.key'), keyPem, { mode: 0o600 });
    symlinkSync(version, join(this.dir, '..data_tmp'));
    renameSync(join(this.dir, '..data_tmp'), join(this.dir, '..data'));
    if (this.#n === 1) {
      symlinkSync('..data/tls.crt', this.certPath);
      symlinkSync('..data/tls.key', this.keyPath);
    } else {
      rmSync(join(this.dir, `..2026_01_01_00_00_0${this.#n - 1}.000000000`), { recursive: true });
    }
  }
}

let livekit: LiveKitServer;
let pki: TestPki;
let volume: SecretVolume;
let proxy: TlsProxy;
let a: TestCert;
let b: TestCert;

/** The fingerprint of the certificate a new TLS connection is served. */
function servedFingerprint(): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect({ host: '127.0.0.1', port: proxy.port, ca: pki.caPem }, () => {
      const fp = s.getPeerX509Certificate()?.fingerprint256 ?? '';
      s.end();
      resolve(fp);
    });
    s.on('error', reject);
  });
}

beforeAll(async () => {
  pki = createTestPki();
  a = pki.server;
  b = pki.issue('server-b');
  volume = new SecretVolume(makeTempDir('tls-secret'));
  volume.publish(a.certPem, a.keyPem);
  livekit = await startLiveKit();
  proxy = await startTlsProxy(livekit, volume, { VOLLY_TLS_RELOAD_INTERVAL_MS: String(RELOAD_MS) });
});
afterAll(async () => {
  await proxy?.close();
  await livekit?.stop();
});

describe('a certificate swapped on disk', () => {
  let sig: PqSignal;

  it('is served to the next connection; a session opened before it keeps working', async () => {
    expect(await servedFingerprint()).toBe(a.fingerprint256);
    const opened = await connectPqTls(`wss://127.0.0.1:${proxy.port}`, await proxy.token('reload-room', 'before'), { ca: pki.caPem });
    sig = opened.sig;
    expect(opened.client.fingerprint256).toBe(a.fingerprint256);
    const expiry = metricValue(await proxy.metrics(), 'volly_tls_certificate_expiry_timestamp_seconds', {});
    expect(expiry).toBe(Math.floor(Date.parse(new X509Certificate(a.certPem).validTo) / 1000));
    const started = performance.now();

    volume.publish(b.certPem, b.keyPem);
    await until('the new certificate', async () => (await servedFingerprint()) === b.fingerprint256 || undefined, 5000);
    const tookMs = performance.now() - started;
    expect(tookMs).toBeLessThan(RELOAD_MS * 20);
    expect(proxy.logs.filter((l) => l.event === 'tls_reloaded')).toEqual([expect.objectContaining({ fingerprint256: b.fingerprint256 })]);
    expect(metricValue(await proxy.metrics(), 'volly_tls_certificate_reloads_total', { result: 'ok' })).toBe(1);

    // The session from before the swap still relays both ways.
    sig.send({ case: 'pingReq', value: new Ping({ timestamp: BigInt(Date.now()), rtt: 0n }) });
    expect((await sig.waitFor('pongResp', 10_000)).lastPingTimestamp).toBeGreaterThan(0n);
    // And a new sealed join is served the new certificate.
    const after = await connectPqTls(`wss://127.0.0.1:${proxy.port}`, await proxy.token('reload-room', 'after'), { ca: pki.caPem });
    expect(after.client.fingerprint256).toBe(b.fingerprint256);
    await after.sig.close();
  });

  it('a pair that does not load (key of another certificate) is logged once and the old one is kept', async () => {
    const c = pki.issue('server-c');
    volume.publish(c.certPem, b.keyPem);
    await until('tls_reload_failed', () => proxy.logs.find((l) => l.event === 'tls_reload_failed'), 5000);
    await new Promise((r) => setTimeout(r, RELOAD_MS * 5));
    const failed = proxy.logs.filter((l) => l.event === 'tls_reload_failed');
    expect(failed).toHaveLength(1);
    expect(failed[0]).toMatchObject({ level: 'warn', err: expect.stringMatching(/does not match the certificate/) });
    expect(await servedFingerprint()).toBe(b.fingerprint256);
    expect(metricValue(await proxy.metrics(), 'volly_tls_certificate_reloads_total', { result: 'error' })).toBe(1);

    // Fixed on disk: served.
    volume.publish(c.certPem, c.keyPem);
    await until('the fixed certificate', async () => (await servedFingerprint()) === c.fingerprint256 || undefined, 5000);
    expect(metricValue(await proxy.metrics(), 'volly_tls_certificate_reloads_total', { result: 'ok' })).toBe(2);
  });

  afterAll(async () => {
    await sig?.close();
  });
});
