// `volly-pq tunnel` as a user runs it (the bin, a child process): listed in
// the help, and a bad setting exits 2 with one line naming it — above all a
// non-loopback --listen without --allow-remote, whose side is in clear.

import { describe, expect, it } from 'vitest';
import { volly } from './run-cli.js';

async function usageError(args: string[], line: RegExp): Promise<void> {
  const r = await volly(args);
  expect(r.code, r.stderr).toBe(2);
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(line);
}

describe('volly-pq tunnel', () => {
  it('is listed in the help and documents its options', async () => {
    expect((await volly(['--help'])).stdout).toMatch(/^ {2}tunnel /m);
    const r = await volly(['tunnel', '--help']);
    expect(r.code).toBe(0);
    for (const opt of ['--listen', '--server', '--protocol', '--server-key', '--bind-key', '--admin-listen', '--allow-remote']) expect(r.stdout).toContain(opt);
  });

  it('refuses a non-loopback --listen without --allow-remote, and a missing or bad --server', async () => {
    await usageError(
      ['tunnel', '--listen', '0.0.0.0:7881', '--server', 'wss://proxy.example'],
      /^volly-pq: --listen 0\.0\.0\.0: not a loopback address.*--allow-remote/,
    );
    await usageError(['tunnel'], /^volly-pq: --server: the proxy URL is required/);
    await usageError(['tunnel', '--server', 'ftp://proxy.example'], /^volly-pq: --server: expected wss:/);
    await usageError(['tunnel', '--server', 'wss://proxy.example', '--protocol', 'v9'], /^volly-pq: --protocol: expected v2, v1 or auto/);
  });
});
