// What every plain-HTTP exchange is judged by: an answer or a clean close in
// bounded time, nothing secret in what comes back (the tokens the request
// carried, the client or upstream secret, any token-like string except the
// demo token endpoint's own), and no 2xx for a PQ-bound token on a route that
// authenticates. (The process never exiting and LiveKit never seeing a fuzz
// identity are judged by the runner, over the whole run.)

import { redactTokens } from '@volly/shared';
import type { HttpInput } from './fuzz-http-gen.ts';
import type { HttpTokens } from './fuzz-http-target.ts';
import type { Exchange } from './fuzz-http-wire.ts';

export type Route = 'validate' | 'twirp' | 'whip' | 'root' | 'demo' | 'admin' | 'other';

export type FindingKind = 'crash' | 'stuck' | 'leak' | 'token-in-response' | 'bound-accepted' | 'participant' | 'canary';

/** The path of a request target; absolute-form targets name it after the authority. */
const pathOf = (target: string): string => target.replace(/^[a-z]+:\/\/[^/]*/i, '').split(/[?#]/)[0] ?? '';

export function routeOf(input: Pick<HttpInput, 'listener' | 'target'>): Route {
  if (input.listener === 'admin') return 'admin';
  const path = pathOf(input.target);
  if (/^\/rtc(\/v1)?\/validate/.test(path)) return 'validate';
  if (path.startsWith('/twirp/')) return 'twirp';
  if (path.startsWith('/whip/')) return 'whip';
  if (path.startsWith('/demo')) return 'demo';
  if (path === '/' || path === '') return 'root';
  return 'other';
}

/**
 * Routes where a 2xx means a credential was accepted. LiveKit's `/` health
 * reply, the demo's static files and the admin listener answer anyone, and an
 * OPTIONS preflight runs nothing, so a 2xx there says nothing about the token.
 */
const authenticates = (route: Route, method: string): boolean => !['root', 'demo', 'admin'].includes(route) && method.toUpperCase() !== 'OPTIONS';

export interface Verdict {
  kind: FindingKind;
  why: string;
}

export function judge(input: HttpInput, ex: Exchange, tokens: HttpTokens, secrets: readonly string[]): Verdict | undefined {
  if (ex.outcome === 'stuck') return { kind: 'stuck', why: 'no answer and no close within the bound, even after a half-close' };
  const text = ex.received.toString('latin1');
  for (const s of secrets) if (text.includes(s)) return { kind: 'leak', why: 'a secret key came back in the response' };
  const sent = input.bytes.toString('latin1');
  for (const tok of input.tokens) {
    const sig = tok.split('.')[2] ?? '';
    if (text.includes(tok)) return { kind: 'leak', why: 'the request token came back in the response' };
    // A mutation may splice a token's tail into another field (Content-Type) that LiveKit quotes back
    // ("unexpected content type ..."): the client's own non-credential bytes, not its token.
    const outsideToken = sent.split(tok).join('');
    if (sig.length >= 20 && text.includes(sig) && !outsideToken.includes(sig))
      return { kind: 'leak', why: "the request token's signature came back in the response" };
  }
  const route = routeOf(input);
  // the demo token endpoint exists to hand out a token; anything else quoting one leaks it (LiveKit's 401s quote theirs)
  const demoMint = pathOf(input.target) === '/demo/token' && ex.status === 200;
  if (!demoMint && redactTokens(text) !== text) return { kind: 'token-in-response', why: 'a token-like string in the response' };
  const bytes = input.bytes.toString('latin1');
  const bound = input.cred === 'bound' || tokens.bound.some((b) => bytes.includes(b));
  const valid = [tokens.admin, tokens.join].some((v) => bytes.includes(v));
  if (bound && !valid && ex.status !== null && ex.status >= 200 && ex.status < 300 && authenticates(route, input.method))
    return { kind: 'bound-accepted', why: `a PQ-bound token got ${ex.status} on ${route}` };
  return undefined;
}

/** A request's bytes for a report: printable, tokens shortened, at most `max` characters. */
export function show(b: Buffer, max = 300): string {
  const s = b
    .toString('latin1')
    .replace(/[^\x20-\x7e]/g, (c) => (c === '\r' ? '\\r' : c === '\n' ? '\\n' : `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`))
    .replace(/eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]{4,}\.([A-Za-z0-9_-]*)/g, (_m, sig: string) => `<token ..${sig.slice(-6)}>`);
  return s.length > max ? `${s.slice(0, max)}… (${b.length} bytes)` : s;
}
