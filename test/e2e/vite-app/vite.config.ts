import { defineConfig } from 'vite';

// `VOLLY_BASELINE=1 vite build` builds baseline.html (livekit-client alone) into dist-baseline/,
// so the test can report what @volly/shared adds; a plain `vite build` is Vite's default.
export default defineConfig(process.env.VOLLY_BASELINE ? { build: { outDir: 'dist-baseline', rolldownOptions: { input: 'baseline.html' } } } : {});
