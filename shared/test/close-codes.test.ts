/**
 * The one close-code table: name, HTTP status and session outcome per code.
 * The outcome labels are the proxy's metric labels (volly_sessions_total):
 * they must stay exactly as they were.
 */
import type { Duplex } from 'node:stream';
import { describe, expect, test } from 'vitest';
import { Sender } from 'ws';
import { CloseCode, closeCodeInfo, isSendableCloseCode } from '../src/close-codes.js';

describe('closeCodeInfo', () => {
  test.each([
    [1000, 'Normal', 500, 'closed'],
    [1005, 'NoStatus', 500, 'closed'],
    [1006, 'Abnormal', 500, 'error'],
    [CloseCode.GoingAway, 'GoingAway', 503, 'drained'],
    [CloseCode.Internal, 'Internal', 500, 'error'],
    [CloseCode.TooLarge, 'TooLarge', 413, 'malformed'],
    [CloseCode.Malformed, 'Malformed', 400, 'malformed'],
    [CloseCode.Unauthorized, 'Unauthorized', 401, 'refused'],
    [CloseCode.Refused, 'Refused', 403, 'refused'],
    [CloseCode.HandshakeTimeout, 'HandshakeTimeout', 408, 'timeout'],
    [CloseCode.Busy, 'Busy', 429, 'refused'],
    [CloseCode.Upstream, 'Upstream', 502, 'upstream_error'],
    [CloseCode.ServerAuth, 'ServerAuth', 526, 'error'],
    [4000, 'Code4000', 500, 'closed'],
    [4099, 'Code4099', 500, 'closed'],
    [4100, 'Code4100', 500, 'error'],
    [3000, 'Code3000', 500, 'error'],
  ])('%i: %s, HTTP %i, outcome %s', (code, name, status, outcome) => {
    expect(closeCodeInfo(code)).toEqual({ code, name, status, outcome });
  });

  test('every CloseCode is in the table under its own name', () => {
    for (const [name, code] of Object.entries(CloseCode)) expect(closeCodeInfo(code).name).toBe(name);
  });

  test('CloseCode values are unchanged', () => {
    expect(Object.values(CloseCode)).toEqual([1001, 1011, 4400, 4401, 4403, 4408, 1009, 4429, 4502, 4526]);
  });
});

describe('isSendableCloseCode', () => {
  /** What `ws` itself lets a close frame carry: its Sender throws on any other code. */
  const sender = new Sender({ write: () => true, cork() {}, uncork() {} } as unknown as Duplex);
  function wsAccepts(code: number): boolean {
    try {
      sender.close(code, '', false, () => {});
      return true;
    } catch {
      return false;
    }
  }

  test('server: RFC 6455 §7.4 (1000-1014 without 1004/1005/1006, 3000-4999), exactly what ws accepts', () => {
    for (let code = 0; code <= 5100; code++) expect(isSendableCloseCode(code), String(code)).toBe(wsAccepts(code));
    expect(isSendableCloseCode(1015)).toBe(false);
    expect(isSendableCloseCode(4400.5)).toBe(false);
  });

  test('client (WHATWG WebSocket API): only 1000 and 3000-4999', () => {
    for (let code = 0; code <= 5100; code++) expect(isSendableCloseCode(code, 'client'), String(code)).toBe(code === 1000 || (code >= 3000 && code <= 4999));
  });
});
