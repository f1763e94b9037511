/**
 * The demo page (VOLLY_DEMO=1 / --demo; off by default): static files from
 * dist/demo and a token endpoint that mints short-lived tokens with the first
 * client key. It hands a token to anyone who asks — for local trials only:
 * it refuses to start unless the public listener is loopback or
 * VOLLY_DEMO_PUBLIC=1 says otherwise (then a warning is logged).
 */
import { readFile } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { isIP } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { fromBase64Url, getSigner, isKemAlgorithm, pqGrant, signE2eeStatement, toBase64Url } from '@volly/shared';
import { SignJWT } from 'jose';
import { type Config, ConfigError } from './config.js';
import type { Context } from './context.js';
import type { Logger } from './log.js';

const DIR = join(dirname(fileURLToPath(import.meta.url)), 'demo');
// A Map, not an object literal: a name like "constructor" must not find Object.prototype's.
const FILES = new Map([
  ['index.html', 'text/html; charset=utf-8'],
  ['app.js', 'text/javascript'],
  ['app.js.map', 'application/json'],
  ['e2ee-worker.js', 'text/javascript'],
]);
/** The demo's app context for volly-e2ee.v1 statements (docs/E2EE.md). */
const E2EE_CONTEXT = 'volly-demo';
const NAME = /^[A-Za-z0-9_.-]{1,64}$/;

async function readBody(req: IncomingMessage, max = 16_384): Promise<string> {
  let body = '';
  for await (const chunk of req) {
    body += chunk;
    if (body.length > max) throw new DemoInputError('body too large');
  }
  return body;
}

class DemoInputError extends Error {
  readonly code = 'ERR_DEMO_INPUT';
}

/** 127.0.0.0/8, ::1 (also as ::ffff:127.x) and localhost: reachable from this machine only. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^::ffff:/, '');
  if (h === 'localhost' || h === '::1') return true;
  return isIP(h) === 4 && h.startsWith('127.');
}

/** The demo mints tokens for anyone who can reach it: refuse a non-loopback listener without VOLLY_DEMO_PUBLIC. */
export function checkDemoListener(config: Pick<Config, 'listen' | 'demoPublic'>, log: Logger): void {
  if (isLoopbackHost(config.listen.host)) return;
  if (!config.demoPublic) {
    throw new ConfigError(
      `VOLLY_DEMO: the demo hands a token for any room to anyone; VOLLY_LISTEN host ${config.listen.host} is not loopback (set VOLLY_DEMO_PUBLIC=1 to serve it there anyway)`,
    );
  }
  log.warn(
    { event: 'demo_public', host: config.listen.host },
    'the demo page is served on a non-loopback listener: anyone who reaches it gets tokens for any room',
  );
}

/** Returns a request handler that answers /demo/* and reports whether it did. */
export function createDemo(ctx: Context) {
  checkDemoListener(ctx.config, ctx.log);
  const [keyId, secret] = ctx.config.keys.entries().next().value as [string, string];
  const key = new TextEncoder().encode(secret);
  // The demo plays the app's token server for E2EE too, with a key that lives as long as the process.
  // A real app pins its verification key in the app; the demo page fetches it, so the demo's E2EE
  // shows the mechanics but does not protect against whoever serves the page.
  const e2eeApp = getSigner('ML-DSA-65').keygen();
  async function mint(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let input: { room?: unknown; identity?: unknown; algorithm?: unknown; publicKey?: unknown; e2ee?: unknown };
    try {
      input = JSON.parse(await readBody(req));
    } catch {
      return void res.writeHead(400).end('bad JSON');
    }
    // `null`, a number or an array parse too: only an object has the fields.
    if (typeof input !== 'object' || input === null || Array.isArray(input)) return void res.writeHead(400).end('expected a JSON object');
    const { room, identity, algorithm, publicKey } = input;
    if (typeof room !== 'string' || !NAME.test(room) || typeof identity !== 'string' || !NAME.test(identity)) {
      return void res.writeHead(400).end('room and identity: 1-64 of [A-Za-z0-9_.-]');
    }
    const video: Record<string, unknown> = { room, roomJoin: true, canPublish: true, canSubscribe: true, canPublishData: true };
    if (publicKey !== undefined) {
      const pk = typeof publicKey === 'string' ? fromBase64Url(publicKey) : null;
      if (!pk || typeof algorithm !== 'string' || !isKemAlgorithm(algorithm)) return void res.writeHead(400).end('bad algorithm or publicKey');
      Object.assign(video, pqGrant({ algorithm, publicKey: pk, keyExpiry: Math.floor(Date.now() / 1000) + 600 }));
    }
    let e2ee: { statement: string; verificationKey: string; context: string } | undefined;
    if (input.e2ee !== undefined) {
      try {
        const request = input.e2ee as Parameters<typeof signE2eeStatement>[0]['request'];
        const statement = signE2eeStatement({ appSecretKey: e2eeApp.secretKey, context: E2EE_CONTEXT, room, identity, request, ttlSeconds: 3600 });
        e2ee = { statement, verificationKey: toBase64Url(e2eeApp.publicKey), context: E2EE_CONTEXT };
      } catch {
        return void res.writeHead(400).end('bad e2ee request');
      }
    }
    const token = await new SignJWT({ video, name: identity })
      .setProtectedHeader({ alg: 'HS256', typ: 'JWT' })
      .setIssuer(keyId)
      .setSubject(identity)
      .setNotBefore('0s')
      .setExpirationTime('1h')
      .sign(key);
    res.writeHead(200, { 'content-type': 'application/json', 'cache-control': 'no-store' }).end(JSON.stringify({ token, ...(e2ee ? { e2ee } : {}) }));
  }

  return async function onDemo(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    const path = (req.url ?? '/').split('?')[0] as string;
    if (path === '/demo') {
      res.writeHead(302, { location: '/demo/' }).end();
      return true;
    }
    if (!path.startsWith('/demo/')) return false;
    const name = path.slice('/demo/'.length) || 'index.html';
    if (name === 'token' && req.method === 'POST') {
      await mint(req, res);
      return true;
    }
    const type = FILES.get(name);
    if (!type) {
      res.writeHead(404).end('not found');
      return true;
    }
    let file: Buffer;
    try {
      file = await readFile(join(DIR, name));
    } catch {
      res.writeHead(404).end('demo not built: run npm run build');
      return true;
    }
    res.writeHead(200, { 'content-type': type }).end(file);
    return true;
  };
}
