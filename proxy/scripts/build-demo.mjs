// Bundles the demo page (proxy/demo) with esbuild for browsers: the real
// livekit-client and @volly/shared's browser entry (pure-JS crypto).
import { copyFileSync, mkdirSync } from 'node:fs';
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
copyFileSync(join(root, 'demo', 'index.html'), join(out, 'index.html'));
