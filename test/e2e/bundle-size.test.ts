// @volly/shared as a web app bundles it: esbuild for the browser resolves the
// package's `browser` condition (dist/browser.js), pulls in nothing of Node
// (no node:*, no sodium-native, no native KEM), and stays small. Prints the
// minified+gzipped size (the numbers `node test/e2e/size.mjs` tabulates).

import { describe, expect, it } from 'vitest';
// @ts-expect-error: a plain .mjs script without types
import { ENTRIES, measureShared } from './size.mjs';

interface Measure {
  minified: number;
  gzipped: number;
  inputs: string[];
  bySource: Record<string, number>;
}

/** Generous ceiling: today about 42 KiB; a jump past this means a heavy dependency crept in. */
const GZIP_BUDGET = 64 * 1024;

describe('@volly/shared browser bundle', () => {
  it('bundles the browser entry only, with nothing from Node, under the size budget', async () => {
    const all = (await measureShared(ENTRIES['all of @volly/shared (browser entry)'])) as Measure;
    const shim = (await measureShared(ENTRIES['installPqWebSocket only'])) as Measure;
    for (const m of [all, shim]) {
      expect(m.inputs.some((f) => f.endsWith('shared/dist/browser.js'))).toBe(true);
      expect(
        m.inputs.filter((f) => f.endsWith('shared/dist/index.js') || /backend\/node\.js$|kem\/native\.js$|aead\/sodium\.js$|sodium-native|^node:/.test(f)),
      ).toEqual([]);
      expect(m.gzipped).toBeLessThan(GZIP_BUDGET);
    }
    process.stderr.write(
      `[e2e] @volly/shared browser entry: ${all.minified} bytes minified, ${all.gzipped} bytes minified+gzipped; installPqWebSocket alone: ${shim.gzipped} bytes gzipped\n`,
    );
  });
});
