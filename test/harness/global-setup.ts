// vitest globalSetup of every suite project under test/: make sure the
// livekit-server binary exists before any test runs, so its ~3 minute Go build
// is never inside a test or hook timeout. The path reaches the tests both as
// `inject('livekitBinary')` and as $VOLLY_LIVEKIT_BIN (which startLiveKit()
// reads; the workers inherit the environment of this process).

import type { TestProject } from 'vitest/node';
import { ensureLiveKitBinary, LIVEKIT_VERSION } from './livekit-binary.ts';

declare module 'vitest' {
  export interface ProvidedContext {
    livekitBinary: string;
    livekitVersion: string;
  }
}

export default async function setup(project: TestProject): Promise<void> {
  const started = Date.now();
  const bin = await ensureLiveKitBinary();
  const secs = (Date.now() - started) / 1000;
  if (secs > 5) process.stderr.write(`[harness] livekit-server ready after ${secs.toFixed(0)} s: ${bin}\n`);
  process.env.VOLLY_LIVEKIT_BIN = bin;
  project.provide('livekitBinary', bin);
  project.provide('livekitVersion', LIVEKIT_VERSION);
}
