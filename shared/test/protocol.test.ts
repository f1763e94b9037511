/** The protocol's constants in one place, and the names the package exported before they moved there. */
import { describe, expect, test } from 'vitest';
import * as client from '../src/client/index.js';
import * as pkg from '../src/index.js';
import { ML_KEM_768, X_WING } from '../src/kem/checked.js';
import * as protocol from '../src/protocol.js';
import { PROTOCOL } from '../src/schedule.js';
import { SERVER_AUTH_CONTEXT } from '../src/sig/server-auth.js';

describe('protocol constants', () => {
  test('the subprotocol is the label of every derivation (schedule.ts PROTOCOL, the server-auth context)', () => {
    expect(protocol.SUBPROTOCOL).toBe('volly-pq.v1');
    expect(PROTOCOL).toBe(protocol.PROTOCOL_LABEL);
    expect(new TextDecoder().decode(SERVER_AUTH_CONTEXT)).toBe('volly-pq.v1 server-auth');
  });

  test('KEM public-key lengths come from the KEM module', () => {
    expect(protocol.KEM_PUBLIC_KEY_LENGTH).toEqual({ 'ML-KEM-768': ML_KEM_768.publicKeyLength, 'X-Wing': X_WING.publicKeyLength });
    expect(protocol.KEM_PUBLIC_KEY_LENGTH).toEqual({ 'ML-KEM-768': 1184, 'X-Wing': 1216 });
  });

  test('newSessionId: 24 random bytes, 32 base64url characters', () => {
    const id = protocol.newSessionId((n) => new Uint8Array(n).fill(0xfb));
    expect(id).toBe('-_v7'.repeat(8));
    expect(protocol.newSessionId(pkg.randomBytes)).toMatch(/^[A-Za-z0-9_-]{32}$/);
  });

  test.each([
    ['/rtc', true, false],
    ['/rtc/v1', true, false],
    ['/lk/rtc/', true, false],
    ['/rtc/validate', false, true],
    ['/rtc/v1/validate', false, true],
    ['/rtc/v2', false, false],
    ['/twirp/livekit.RoomService/ListRooms', false, false],
  ])('%s: signal %s, validate %s', (path, signal, validate) => {
    expect([protocol.isSignalPath(path), protocol.isValidatePath(path)]).toEqual([signal, validate]);
  });

  test('moved names are still exported, as the same values, from the package and from client/', () => {
    const { SUBPROTOCOL, SESSION_ID_PARAM, isSignalPath, isValidatePath, newSessionId } = protocol;
    const moved = { SUBPROTOCOL, SESSION_ID_PARAM, isSignalPath, isValidatePath, newSessionId };
    expect({
      SUBPROTOCOL: pkg.SUBPROTOCOL,
      SESSION_ID_PARAM: pkg.SESSION_ID_PARAM,
      isSignalPath: pkg.isSignalPath,
      isValidatePath: pkg.isValidatePath,
      newSessionId: pkg.newSessionId,
    }).toEqual(moved);
    const c = client;
    expect({
      SUBPROTOCOL: c.SUBPROTOCOL,
      SESSION_ID_PARAM: c.SESSION_ID_PARAM,
      isSignalPath: c.isSignalPath,
      isValidatePath: c.isValidatePath,
      newSessionId: c.newSessionId,
    }).toEqual(moved);
    expect(client.peekTokenPayload).toBe(pkg.peekTokenPayload);
    for (const name of ['closeReason', 'closeCodeInfo', 'isSendableCloseCode', 'isBase64Url', 'KEM_PUBLIC_KEY_LENGTH', 'PROTOCOL', 'CloseCode']) {
      expect(pkg, name).toHaveProperty(name);
    }
  });
});
