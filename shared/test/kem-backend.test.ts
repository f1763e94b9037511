/**
 * Backend selection (../src/backend/node.ts and browser.ts answer alike) and
 * the browser backend's promise: it bundles for browsers with no node:* or
 * sodium-native import.
 */
import { build } from 'esbuild';
import { describe, expect, test } from 'vitest';
import * as browser from '../src/backend/browser.js';
import * as node from '../src/backend/node.js';
import { AlgorithmError, BackendUnavailableError } from '../src/errors.js';
import type { KemAlgorithm, KemBackendName } from '../src/kem/types.js';

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (error) {
    return error;
  }
  return undefined;
}

describe.each([
  ['node', node],
  ['browser', browser],
] as const)('backend/%s', (_name, backend) => {
  test('exports exactly the backend API', () => {
    expect(Object.keys(backend).sort()).toEqual(['aeadBackends', 'getAead', 'getKem', 'getSigner', 'kemBackends', 'randomBytes', 'sigBackends']);
  });

  test('getKem defaults to the first listed backend and returns one instance per pair', () => {
    const preferred = backend.kemBackends()[0];
    expect(backend.getKem('ML-KEM-768').backend).toBe(preferred);
    expect(backend.getKem('X-Wing')).toBe(backend.getKem('X-Wing', preferred));
    expect(backend.getKem('X-Wing', 'noble').algorithm).toBe('X-Wing');
  });

  test('unknown algorithm -> AlgorithmError (4403), quoted and capped in the message', () => {
    const error = errorOf(() => backend.getKem(`Kyber512\n${'x'.repeat(100)}` as KemAlgorithm));
    expect(error).toBeInstanceOf(AlgorithmError);
    expect(error).toMatchObject({ code: 'ERR_ALGORITHM', closeCode: 4403 });
    expect((error as Error).message).not.toContain('\n');
    expect((error as Error).message.length).toBeLessThan(100);
  });

  test('a backend the runtime lacks -> BackendUnavailableError', () => {
    const missing = (['native', 'noble'] as KemBackendName[]).filter((b) => !backend.kemBackends().includes(b));
    for (const name of [...missing, 'wasm' as KemBackendName]) {
      expect(errorOf(() => backend.getKem('ML-KEM-768', name))).toBeInstanceOf(BackendUnavailableError);
    }
    for (const name of backend.kemBackends()) expect(backend.getKem('ML-KEM-768', name).backend).toBe(name);
    for (const name of backend.aeadBackends()) expect(backend.getAead(name).backend).toBe(name);
  });

  test('randomBytes gives fresh bytes of any length', () => {
    expect(backend.randomBytes(0)).toEqual(new Uint8Array(0));
    const a = backend.randomBytes(100_000);
    expect(a).toHaveLength(100_000);
    expect(a.subarray(70_000, 70_032)).not.toEqual(new Uint8Array(32));
    expect(backend.randomBytes(32)).not.toEqual(backend.randomBytes(32));
    expect(() => backend.randomBytes(-1)).toThrow(RangeError);
  });
});

test('browser backend: noble only', () => {
  expect(browser.kemBackends()).toEqual(['noble']);
  expect(browser.aeadBackends()).toEqual(['noble']);
  expect(errorOf(() => browser.getKem('X-Wing', 'native'))).toBeInstanceOf(BackendUnavailableError);
  expect(errorOf(() => browser.getAead('sodium'))).toBeInstanceOf(BackendUnavailableError);
});

test('browser backend bundles for the browser platform with no Node import', async () => {
  const result = await build({
    entryPoints: [new URL('../src/backend/browser.ts', import.meta.url).pathname],
    bundle: true,
    platform: 'browser',
    format: 'esm',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const inputs = Object.keys(result.metafile.inputs);
  expect(inputs.some((path) => path.includes('@noble/post-quantum/ml-dsa'))).toBe(true);
  expect(inputs.filter((path) => /^node:|sodium-native|kem\/native|aead\/sodium|sig\/native/.test(path))).toEqual([]);
});
