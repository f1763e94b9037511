// No request can end `volly-pq proxy` (issue 12 item 1): the bin runs as a
// child process, with the demo on, in front of the real LiveKit; hostile
// request lines, paths and bodies go over raw TCP to the public and admin
// listeners; each gets an HTTP answer on its own connection, and the process
// is alive and healthy afterwards. Also: the demo refuses to start on a
// non-loopback listener (item 8).

import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { volly } from '../../proxy/test/run-cli.js';
import { startChildProxy } from '../harness/child-proxy.ts';
import { generateApiKeyPair, type LiveKitServer, startLiveKit } from '../harness/livekit.ts';
import { getFreePort } from '../harness/ports.ts';
import type { ManagedProcess } from '../harness/process.ts';

let livekit: LiveKitServer;
const client = generateApiKeyPair();
const env = () => ({
  LIVEKIT_KEYS: `${client.apiKey}: ${client.apiSecret}`,
  VOLLY_UPSTREAM_URL: livekit.url,
  VOLLY_UPSTREAM_KEY: livekit.apiKey,
  VOLLY_UPSTREAM_SECRET: livekit.apiSecret,
});

beforeAll(async () => {
  livekit = await startLiveKit();
});
afterAll(async () => {
  await livekit?.stop();
});

/** Sends raw bytes on a fresh connection; resolves with the status line of the answer ('' if the socket closed without one). */
function raw(port: number, bytes: string): Promise<string> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    let got = '';
    const done = () => {
      s.destroy();
      resolve(got.split('\r\n')[0] ?? '');
    };
    s.setTimeout(5000, done);
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('\r\n\r\n')) done();
    });
    s.on('error', done);
    s.on('close', done);
    s.end(Buffer.from(bytes, 'utf8'));
  });
}

const get = (target: string) => `GET ${target} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`;
const post = (target: string, body: string, type = 'application/json') =>
  `POST ${target} HTTP/1.1\r\nHost: x\r\nContent-Type: ${type}\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`;

describe('volly-pq proxy under hostile HTTP requests', () => {
  let proc: ManagedProcess;
  let port: number;
  let adminPort: number;

  beforeAll(async () => {
    const proxy = await startChildProxy(livekit, { client, inspect: false, env: { VOLLY_DEMO: '1' } });
    [proc, port, adminPort] = [proxy.proc, proxy.port, Number(new URL(proxy.adminUrl).port)];
  });
  afterAll(async () => {
    await proc?.stop({ signal: 'SIGKILL' });
  });

  it('answers each crash request of the audit and of its kind on that request alone, and stays up', async () => {
    const requests = [
      get('//['),
      get('//[/rtc/validate'),
      get('/%'),
      get('/%ZZ/..%2f..'),
      get('/../../etc/passwd'),
      get('/rtc/validate?access_token=%'),
      get('/rtc/v1/validate?access_token=%E0%A4%A'),
      get('/twirp/livekit.RoomService/%E2%82%AC'),
      get('/démo/ü'),
      get('/\u{1F600}'),
      get('http://[/x'),
      get('*'),
      `OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n`,
      `BREW /whip/v1 HTTP/1.1\r\nHost: x\r\n\r\n`,
      post('/demo/token', 'null'),
      post('/demo/token', '[]'),
      post('/demo/token', '"room"'),
      post('/demo/token', '{"room":{"toString":1},"identity":"x"}'),
      post('/demo/token', '{"room":"r","identity":"i","publicKey":7,"algorithm":"ML-KEM-768"}'),
      get('/demo/constructor'),
      get('/demo/__proto__'),
      get('/demo/toString'),
      get('/demo/hasOwnProperty'),
      post('/twirp/livekit.RoomService/ListRooms', `access_token=${'%'.repeat(100)}`, 'application/x-www-form-urlencoded'),
      post('/twirp/livekit.RoomService/ListRooms', 'x', 'multipart/form-data; boundary=--'),
      `GET /rtc/validate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer\r\n\r\n`,
      `GET /rtc/validate HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer a b\r\n\r\n`,
    ];
    for (const r of requests) {
      const status = await raw(port, r);
      expect(status, JSON.stringify(r.slice(0, 60))).toMatch(/^HTTP\/1\.1 [1-5]\d\d /);
      expect(status, JSON.stringify(r.slice(0, 60))).not.toMatch(/^HTTP\/1\.1 5/);
      expect(proc.running(), `after ${JSON.stringify(r.slice(0, 60))}\n${proc.logTail(20)}`).toBe(true);
    }
    for (const r of [get('//['), get('/%'), get('/../metrics'), post('/healthz', 'null')]) {
      expect(await raw(adminPort, r)).toMatch(/^HTTP\/1\.1 [1-5]\d\d /);
    }
    expect(proc.running()).toBe(true);
    expect((await fetch(`http://127.0.0.1:${adminPort}/healthz`)).status).toBe(200);
    expect((await fetch(`http://127.0.0.1:${port}/`)).status).toBe(200);
    // No stack trace and no crash line in the log.
    expect(proc.logTail(500)).not.toMatch(/"event":"crash"/);
  });
});

describe('the demo on a public listener', () => {
  it('refuses to start on 0.0.0.0 without VOLLY_DEMO_PUBLIC=1 (exit 2 naming the setting)', async () => {
    const port = await getFreePort();
    // Refused before anything listens: the all-interfaces address is never bound.
    const r = await volly(['proxy'], { ...env(), VOLLY_LISTEN: `0.0.0.0:${port}`, VOLLY_ADMIN_LISTEN: '127.0.0.1:0', VOLLY_DEMO: '1' }, 30_000);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^volly-pq: VOLLY_DEMO: .*not loopback.*VOLLY_DEMO_PUBLIC=1/m);
  });
});
