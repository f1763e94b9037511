// volly-pq tunnel's settings: loopback-only listening unless --allow-remote,
// the proxy URL's forms, the protocol choice, and the v2 server-key and
// bound-key files, each refused with a typed error naming the option.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getKem, getSigner, toBase64Url, v2 } from '@volly/shared';
import { describe, expect, it } from 'vitest';
import { TunnelError } from '../src/tunnel/errors.js';
import { isLoopbackHost, readServerKeys, type TunnelCliOptions, tunnelSettings } from '../src/tunnel/options.js';

const dir = mkdtempSync(join(tmpdir(), 'tunnel-options-'));
const file = (name: string, body: unknown) => {
  const p = join(dir, name);
  writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
  return p;
};
const base: TunnelCliOptions = { listen: '127.0.0.1:7881', server: 'wss://proxy.example', protocol: 'v2', logLevel: 'info' };
const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(TunnelError);
    return (err as TunnelError).code;
  }
  return undefined;
};

describe('tunnelSettings', () => {
  it('listens on loopback by default forms and refuses anything else without --allow-remote', () => {
    for (const host of ['127.0.0.1', '127.3.4.5', '[::1]', 'localhost']) expect(tunnelSettings({ ...base, listen: `${host}:0` }).listen.port).toBe(0);
    for (const host of ['0.0.0.0', '10.0.0.7', '[::]', 'bot.example'])
      expect(codeOf(() => tunnelSettings({ ...base, listen: `${host}:7881` }))).toBe('ERR_TUNNEL_REMOTE_LISTEN');
    expect(tunnelSettings({ ...base, listen: '0.0.0.0:7881', allowRemote: true }).listen.host).toBe('0.0.0.0');
    expect(isLoopbackHost('128.0.0.1')).toBe(false);
  });

  it('derives the signaling and HTTP bases from --server, keeping a path prefix', () => {
    const s = tunnelSettings({ ...base, server: 'https://proxy.example/lk/' });
    expect([s.server.href, s.serverHttp.href]).toEqual(['wss://proxy.example/lk', 'https://proxy.example/lk']);
    expect(tunnelSettings({ ...base, server: 'ws://127.0.0.1:7880' }).serverHttp.href).toBe('http://127.0.0.1:7880/');
    for (const server of [undefined, 'proxy.example', 'ftp://proxy.example', 'wss://proxy.example/?x=1', 'wss://u:p@proxy.example'])
      expect(codeOf(() => tunnelSettings({ ...base, ...(server ? { server } : { server: undefined }) }))).toBe('ERR_TUNNEL_SERVER_URL');
  });

  it('takes v2, v1 or auto', () => {
    expect(tunnelSettings({ ...base, protocol: 'v1' }).protocol).toBe('v1');
    expect(codeOf(() => tunnelSettings({ ...base, protocol: 'v3' }))).toBe('ERR_TUNNEL_PROTOCOL');
  });

  it('reads --server-key as a well-known document or a keygen key file, and --bind-key as a key pair', () => {
    const pair = getKem('X-Wing').keygen();
    const key = v2.staticKey('X-Wing', pair.publicKey, 2_000_000_000);
    const doc = file('doc.json', v2.wellKnownDocument([key]));
    const pub = file('pub.json', { algorithm: 'X-Wing', publicKey: toBase64Url(pair.publicKey) });
    const full = file('pair.json', { algorithm: 'X-Wing', publicKey: toBase64Url(pair.publicKey), secretKey: toBase64Url(pair.secretKey) });
    expect(readServerKeys(doc).kem[0]?.id).toEqual(key.id);
    expect(readServerKeys(pub).kem[0]?.id).toEqual(key.id);
    const sig = getSigner('ML-DSA-65').keygen();
    const pin = readServerKeys(file('sig.json', { algorithm: 'ML-DSA-65', publicKey: toBase64Url(sig.publicKey) }));
    expect([pin.kem, pin.sig[0]?.publicKey]).toEqual([[], sig.publicKey]);
    const s = tunnelSettings({ ...base, serverKey: [doc], bindKey: [full] });
    expect(s.serverKemKeys).toHaveLength(1);
    expect(s.keyPairs[0]?.publicKey).toEqual(pair.publicKey);
    expect(codeOf(() => tunnelSettings({ ...base, serverKey: [file('bad.json', '{nope')] }))).toBe('ERR_TUNNEL_SERVER_KEY');
    expect(codeOf(() => tunnelSettings({ ...base, bindKey: [pub] }))).toBe('ERR_TUNNEL_BIND_KEY');
  });
});
