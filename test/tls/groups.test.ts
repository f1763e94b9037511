// The proxy serving wss:// itself (VOLLY_TLS_CERT/KEY) in front of the real
// LiveKit: for each client TLS configuration, a sealed volly-pq.v1 join goes
// through, and the key-exchange group the proxy records for the session (its
// session_start line, volly_sessions_tls_total, volly_tls_handshakes_total)
// is the group the client negotiated (Node's client-side
// getEphemeralKeyInfo()) and the group on the wire (ServerHello key_share in
// TLS 1.3, ServerKeyExchange curve in TLS 1.2, read by a TCP tap in between).

import { once } from 'node:events';
import { createConnection } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { metricValue } from '../harness/metrics.ts';
import { connectSignal } from '../harness/signal.ts';
import { createTestPki, type TestPki } from '../harness/tls.ts';
import { type ClientTls, clientView, connectPqTls, sessionLines, startTlsProxy, type TlsProxy } from '../harness/tls-proxy.ts';
import { startTlsTap, type TlsTap, type TlsWire } from '../harness/tls-tap.ts';
import { until } from '../harness/wait.ts';

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

interface Case {
  name: string;
  client: Omit<ClientTls, 'ca'>;
  /** What the client offers, as seen on the wire. */
  offered: { groups: string[]; keyShares: string[] };
  version: 'TLSv1.2' | 'TLSv1.3';
  group: string;
  kex: 'pq' | 'classical';
}

const CASES: Case[] = [
  {
    name: 'restricted to X25519MLKEM768',
    client: { ecdhCurve: 'X25519MLKEM768' },
    offered: { groups: ['X25519MLKEM768'], keyShares: ['X25519MLKEM768'] },
    version: 'TLSv1.3',
    group: 'X25519MLKEM768',
    kex: 'pq',
  },
  {
    name: 'restricted to X25519',
    client: { ecdhCurve: 'X25519' },
    offered: { groups: ['X25519'], keyShares: ['X25519'] },
    version: 'TLSv1.3',
    group: 'X25519',
    kex: 'classical',
  },
  {
    // OpenSSL 3.5 takes a key share it can use over a HelloRetryRequest for a
    // group it prefers when both sit in one preference tuple (the default
    // list is one tuple): X25519, recorded as classical.
    name: 'offering both, a key share for X25519 only',
    client: { ecdhCurve: 'X25519:X25519MLKEM768' },
    offered: { groups: ['X25519', 'X25519MLKEM768'], keyShares: ['X25519'] },
    version: 'TLSv1.3',
    group: 'X25519',
    kex: 'classical',
  },
  {
    // Server preference (honorCipherOrder) picks X25519MLKEM768 even though the client lists X25519 first.
    name: 'key shares for both, X25519 first',
    client: { ecdhCurve: '*X25519:*X25519MLKEM768' },
    offered: { groups: ['X25519', 'X25519MLKEM768'], keyShares: ['X25519', 'X25519MLKEM768'] },
    version: 'TLSv1.3',
    group: 'X25519MLKEM768',
    kex: 'pq',
  },
  {
    name: 'TLS 1.2 with P-256',
    client: { ecdhCurve: 'P-256', maxVersion: 'TLSv1.2' },
    offered: { groups: ['P-256'], keyShares: [] },
    version: 'TLSv1.2',
    group: 'P-256',
    kex: 'classical',
  },
];

/** What each case saw, printed at the end for the record. */
const seen: string[] = [];

