// The tunnel's small parts: close codes across it, the failure memory and
// the validate answer made from it, what it reads from an SDK's request (token, resume flag),
// and the backpressure valve.

import type { IncomingMessage, ServerResponse } from 'node:http';
import { gzipSync } from 'node:zlib';
import { JoinRequest, WrappedJoinRequest, WrappedJoinRequest_Compression } from '@livekit/protocol';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { HIGH_WATER, LOW_WATER, Valve } from '../src/tunnel/backpressure.js';
import { closeReasonBytes, proxyCloseFor, sdkCloseFor } from '../src/tunnel/close-map.js';
import { FailureMemory } from '../src/tunnel/failures.js';
import { createTunnelMetrics } from '../src/tunnel/metrics.js';
import { isReconnect, readSdkRequest } from '../src/tunnel/request.js';
import { answerValidate } from '../src/tunnel/validate.js';

describe('close codes across the tunnel', () => {
  it("passes the proxy's sendable codes on with their reason and drops the SDK's socket for 1005/1006/1015", () => {
    expect(sdkCloseFor(4401, 'token expired')).toEqual({ type: 'close', code: 4401, reason: 'token expired' });
    expect(sdkCloseFor(1011, 'x')).toEqual({ type: 'close', code: 1011, reason: 'x' });
    for (const code of [1005, 1006, 1015]) expect(sdkCloseFor(code, '')).toEqual({ type: 'drop' });
    expect(proxyCloseFor(1001)).toBe(1000);
    expect(proxyCloseFor(4000)).toBe(4000);
  });

  it('cuts a reason to 123 bytes on a character boundary', () => {
    const cut = closeReasonBytes('é'.repeat(100));
    expect(Buffer.byteLength(cut)).toBeLessThanOrEqual(123);
    expect(cut).toBe('é'.repeat(61));
  });
});

describe('FailureMemory', () => {
  it('recalls a failure by token for a minute, and keeps at most 64', () => {
    let now = 0;
    const m = new FailureMemory(() => now);
    m.remember('t1', { closeCode: 4401, status: 401, message: 'no' });
    expect(m.recall('t1')?.status).toBe(401);
    expect(m.recall('t2')).toBeUndefined();
    now = 60_001;
    expect(m.recall('t1')).toBeUndefined();
    for (let i = 0; i < 65; i++) m.remember(`k${i}`, { closeCode: 4401, message: String(i) });
    expect(m.recall('k0')).toBeUndefined();
    expect(m.recall('k64')?.message).toBe('64');
  });
});

const req = (url: string, authorization?: string) => ({ url, headers: authorization ? { authorization } : {} }) as IncomingMessage;

describe('readSdkRequest / isReconnect', () => {
  it('takes the token from access_token, else from Authorization: Bearer', () => {
    expect(readSdkRequest(req('//rtc?access_token=abc&sdk=rust')).token).toBe('abc');
    const r = readSdkRequest(req('/rtc/v1?sdk=go', 'Bearer xyz'));
    expect([r.path, r.token, r.query.get('access_token')]).toEqual(['/rtc/v1', 'xyz', 'xyz']);
  });

  it('reads the resume flag from reconnect=1 and from join_request, plain or gzipped', () => {
    expect(isReconnect(new URLSearchParams('reconnect=1&sid=PA_x'))).toBe(true);
    const join = new JoinRequest({ reconnect: true }).toBinary();
    for (const [compression, bytes] of [
      [WrappedJoinRequest_Compression.NONE, join],
      [WrappedJoinRequest_Compression.GZIP, gzipSync(join)],
    ] as const) {
      const wrapped = new WrappedJoinRequest({ compression, joinRequest: bytes }).toBinary();
      expect(isReconnect(new URLSearchParams({ join_request: Buffer.from(wrapped).toString('base64url') }))).toBe(true);
    }
    expect(isReconnect(new URLSearchParams({ join_request: '!!not-base64' }))).toBe(false);
    expect(isReconnect(new URLSearchParams('auto_subscribe=1'))).toBe(false);
  });
});

describe('answerValidate', () => {
  const answer = (m: FailureMemory, url: string, authorization?: string) => {
    const out: { status?: number; body?: string } = {};
    const res = {
      writeHead(status: number) {
        out.status = status;
        return res;
      },
      end(body?: string) {
        out.body = body;
      },
    };
    answerValidate({ ...req(url, authorization), method: 'GET' } as IncomingMessage, res as unknown as ServerResponse, m, createTunnelMetrics());
    return out;
  };

  it("answers with the recorded refusal's status and message, else 502", () => {
    const m = new FailureMemory();
    m.remember('tok', { closeCode: 4502, status: 403, message: 'permissions denied' });
    expect(answer(m, '/rtc/validate?access_token=tok')).toEqual({ status: 403, body: 'permissions denied' });
    expect(answer(m, '/rtc/v1/validate', 'Bearer tok')).toEqual({ status: 403, body: 'permissions denied' });
    expect(answer(m, '/rtc/validate?access_token=other').status).toBe(502);
  });
});

describe('Valve', () => {
  afterEach(() => vi.useRealTimers());

  it('pauses above the high-water mark and resumes once drained below the low one', () => {
    vi.useFakeTimers();
    let buffered = 0;
    const calls: string[] = [];
    const v = new Valve(
      () => buffered,
      () => calls.push('pause'),
      () => calls.push('resume'),
      () => calls.push('counted'),
    );
    v.check();
    expect(calls).toEqual([]);
    buffered = HIGH_WATER + 1;
    v.check();
    v.check();
    expect(calls).toEqual(['pause', 'counted']);
    buffered = LOW_WATER + 1;
    vi.advanceTimersByTime(100);
    expect(v.paused).toBe(true);
    buffered = LOW_WATER;
    vi.advanceTimersByTime(10);
    expect(calls).toEqual(['pause', 'counted', 'resume']);
    expect(v.paused).toBe(false);
  });
});
