// How the proxy reads the negotiated group on the server side: the
// `kex_group` field ([19] EXPLICIT INTEGER) of the DER SSL_SESSION that
// `getSession()` returns (proxy/src/tls.ts). Fixed vectors taken from this
// Node 24 / OpenSSL 3.5 server, malformed input, names, and a live server
// socket whose getEphemeralKeyInfo() is null while the session names the group.

import { once } from 'node:events';
import { type AddressInfo, connect, createServer as createTlsServer, type TLSSocket } from 'node:tls';
import { describe, expect, it } from 'vitest';
import { groupName, isPqGroup, sessionKexGroup, tlsFactsOf, tlsLabels } from '../../proxy/src/tls.ts';
import { createTestPki } from '../harness/tls.ts';

// Server-side SSL_SESSIONs (TLS 1.3, before any ticket: no secret in them).
const TLS13_X25519MLKEM768 =
  '3047020101020203040402130204000400a10602046b080ce7a20402021c20a42204206365323933313130346564353766353961616131636433663334373564323864b304020211ec';
const TLS13_X25519 =
  '3046020101020203040402130204000400a10602046b080ce7a20402021c20a42204206365323933313130346564353766353961616131636433663334373564323864b30302011d';

describe('sessionKexGroup', () => {
  it('reads kex_group from OpenSSL 3.5 sessions', () => {
    expect(sessionKexGroup(Buffer.from(TLS13_X25519MLKEM768, 'hex'))).toBe(0x11ec);
    expect(sessionKexGroup(Buffer.from(TLS13_X25519, 'hex'))).toBe(0x1d);
  });

  it('long-form lengths', () => {
    // SEQUENCE with a 0x81 length, a 200-byte OCTET STRING (0x81 0xc8), then [19] INTEGER 23.
    const body = Buffer.concat([Buffer.from([0x04, 0x81, 0xc8]), Buffer.alloc(200), Buffer.from('b303020117', 'hex')]);
    expect(sessionKexGroup(Buffer.concat([Buffer.from([0x30, 0x81, body.length]), body]))).toBe(23);
  });

  it('undefined for anything else: empty, not a SEQUENCE, truncated, no [19], a zero group, a wrong inner type', () => {
    const v = Buffer.from(TLS13_X25519MLKEM768, 'hex');
    for (const bad of [
      Buffer.alloc(0),
      Buffer.from([0x30]),
      Buffer.from('0400', 'hex'),
      v.subarray(0, v.length - 3),
      Buffer.from('3003020101', 'hex'),
      Buffer.from('3005b303020100', 'hex'),
      Buffer.from('3005b303040117', 'hex'),
      Buffer.from('3084ffffffff', 'hex'),
      Buffer.from('3080', 'hex'),
    ]) {
      expect(sessionKexGroup(bad), bad.toString('hex')).toBeUndefined();
    }
  });
});

describe('names and labels', () => {
  it('OpenSSL names, PQ or not, and bounded labels', () => {
    expect([0x11ec, 0x11eb, 0x11ed, 0x0201, 0x1d, 0x17, 0x18].map(groupName)).toEqual([
      'X25519MLKEM768',
      'SecP256r1MLKEM768',
      'SecP384r1MLKEM1024',
      'MLKEM768',
      'X25519',
      'P-256',
      'P-384',
    ]);
    expect(groupName(0x1234)).toBe('0x1234');
    expect([0x11ec, 0x11eb, 0x11ed, 0x0200, 0x0201, 0x0202].every(isPqGroup)).toBe(true);
    expect([0x1d, 0x17, 0x18, 0x19, 0x1e, 0x100].some(isPqGroup)).toBe(false);
    expect(tlsLabels(undefined)).toEqual({ tls_version: 'none', tls_group: 'none', tls_kex: 'none' });
  });
});

describe('on a live server socket', () => {
  it('getEphemeralKeyInfo() is null on the server, the session names the group the client saw', async () => {
    const pki = createTestPki();
    const server = createTlsServer({ cert: pki.server.certPem, key: pki.server.keyPem, ecdhCurve: 'X25519MLKEM768:X25519' });
    const accepted: TLSSocket[] = [];
    server.on('secureConnection', (s: TLSSocket) => accepted.push(s));
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      for (const [curve, want] of [
        ['X25519MLKEM768', 'X25519MLKEM768'],
        ['X25519', 'X25519'],
      ] as const) {
        const c = connect({ host: '127.0.0.1', port: (server.address() as AddressInfo).port, ca: pki.caPem, ecdhCurve: curve });
        await once(c, 'secureConnect');
        await new Promise((r) => setTimeout(r, 20));
        const s = accepted.at(-1) as TLSSocket;
        expect(s.getEphemeralKeyInfo()).toBeNull();
        expect(c.getEphemeralKeyInfo()?.name).toBe(want);
        expect(tlsFactsOf(s)).toEqual({ version: 'TLSv1.3', group: want, kex: want === 'X25519' ? 'classical' : 'pq', resumed: false });
        expect(tlsFactsOf(s)).toBe(tlsFactsOf(s)); // computed once per socket
        c.destroy();
      }
      expect(tlsFactsOf(undefined)).toBeUndefined();
    } finally {
      server.close();
    }
  });
});
