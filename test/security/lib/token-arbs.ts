// fast-check generators of access tokens built from the parts attackers play
// with: alg, kid, iss, exp, the PQ claims, signatures made with the wrong key,
// the right key under the wrong algorithm, or none.

import { createHmac } from 'node:crypto';
import { toBase64Url, utf8 } from '@volly/shared';
import fc from 'fast-check';

export interface TokenKeys {
  /** The client-facing key the proxy verifies with. */
  apiKey: string;
  apiSecret: string;
  /** LiveKit's (upstream) key: the proxy must never accept it from a client. */
  upstreamKey: string;
  upstreamSecret: string;
  /** Real public keys for PQ claims (base64url). */
  mlKemPublicKey: string;
  xWingPublicKey: string;
}

const b64json = (v: unknown): string => toBase64Url(utf8(typeof v === 'string' ? v : JSON.stringify(v)));

function hmac(alg: 'sha256' | 'sha384' | 'sha512', secret: string | Buffer, input: string): string {
  return createHmac(alg, secret).update(input).digest('base64url');
}

export interface TokenSpec {
  readonly token: string;
  /** True when the token is signed correctly, HS256, by the client key, with claims the proxy should accept (it may still be refused by LiveKit). */
  readonly mayVerify: boolean;
}

/**
 * Access tokens from parts. Identities: 'fz-open' for the rare token that is
 * correctly signed and acceptable (so a join it causes is told apart), 'fz-victim'
 * for everything else.
 */
