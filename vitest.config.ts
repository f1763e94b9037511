import { defineConfig } from 'vitest/config';

// One project per suite, so a reader (and CI) can run one:
//   npx vitest run --project security
// - unit: single-module tests of shared/ and proxy/ (no network but loopback).
// - the rest run against the real livekit-server, Redis, nginx and Chromium
//   (test/<suite>), one file at a time. Their groupOrder makes the projects run
//   one after another: two suites that each start LiveKit and load both cores
//   must not overlap, or their timing checks measure each other.
// `npm run test:legacy-node` runs the unit project under the machine's own
// Node (20) to prove the pure-JS paths; native-only tests skip themselves there.
const SUITES = ['smoke', 'integration', 'interop', 'security', 'cli', 'clients', 'tls', 'e2e', 'deploy', 'faults', 'bench'] as const;

export default defineConfig({
  test: {
    reporters: ['default', ['json', { outputFile: process.env.VOLLY_VITEST_REPORT ?? '.vitest-report.json' }]],
    projects: [
      {
        test: {
          name: 'unit',
          include: ['shared/test/**/*.test.ts', 'proxy/test/**/*.test.ts'],
          testTimeout: 30_000,
          sequence: { groupOrder: 0 },
        },
      },
      ...SUITES.map((suite, i) => ({
        test: {
          name: suite,
          include: [`test/${suite}/**/*.test.ts`],
          testTimeout: 120_000,
          hookTimeout: 600_000,
          fileParallelism: false,
          globalSetup: ['test/harness/global-setup.ts'],
          sequence: { groupOrder: i + 1 },
        },
      })),
    ],
  },
});
