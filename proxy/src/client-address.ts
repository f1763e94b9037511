/**
 * Who the client is. Behind an ingress the socket's peer is the ingress, and
 * the client's address comes from X-Forwarded-For / X-Real-IP — but anyone can
 * send those headers, and LiveKit uses them for its client-IP and region
 * logic. So they are believed only from the peers VOLLY_TRUSTED_PROXIES names:
 * the chain is walked from the socket backwards while the hop is trusted, and
 * the first untrusted hop is the client. LiveKit is then told that address
 * alone, never the client's own headers.
 */
import type { IncomingMessage } from 'node:http';
import { type BlockList, isIP } from 'node:net';

/** Headers a client could use to claim another address; none of them passes to LiveKit as sent. */
export const FORWARDING_HEADERS = [
  'x-forwarded-for',
  'x-forwarded-host',
  'x-forwarded-proto',
  'x-forwarded-port',
  'x-real-ip',
  'forwarded',
  'cf-connecting-ip',
  'true-client-ip',
];

/** IPv4-mapped IPv6 (::ffff:1.2.3.4) is the IPv4 address; anything that is not an address is dropped. */
function normalize(addr: string): string | undefined {
  const a = addr.trim().replace(/^\[|\]$/g, '');
  const v4 = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(a)?.[1];
  if (v4) return v4;
  return isIP(a) ? a : undefined;
}

const family = (addr: string) => (isIP(addr) === 6 ? 'ipv6' : 'ipv4');

/** The client's address: the socket's peer, or what trusted proxies in front of us say it is. */
export function clientAddress(req: IncomingMessage, trusted: BlockList): string {
  const peer = normalize(req.socket.remoteAddress ?? '') ?? 'unknown';
  if (peer === 'unknown' || !trusted.check(peer, family(peer))) return peer;
  const xff = req.headers['x-forwarded-for'];
  const chain = (Array.isArray(xff) ? xff.join(',') : (xff ?? '')).split(',');
  // From the nearest hop backwards: skip our own trusted proxies, stop at the first address they vouch for.
  for (let i = chain.length - 1; i >= 0; i--) {
    const hop = normalize(chain[i] ?? '');
    if (!hop) break;
    if (!trusted.check(hop, family(hop))) return hop;
  }
  const real = normalize(String(req.headers['x-real-ip'] ?? ''));
  return real ?? peer;
}

/** The request headers LiveKit gets from us for a signaling dial: who the client is, nothing else. */
export function forwardedHeaders(req: IncomingMessage, client: string): Record<string, string> {
  return {
    'x-forwarded-for': client,
    'x-real-ip': client,
    'user-agent': String(req.headers['user-agent'] ?? 'volly-pq'),
  };
}