export function tokenArb(k: TokenKeys): fc.Arbitrary<TokenSpec> {
  const now = Math.floor(Date.now() / 1000);
  const headerArb = fc.oneof(
    { weight: 3, arbitrary: fc.constant({ alg: 'HS256', typ: 'JWT' } as Record<string, unknown>) },
    {
      weight: 4,
      arbitrary: fc.record(
        {
          alg: fc.constantFrom('none', 'None', 'NONE', 'HS512', 'HS384', 'RS256', 'ES256', 'PS256', 'EdDSA', 'hs256', 'HS256 ', '', null, 256),
          typ: fc.constantFrom('JWT', 'jwt', undefined),
          kid: fc.constantFrom(k.apiKey, k.upstreamKey, '../../../../etc/passwd', "' OR 1=1 --", '', undefined),
          crit: fc.constantFrom(undefined, ['exp'], ['x-volly']),
          jwk: fc.constantFrom(undefined, { kty: 'oct', k: toBase64Url(utf8('attacker-chosen-secret-attacker-chosen')) }),
          b64: fc.constantFrom(undefined, false),
        },
        { requiredKeys: ['alg'] },
      ),
    },
  );
  const pqArb = fc.oneof(
    { weight: 3, arbitrary: fc.constant(undefined) },
    {
      weight: 4,
      arbitrary: fc.record(
        {
          pqPublicKey: fc.constantFrom(
            k.mlKemPublicKey,
            k.xWingPublicKey,
            '',
            'AAAA',
            k.mlKemPublicKey.slice(1),
            `${k.mlKemPublicKey}A`,
            `${k.mlKemPublicKey.slice(0, -2)}==`,
            12345,
            null,
          ),
          pqAlgorithm: fc.constantFrom('ML-KEM-768', 'X-Wing', 'ML-KEM-512', 'none', '', 7, null),
          pqKeyExpiry: fc.constantFrom(now + 3600, now - 1, now - 100_000, 0, -1, 1.5, 2 ** 53, '9999999999', null, Number.MAX_VALUE),
        },
        { requiredKeys: [] },
      ),
    },
  );
  const payloadArb = fc.record({
    iss: fc.oneof(
      { weight: 6, arbitrary: fc.constant(k.apiKey) },
      { weight: 3, arbitrary: fc.constantFrom(k.upstreamKey, '', 'APIunknown', [k.apiKey], 42, undefined, `${k.apiKey} `) },
    ),
    sub: fc.constantFrom('fz-victim', 'fz-victim', 'fz-victim', '', undefined, { $ne: 1 }),
    exp: fc.constantFrom(now + 3600, now + 3600, now - 5, now - 3600, 0, 2 ** 53, 'tomorrow', null, undefined, 1e308),
    nbf: fc.constantFrom(undefined, undefined, 0, now - 10, now + 3600, 'now'),
    video: fc
      .tuple(fc.constantFrom({ roomJoin: true, room: 'fz-room' }, { roomJoin: false, room: 'fz-room' }, { roomJoin: true }, {}, 'video', null), pqArb)
      .map(([v, pq]) => (v && typeof v === 'object' && pq ? { ...v, ...pq } : v)),
  });
  const signArb = fc.constantFrom(
    'right',
    'right',
    'right',
    'wrong-secret',
    'upstream',
    'empty',
    'hs512-right',
    'hs384-right',
    'rs256-hmac-confusion',
    'garbage',
    'none',
  );
  const structural = fc.tuple(headerArb, payloadArb, signArb).map(([header, payload, how]): TokenSpec => {
    const h = b64json(header);
    const p = b64json(payload);
    const input = `${h}.${p}`;
    let sig = '';
    switch (how) {
      case 'right':
        sig = hmac('sha256', k.apiSecret, input);
        break;
      case 'wrong-secret':
        sig = hmac('sha256', `${k.apiSecret}x`, input);
        break;
      case 'upstream':
        sig = hmac('sha256', k.upstreamSecret, input);
        break;
      case 'hs512-right':
        sig = hmac('sha512', k.apiSecret, input);
        break;
      case 'hs384-right':
        sig = hmac('sha384', k.apiSecret, input);
        break;
      case 'rs256-hmac-confusion':
        // the classic: the verifier's "public key" (here the HMAC secret) used as an HMAC key
        sig = hmac('sha256', Buffer.from(k.apiSecret), input);
        break;
      case 'garbage':
        sig = 'AAAA';
        break;
      default:
        sig = '';
    }
    // Only a correctly signed HS256 token by the client key, issuer matching, not expired, with
    // no PQ claims or complete valid ones, could be accepted; give those their own identity.
    const pq = payload.video && typeof payload.video === 'object' ? (payload.video as Record<string, unknown>) : undefined;
    // Conservative: anything the proxy could accept counts. HMAC-SHA256 with the secret is a valid HS256
    // signature whatever we called it ('rs256-hmac-confusion' under an HS256 header), and exp/nbf get a
    // margin beyond the proxy's clock leeway (10 s by default) and the length of a run.
    const hs256Right = (how === 'right' || how === 'rs256-hmac-confusion') && header.alg === 'HS256';
    const mayVerify =
      hs256Right &&
      payload.iss === k.apiKey &&
      !('crit' in header && header.crit !== undefined) &&
      !('b64' in header && header.b64 !== undefined) &&
      (typeof payload.exp !== 'number' || payload.exp > now - 60) &&
      (payload.nbf === undefined || (typeof payload.nbf === 'number' && payload.nbf <= now + 60));
    if (!mayVerify) return { token: `${input}.${sig}`, mayVerify: false };
    // re-sign with identity fz-open so a join it might cause is visible as such
    const open = b64json({ ...payload, sub: 'fz-open', video: pq ? { ...pq, room: 'fz-open-room' } : pq });
    return { token: `${h}.${open}.${hmac('sha256', k.apiSecret, `${h}.${open}`)}`, mayVerify: true };
  });
  const weird = fc
    .oneof(
      fc.string({ maxLength: 200 }),
      fc.constantFrom('', '.', '..', '...', 'eyJ', 'eyJ.eyJ.eyJ', 'Bearer x', 'null', 'e30.e30.', 'e30.e30.e30.e30'),
      // oversized: around the 16 KiB token limit and far beyond
      fc.integer({ min: 16 * 1024 - 64, max: 16 * 1024 + 64 }).map((n) => `eyJhbGciOiJIUzI1NiJ9.${'A'.repeat(Math.max(0, n - 42))}.sig`),
      fc.integer({ min: 20_000, max: 200_000 }).map((n) => `eyJhbGciOiJIUzI1NiJ9.${'e'.repeat(n)}.sig`),
      // deeply nested JSON payload under the size limit
      fc.integer({ min: 100, max: 11_000 }).map((d) => `${b64json({ alg: 'HS256' })}.${b64json(`{"sub":${'['.repeat(d)}${']'.repeat(d)}}`)}.sig`),
      fc.integer({ min: 100, max: 11_000 }).map((d) => `${b64json({ alg: 'HS256' })}.${b64json(`${'{"a":'.repeat(d / 5)}1${'}'.repeat(d / 5)}`)}.sig`),
    )
    .map((token): TokenSpec => ({ token, mayVerify: false }));
  return fc.oneof({ weight: 6, arbitrary: structural }, { weight: 2, arbitrary: weird });
}

/** VollyControl plaintexts a client could seal: connect with hostile token/query, error, empty, random. */
