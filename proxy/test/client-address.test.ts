// Who the client is (../src/client-address.ts): forwarded-for headers are
// believed only from configured proxies; everyone else's are replaced by the
// socket's address, and LiveKit is told that one address alone.

import type { IncomingMessage } from 'node:http';
import { BlockList } from 'node:net';
import { describe, expect, it } from 'vitest';
import { clientAddress, forwardedHeaders } from '../src/client-address.js';

const trusted = (...cidrs: string[]) => {
  const b = new BlockList();
  for (const c of cidrs) {
    const [a = '', bits] = c.split('/');
    b.addSubnet(a, Number(bits ?? (a.includes(':') ? 128 : 32)), a.includes(':') ? 'ipv6' : 'ipv4');
  }
  return b;
};
const req = (remoteAddress: string, headers: Record<string, string | string[]> = {}) => ({ socket: { remoteAddress }, headers }) as unknown as IncomingMessage;

describe('clientAddress', () => {
  it('nobody trusted (the default): the socket address, whatever the headers claim', () => {
    const r = req('203.0.113.9', { 'x-forwarded-for': '1.2.3.4', 'x-real-ip': '5.6.7.8' });
    expect(clientAddress(r, trusted())).toBe('203.0.113.9');
  });

  it('an untrusted peer cannot speak for anyone, even from a trusted range next door', () => {
    expect(clientAddress(req('10.0.1.5', { 'x-forwarded-for': '1.2.3.4' }), trusted('10.0.0.0/24'))).toBe('10.0.1.5');
  });

  it('a trusted ingress: the last hop it vouches for', () => {
    expect(clientAddress(req('10.0.0.2', { 'x-forwarded-for': '198.51.100.7' }), trusted('10.0.0.0/8'))).toBe('198.51.100.7');
  });

  it('a chain: trusted hops are skipped from the right, a spoofed left part is ignored', () => {
    const r = req('10.0.0.2', { 'x-forwarded-for': '6.6.6.6, 198.51.100.7, 10.0.0.3' });
    expect(clientAddress(r, trusted('10.0.0.0/8'))).toBe('198.51.100.7');
  });

  it('repeated headers count as one list; garbage stops the walk at the socket side', () => {
    expect(clientAddress(req('10.0.0.2', { 'x-forwarded-for': ['1.1.1.1', '198.51.100.7'] }), trusted('10.0.0.0/8'))).toBe('198.51.100.7');
    expect(clientAddress(req('10.0.0.2', { 'x-forwarded-for': 'not-an-ip' }), trusted('10.0.0.0/8'))).toBe('10.0.0.2');
  });

  it('X-Real-IP from a trusted peer when there is no X-Forwarded-For', () => {
    expect(clientAddress(req('127.0.0.1', { 'x-real-ip': '198.51.100.8' }), trusted('127.0.0.0/8'))).toBe('198.51.100.8');
  });

  it('IPv4-mapped IPv6 peers match IPv4 ranges; IPv6 ranges work', () => {
    expect(clientAddress(req('::ffff:10.0.0.2', { 'x-forwarded-for': '198.51.100.7' }), trusted('10.0.0.0/8'))).toBe('198.51.100.7');
    expect(clientAddress(req('fd00::1', { 'x-forwarded-for': '2001:db8::5' }), trusted('fd00::/8'))).toBe('2001:db8::5');
  });
});

describe('forwardedHeaders', () => {
  it('LiveKit hears one address and the user agent, none of the client’s own forwarding headers', () => {
    const r = req('203.0.113.9', { 'x-forwarded-for': '1.2.3.4', 'cf-connecting-ip': '5.6.7.8', 'user-agent': 'lk' });
    expect(forwardedHeaders(r, clientAddress(r, trusted()))).toEqual({ 'x-forwarded-for': '203.0.113.9', 'x-real-ip': '203.0.113.9', 'user-agent': 'lk' });
  });
});
