/**
 * The v2 pin claim `video.pqServerKemKeys` (docs/PROTOCOL.md, v2.1 "Pins in
 * the token"): written by addServerKemKeys, read strictly by
 * readServerKemKeyPins, stripped before LiveKit and kept in rewritten tokens.
 */
import { describe, expect, test } from 'vitest';
import { addServerKemKeys, downgradeClaims, readServerKemKeyPins, TokenError, toBase64Url, v2, withServerKeyClaims } from '../src/index.js';

const id = (n: number) => new Uint8Array(16).fill(n);
const video = (build: (t: { addGrant(g: object): void }) => void) => {
  const v: Record<string, unknown> = { roomJoin: true };
  build({ addGrant: (g) => Object.assign(v, g) });
  return v;
};

describe('pqServerKemKeys', () => {
  test('written from key ids, base64url ids, or keys of the document; read back as the ids', () => {
    const key = v2.staticKey('X-Wing', new Uint8Array(1216).fill(7), 4_000_000_000);
    const v = video((t) => addServerKemKeys(t, [id(1), toBase64Url(id(2)), key]));
    expect(v.pqServerKemKeys).toEqual([toBase64Url(id(1)), toBase64Url(id(2)), toBase64Url(key.id)]);
    expect(readServerKemKeyPins({ video: v })).toEqual([id(1), id(2), key.id]);
  });

  test('absent: null; present but malformed: TokenError ERR_TOKEN_CLAIMS (the client fails closed)', () => {
    expect(readServerKemKeyPins({ video: { roomJoin: true } })).toBeNull();
    expect(readServerKemKeyPins({})).toBeNull();
    for (const bad of [[], 'x', [1], ['not base64!'], [toBase64Url(new Uint8Array(15))], Array(17).fill(toBase64Url(id(1)))]) {
      expect(() => readServerKemKeyPins({ video: { pqServerKemKeys: bad } })).toThrowError(TokenError);
    }
    expect(() => addServerKemKeys({ addGrant() {} }, [])).toThrowError(TokenError);
    expect(() => addServerKemKeys({ addGrant() {} }, [new Uint8Array(8)])).toThrowError(TokenError);
  });

  test('stripped before LiveKit, carried into tokens the proxy rewrites', () => {
    const pins = { pqServerKemKeys: [toBase64Url(id(3))] };
    const original = { sub: 'a', video: { roomJoin: true, ...pins } };
    expect(downgradeClaims(original)).toEqual({ sub: 'a', video: { roomJoin: true } });
    expect(withServerKeyClaims({ sub: 'a', video: { room: 'r' } }, original)).toEqual({ sub: 'a', video: { room: 'r', ...pins } });
  });
});
