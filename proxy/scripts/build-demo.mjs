// Bundles the demo page (proxy/demo) with esbuild for browsers: the real
// livekit-client and @volly/shared's browser entry (pure-JS crypto).
import { copyFileSync, mkdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'demo');
mkdirSync(out, { recursive: true });
await build({
  entryPoints: [join(root, 'demo', 'app.ts')],
  outfile: join(out, 'app.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  sourcemap: true,
  logLevel: 'warning',
});
// livekit-client's E2EE worker (frame encryption for volly-e2ee.v1), served beside the page.
await build({
  entryPoints: [join(dirname(createRequire(import.meta.url).resolve('livekit-client')), 'livekit-client.e2ee.worker.mjs')],
  outfile: join(out, 'e2ee-worker.js'),
  bundle: true,
  format: 'esm',
  platform: 'browser',
  target: 'es2022',
  minify: true,
  logLevel: 'warning',
});
copyFileSync(join(root, 'demo', 'index.html'), join(out, 'index.html'));
