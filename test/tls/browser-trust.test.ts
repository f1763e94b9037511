// harness/tls.ts for browser tests: Debian Chromium trusts the test
// certificate through --ignore-certificate-errors-spki-list=<spkiHash> (and
// refuses it without), and what Chromium negotiates with the proxy's TLS,
// read on the wire and from the proxy's metrics, is X25519MLKEM768.

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchBrowser } from '../harness/browser.ts';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricValue } from '../harness/metrics.ts';
import { createTestPki, type TestPki } from '../harness/tls.ts';
import { startTlsProxy, type TlsProxy } from '../harness/tls-proxy.ts';
import { startTlsTap, type TlsTap } from '../harness/tls-tap.ts';

let livekit: LiveKitServer;
let pki: TestPki;
let proxy: TlsProxy;
let tap: TlsTap;

beforeAll(async () => {
  pki = createTestPki();
  livekit = await startLiveKit();
  proxy = await startTlsProxy(livekit, pki.server);
  tap = await startTlsTap(proxy.port);
});
afterAll(async () => {
  await tap?.close();
  await proxy?.close();
  await livekit?.stop();
});

describe('Chromium and the proxy over TLS', () => {
  it('refuses the test certificate by default and trusts it by SPKI hash; it negotiates X25519MLKEM768', async () => {
    const url = `https://localhost:${tap.port}/`;
    const plain = await launchBrowser();
    try {
      const page = await plain.newPage();
      await expect(page.goto(url)).rejects.toThrow(/ERR_CERT_AUTHORITY_INVALID/);
    } finally {
      await plain.close();
    }

    const trusting = await launchBrowser({ args: [`--ignore-certificate-errors-spki-list=${pki.server.spkiHash}`] });
    try {
      const page = await trusting.newPage();
      const res = await page.goto(url);
      expect(res?.status()).toBe(200);
      expect(await res?.text()).toBe('OK');
      const security = await res?.securityDetails();
      expect(security).toMatchObject({ protocol: 'TLS 1.3', subjectName: 'localhost' });
    } finally {
      await trusting.close();
    }

    const chromium = tap.connections.filter((c) => c.version !== undefined);
    expect(chromium.length).toBeGreaterThan(0);
    for (const wire of chromium) {
      expect(wire.clientHellos[0]?.keyShares).toContain('X25519MLKEM768');
      expect(wire.group).toBe('X25519MLKEM768');
    }
    // Handshakes the proxy completed (the refusing browser's end at its certificate check).
    const metrics = await proxy.metrics();
    expect(metricValue(metrics, 'volly_tls_handshakes_total', { tls_version: 'TLSv1.3', tls_group: 'X25519MLKEM768', tls_kex: 'pq' })).toBeGreaterThanOrEqual(
      1,
    );
    expect(metricValue(metrics, 'volly_tls_handshakes_total', { tls_version: 'TLSv1.3', tls_group: 'X25519', tls_kex: 'classical' })).toBe(0);
    process.stdout.write(
      `[tls browser] Chromium offered ${chromium[0]?.clientHellos[0]?.groups.join(',')} (key shares ${chromium[0]?.clientHellos[0]?.keyShares.join(',')}); negotiated ${chromium[0]?.group}\n`,
    );
  });
});
