// The plain-HTTP edge's pure parts: the route table (LiveKit's documented
// surface only), the linear-time token redactor (same matches as
// redactTokens, across chunk boundaries, no quadratic blow-up), and the
// demo's loopback rule.

import { Readable } from 'node:stream';
import { redactTokens } from '@volly/shared';
import { describe, expect, it } from 'vitest';
import { checkDemoListener, isLoopbackHost } from '../src/demo.js';
import { TokenRedactor } from '../src/http/redact.js';
import { routeOf } from '../src/http/routes.js';

describe('routeOf', () => {
  it('admits LiveKit’s documented routes and methods only', () => {
    expect(routeOf('GET', '/')).toBe('health');
    expect(routeOf('GET', '/rtc/validate')).toBe('validate');
    expect(routeOf('GET', '/rtc/v1/validate')).toBe('validate');
    expect(routeOf('POST', '/twirp/livekit.RoomService/ListParticipants')).toBe('twirp');
    expect(routeOf('OPTIONS', '/twirp/livekit.Egress/StartRoomCompositeEgress')).toBe('twirp');
    expect(routeOf('POST', '/whip/v1')).toBe('whip');
    expect(routeOf('PATCH', '/whip/v1/PA_abc')).toBe('whip');
    expect(routeOf('DELETE', '//whip//v1/PA_abc')).toBe('whip');
    for (const [m, p] of [
      ['GET', '/twirp/livekit.RoomService/ListRooms'],
      ['POST', '/twirp/other.Service/X'],
      ['POST', '/twirp/livekit.RoomService/List%52ooms'],
      ['POST', '/rtc/validate'],
      ['GET', '/rtc/validate/'],
      ['GET', '/rtc'],
      ['GET', '/agent'],
      ['GET', '/debug/rooms'],
      ['PUT', '/whip/v1'],
      ['POST', '/whip/v1/PA_abc'],
      ['GET', '/whip/v1/a/b'],
      [undefined, '/'],
    ] as const) {
      expect(routeOf(m, p), `${m} ${p}`).toBeUndefined();
    }
  });
});

/** The plain definition: what redactTokens must match, without its backtracking. */
const reference = (s: string) => s.replace(/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}/g, '[token]');

describe('redactTokens', () => {
  const JWT = 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJlX2J5dGVz';
  const ALPHABET = ['eyJ', 'eyJa', '.', 'abcd', 'x', '-', '_', ' ', ':', '"', 'é', JWT, '..', 'eyJeyJ'];

  it('replaces exactly what the regular expression replaces', () => {
    let seed = 7;
    const rnd = (k: number) => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % k;
    };
    for (let i = 0; i < 5000; i++) {
      let s = '';
      for (let j = rnd(30); j > 0; j--) s += ALPHABET[rnd(ALPHABET.length)];
      expect(redactTokens(s), JSON.stringify(s)).toBe(reference(s));
    }
  });

  it('streams: a token split across chunks is still redacted', async () => {
    const text = `{"msg":"invalid token: ${JWT}, error: x","other":"${JWT}"}`;
    for (const at of [1, 10, 30, 40, 60, 80]) {
      const chunks = [Buffer.from(text.slice(0, at)), Buffer.from(text.slice(at))];
      const out: Buffer[] = [];
      for await (const c of Readable.from(chunks).pipe(new TokenRedactor())) out.push(c as Buffer);
      expect(Buffer.concat(out).toString()).toBe(redactTokens(text));
    }
  });

  it('is linear where the regular expression is quadratic', () => {
    const hostile = `${'eyJ'.repeat(60_000)}!`;
    const t0 = performance.now();
    expect(redactTokens(hostile)).toBe(hostile);
    expect(performance.now() - t0).toBeLessThan(200);
  });

  it('passes binary bytes through unchanged where nothing matches', async () => {
    const bin = Buffer.from(Array.from({ length: 512 }, (_, i) => (i * 37) % 256));
    const out: Buffer[] = [];
    for await (const c of Readable.from([bin]).pipe(new TokenRedactor())) out.push(c as Buffer);
    expect(Buffer.concat(out).equals(bin)).toBe(true);
  });
});

describe('the demo listener rule', () => {
  const log = () => {
    const warned: unknown[] = [];
    return { warned, logger: { warn: (o: unknown) => warned.push(o) } as never };
  };
  it('loopback hosts only, unless VOLLY_DEMO_PUBLIC (then a warning)', () => {
    for (const h of ['127.0.0.1', '127.1.2.3', '::1', 'localhost', '::ffff:127.0.0.1']) expect(isLoopbackHost(h), h).toBe(true);
    for (const h of ['0.0.0.0', '::', '10.0.0.1', '128.0.0.1', '127.example.com', '']) expect(isLoopbackHost(h), h).toBe(false);
    const a = log();
    expect(() => checkDemoListener({ listen: { host: '0.0.0.0', port: 1 }, demoPublic: false }, a.logger)).toThrow(/VOLLY_DEMO_PUBLIC=1/);
    checkDemoListener({ listen: { host: '0.0.0.0', port: 1 }, demoPublic: true }, a.logger);
    expect(a.warned).toEqual([expect.objectContaining({ event: 'demo_public' })]);
    const b = log();
    checkDemoListener({ listen: { host: '127.0.0.1', port: 1 }, demoPublic: false }, b.logger);
    expect(b.warned).toEqual([]);
  });
});
