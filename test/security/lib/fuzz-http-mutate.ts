// Mutations of honest requests recorded through the proxy (RoomServiceClient,
// validate, demo, WHIP): byte-level ones from mutate.ts, and HTTP-aware ones
// (another token in the Authorization header or query, a bent path, a
// dropped, duplicated or rewritten header line, a wrong Content-Length).

import type { Cred, HttpInput } from './fuzz-http-gen.ts';
import type { HttpTokens } from './fuzz-http-target.ts';
import { mutate, type Prng } from './mutate.ts';

const PATH_BENDS = ['//', '//[', '%', '%zz', '/..', 'é', '?access_token=', '#', ' ', '\\'];

/** The token a mutation puts in, and the credential class it makes the request. */
function pickToken(t: HttpTokens, r: Prng): { token: string; cred: Cred } {
  const k = r.int(10);
  if (k < 5) return { token: r.pick(t.bound), cred: 'bound' };
  if (k < 8) return { token: r.pick(t.bad), cred: 'bad' };
  return { token: r.pick([t.admin, t.join]), cred: 'valid' };
}

const TOKEN = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*/g;
const HAS_TOKEN = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\./;

export function mutateSeed(seed: Buffer, seeds: readonly Buffer[], t: HttpTokens, r: Prng): HttpInput {
  let text = seed.toString('latin1');
  let cred: Cred = HAS_TOKEN.test(text) ? 'valid' : 'none';
  let tokens = text.match(TOKEN) ?? [];
  const rounds = 1 + r.int(3);
  for (let i = 0; i < rounds; i++) {
    const lines = text.split('\r\n');
    const headEnd = lines.indexOf('');
    switch (r.int(8)) {
      case 0:
      case 1: {
        // the recorded token swapped for a bound, bad or other valid one (every copy of it)
        const p = pickToken(t, r);
        if (HAS_TOKEN.test(text)) text = text.replace(TOKEN, p.token);
        else {
          lines.splice(1, 0, `Authorization: Bearer ${p.token}`);
          text = lines.join('\r\n');
        }
        cred = p.cred;
        tokens = [p.token];
        break;
      }
      case 2: {
        // the request line's path bent
        const [m, target = '/', v = ''] = (lines[0] ?? '').split(' ');
        const at = r.int(target.length + 1);
        lines[0] = `${m} ${target.slice(0, at)}${r.pick(PATH_BENDS)}${target.slice(at)} ${v}`;
        text = lines.join('\r\n');
        break;
      }
      case 3:
        // a header line dropped or duplicated
        if (headEnd > 1) {
          const i = 1 + r.int(headEnd - 1);
          if (r.chance(0.5)) lines.splice(i, 1);
          else lines.splice(i, 0, lines[i] as string);
          text = lines.join('\r\n');
        }
        break;
      case 4:
        text = text.replace(/content-length: *\d+/i, `content-length: ${r.pick(['0', '1', '-1', '99999', 'x', '5, 5'])}`);
        break;
      case 5:
        text = text.replace(/^(\S+)/, r.pick(['GET', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'TRACE', 'XYZ', '']));
        break;
      default:
        text = Buffer.from(mutate(Buffer.from(text, 'latin1'), r, seeds)).toString('latin1');
    }
  }
  const first = text.split('\r\n')[0] ?? '';
  // the target as Node reads it: it accepts several spaces between the parts
  const [method = '', target = ''] = first.split(/ +/);
  return { listener: 'public', method, target, cred, tokens, short: false, bytes: Buffer.from(text, 'latin1') };
}
