// What @volly/shared adds to a web app: its browser entry bundled by esbuild
// (platform browser, format esm, --minify), then gzip -9. Needs shared/dist
// (`npm run build`).
//
//   node test/e2e/size.mjs          -> a table of sizes
//   import { measureShared } from './size.mjs'  (the bundle-size test)

import { dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { gzipSync } from 'node:zlib';
import { build } from 'esbuild';

const here = dirname(fileURLToPath(import.meta.url));

/** The entries measured: the whole browser entry, and what an app that only installs the shim keeps. */
export const ENTRIES = {
  'all of @volly/shared (browser entry)': "export * from '@volly/shared';",
  'installPqWebSocket only': "export { installPqWebSocket } from '@volly/shared';",
};

/** A livekit-client app without and with the shim: the difference is what the shim costs such an app (shared deps counted once). */
export const APP_ENTRIES = {
  without: "export { Room } from 'livekit-client';",
  with: "export { Room } from 'livekit-client'; export { installPqWebSocket } from '@volly/shared';",
};

/**
 * Bundles `source` (an ES module importing @volly/shared and/or livekit-client) for the browser and
 * returns its sizes and where its bytes come from (package -> bytes).
 */
export async function measureShared(source) {
  const result = await build({
    stdin: { contents: source, resolveDir: here, loader: 'js', sourcefile: 'entry.js' },
    bundle: true,
    minify: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    write: false,
    metafile: true,
    logLevel: 'silent',
  });
  const code = result.outputFiles[0].contents;
  const inputs = Object.keys(result.metafile.inputs);
  const bySource = {};
  for (const out of Object.values(result.metafile.outputs)) {
    for (const [file, { bytesInOutput }] of Object.entries(out.inputs)) {
      const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(file);
      const key = m ? m[1] : file.includes('shared/dist/') ? '@volly/shared' : file;
      bySource[key] = (bySource[key] ?? 0) + bytesInOutput;
    }
  }
  return { minified: code.length, gzipped: gzipSync(code, { level: 9 }).length, inputs, bySource };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  for (const [name, source] of Object.entries(ENTRIES)) {
    const m = await measureShared(source);
    const kb = (n) => `${(n / 1024).toFixed(1)} KiB`;
    process.stdout.write(`${name}: ${kb(m.minified)} minified, ${kb(m.gzipped)} minified+gzipped (${m.gzipped} bytes)\n`);
    const parts = Object.entries(m.bySource)
      .filter(([, b]) => b > 0)
      .sort((a, b) => b[1] - a[1])
      .map(([k, b]) => `${k} ${kb(b)}`);
    process.stdout.write(`  minified bytes by source: ${parts.join(', ')}\n`);
  }
  const without = await measureShared(APP_ENTRIES.without);
  const withShim = await measureShared(APP_ENTRIES.with);
  process.stdout.write(
    `livekit-client app: ${(without.gzipped / 1024).toFixed(1)} KiB gzipped; with installPqWebSocket: ${(withShim.gzipped / 1024).toFixed(1)} KiB (+${((withShim.gzipped - without.gzipped) / 1024).toFixed(1)} KiB)\n`,
  );
}
