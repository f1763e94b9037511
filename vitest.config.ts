import { defineConfig } from 'vitest/config';

// Projects:
// - unit: single-module tests of shared/ and proxy/ (no network but loopback).
// - integration: against the real livekit-server, Redis and Chromium (test/).
// `npm run test:legacy-node` runs the unit project under the machine's own
// Node (20) to prove the pure-JS paths; native-only tests skip themselves there.
export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: process.env.VOLLY_VITEST_REPORT ?? '.vitest-report.json' }]],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['shared/test/**/*.test.ts', 'proxy/test/**/*.test.ts'],
          testTimeout: 30_000,
        },
      },
      {
        test: {
          name: 'integration',
          include: ['test/**/*.test.ts'],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          globalSetup: ['test/harness/global-setup.ts'],
        },
      },
    ],
  },
});
