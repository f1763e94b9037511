/**
 * The well-known document cache: a proxy that says "no v2 here" (404, not a
 * key document) is remembered for the document's max-age, but a fetch that
 * failed in transit (network error, 5xx) only briefly, so one blip does not
 * make every v2 connection of the next five minutes fail.
 */
import { describe, expect, test } from 'vitest';
import { FAILED_FETCH_TTL_MS, ServerKeyCache, TRANSIENT_FETCH_TTL_MS } from '../src/client/v2-keys.js';

const URL_ = 'https://proxy.example/.well-known/volly-pq';

function fetcher(answers: Array<() => Promise<Response>>) {
  let calls = 0;
  const fn = (async () => (answers[Math.min(calls++, answers.length - 1)] as () => Promise<Response>)()) as unknown as typeof fetch;
  return { fn, calls: () => calls };
}

describe('ServerKeyCache', () => {
  test.each([
    ['a network error', () => Promise.reject(new TypeError('fetch failed'))],
    ['a 503', async () => new Response('busy', { status: 503 })],
  ])('%s is retried after %#: the transient TTL, not the document max-age', async (_, fail) => {
    const cache = new ServerKeyCache();
    const f = fetcher([fail]);
    const t0 = 1_000_000;
    expect((await cache.get(URL_, f.fn, false, t0)).keys).toBeNull();
    expect((await cache.get(URL_, f.fn, false, t0 + TRANSIENT_FETCH_TTL_MS - 1)).fetched).toBe(false);
    expect((await cache.get(URL_, f.fn, false, t0 + TRANSIENT_FETCH_TTL_MS + 1)).fetched).toBe(true);
    expect(f.calls()).toBe(2);
  });

  test('a 404 (no v2 at this proxy) is remembered for the max-age', async () => {
    const cache = new ServerKeyCache();
    const f = fetcher([async () => new Response('not found', { status: 404 })]);
    const t0 = 1_000_000;
    await cache.get(URL_, f.fn, false, t0);
    expect((await cache.get(URL_, f.fn, false, t0 + TRANSIENT_FETCH_TTL_MS + 1)).fetched).toBe(false);
    expect((await cache.get(URL_, f.fn, false, t0 + FAILED_FETCH_TTL_MS + 1)).fetched).toBe(true);
  });

  test('a body that is not a key document is remembered for the max-age', async () => {
    const cache = new ServerKeyCache();
    const f = fetcher([async () => new Response('{"keys": "nope"}', { status: 200 })]);
    const t0 = 1_000_000;
    expect((await cache.get(URL_, f.fn, false, t0)).keys).toBeNull();
    expect((await cache.get(URL_, f.fn, false, t0 + TRANSIENT_FETCH_TTL_MS + 1)).fetched).toBe(false);
  });
});