describe('the group the proxy records is the group the client negotiated', () => {
  let n = 0;
  for (const c of CASES) {
    it(`${c.name}: client, wire and proxy agree on ${c.group} (${c.kex}), and a sealed join works`, async () => {
      const identity = `tls-${++n}`;
      const wires = tap.connections.length;
      const { sig, client } = await connectPqTls(`wss://127.0.0.1:${tap.port}`, await proxy.token(`tls-room-${n}`, identity), { ca: pki.caPem, ...c.client });
      expect(sig.join.participant?.identity).toBe(identity);
      expect(sig.ws.pq).toMatchObject({ algorithm: 'ML-KEM-768' });

      // The client's view.
      expect(client).toMatchObject({ version: c.version, group: c.group, fingerprint256: pki.server.fingerprint256 });
      // The wire.
      const wire = tap.connections[wires] as TlsWire;
      expect(wire.clientHellos[0]).toMatchObject(c.offered);
      expect(wire.helloRetryGroup).toBeUndefined();
      expect({ version: wire.version, group: wire.group }).toEqual({ version: c.version, group: c.group });
      // The proxy's session line, written when the session started relaying.
      const { start } = sessionLines(proxy.logs, identity);
      expect(start).toMatchObject({ mode: 'pq', algorithm: 'ML-KEM-768', tlsVersion: c.version, tlsGroup: c.group });
      seen.push(`${c.name}: client ${client.version} ${client.group}; wire ${wire.version} ${wire.group}; proxy ${start?.tlsVersion} ${start?.tlsGroup}`);

      const tlsLabels = { tls_version: c.version, tls_group: c.group, tls_kex: c.kex };
      const before = metricValue(await proxy.metrics(), 'volly_sessions_tls_total', { mode: 'pq', algorithm: 'ML-KEM-768', ...tlsLabels });
      await sig.close();
      const end = await until('session_end', () => sessionLines(proxy.logs, identity).end);
      expect(end).toMatchObject({ tlsVersion: c.version, tlsGroup: c.group, outcome: 'closed' });
      const text = await proxy.metrics();
      expect(metricValue(text, 'volly_sessions_tls_total', { mode: 'pq', algorithm: 'ML-KEM-768', ...tlsLabels })).toBe(before + 1);
      expect(metricValue(text, 'volly_tls_handshakes_total', tlsLabels)).toBeGreaterThanOrEqual(1);
    });
  }

  it('a classical LiveKit client over wss:// is recorded with its TLS group too', async () => {
    const identity = 'tls-classical';
    const at = await proxy.token('tls-room-classical', identity);
    const conn = await connectSignal(`wss://127.0.0.1:${proxy.port}`, at, undefined, { wsOptions: { ca: pki.caPem, ecdhCurve: 'X25519MLKEM768' } });
    expect(conn.join.participant?.identity).toBe(identity);
    const client = clientView((conn.ws as unknown as { _socket: import('node:tls').TLSSocket })._socket);
    expect(client.group).toBe('X25519MLKEM768');
    const { start } = sessionLines(proxy.logs, identity);
    expect(start).toMatchObject({ mode: 'classical', tlsVersion: 'TLSv1.3', tlsGroup: 'X25519MLKEM768' });
    conn.ws.close(1000);
    await until('session_end', () => sessionLines(proxy.logs, identity).end);
    expect(
      metricValue(await proxy.metrics(), 'volly_sessions_tls_total', {
        mode: 'classical',
        algorithm: 'none',
        tls_version: 'TLSv1.3',
        tls_group: 'X25519MLKEM768',
        tls_kex: 'pq',
      }),
    ).toBe(1);
  });

  it('a client with no group in common fails the TLS handshake and is counted', async () => {
    const tls = await import('node:tls');
    const err = await new Promise<Error>((resolve) => {
      const s = tls.connect({ host: '127.0.0.1', port: proxy.port, ca: pki.caPem, ecdhCurve: 'X448' });
      s.on('secureConnect', () => resolve(new Error('connected')));
      s.on('error', resolve);
    });
    expect(err.message).toMatch(/handshake failure|alert/);
    await until('tls error metric', async () => (await proxy.metrics()).includes('volly_tls_handshake_errors_total{code='));
  });
});

describe('a TCP client that never starts TLS', () => {
  it('is closed at VOLLY_HANDSHAKE_TIMEOUT_MS and counted', async () => {
    const quick = await startTlsProxy(livekit, pki.server, { VOLLY_HANDSHAKE_TIMEOUT_MS: '300' });
    try {
      const started = performance.now();
      const socket = createConnection({ host: '127.0.0.1', port: quick.port });
      await once(socket, 'close');
      const ms = performance.now() - started;
      expect(ms).toBeGreaterThanOrEqual(250);
      expect(ms).toBeLessThan(3000);
      await until(
        'the timeout counted',
        async () => metricValue(await quick.metrics(), 'volly_tls_handshake_errors_total', { code: 'ERR_TLS_HANDSHAKE_TIMEOUT' }) === 1 || undefined,
      );
    } finally {
      await quick.close();
    }
  });
});

describe('VOLLY_TLS_GROUPS with OpenSSL 3.5 tuples: X25519MLKEM768/X25519:P-256:P-384', () => {
  let strict: TlsProxy;
  let strictTap: TlsTap;
  beforeAll(async () => {
    strict = await startTlsProxy(livekit, pki.server, { VOLLY_TLS_GROUPS: 'X25519MLKEM768/X25519:P-256:P-384' });
    strictTap = await startTlsTap(strict.port);
  });
  afterAll(async () => {
    await strictTap?.close();
    await strict?.close();
  });

  it('a client offering both with a key share for X25519 only is sent a HelloRetryRequest and ends on X25519MLKEM768', async () => {
    const identity = 'tls-hrr';
    const { sig, client } = await connectPqTls(`wss://127.0.0.1:${strictTap.port}`, await strict.token('tls-room-hrr', identity), {
      ca: pki.caPem,
      ecdhCurve: 'X25519:X25519MLKEM768',
    });
    const wire = strictTap.connections[0] as TlsWire;
    expect(wire.clientHellos.map((h) => h.keyShares)).toEqual([['X25519'], ['X25519MLKEM768']]);
    expect(wire.helloRetryGroup).toBe('X25519MLKEM768');
    expect(wire.group).toBe('X25519MLKEM768');
    expect(client.group).toBe('X25519MLKEM768');
    expect(sessionLines(strict.logs, identity).start).toMatchObject({ tlsVersion: 'TLSv1.3', tlsGroup: 'X25519MLKEM768' });
    seen.push(
      `tuple server, offering both, key share X25519: HRR ${wire.helloRetryGroup}; client ${client.group}; wire ${wire.group}; proxy ${sessionLines(strict.logs, identity).start?.tlsGroup}`,
    );
    await sig.close();
  });

  it('a client that supports only X25519 still connects (classical)', async () => {
    const identity = 'tls-hrr-classical';
    const { sig, client } = await connectPqTls(`wss://127.0.0.1:${strict.port}`, await strict.token('tls-room-hrr2', identity), {
      ca: pki.caPem,
      ecdhCurve: 'X25519',
    });
    expect(client.group).toBe('X25519');
    expect(sessionLines(strict.logs, identity).start).toMatchObject({ tlsGroup: 'X25519' });
    await sig.close();
  });
});

afterAll(() => {
  process.stdout.write(`[tls groups]\n  ${seen.join('\n  ')}\n`);
});
