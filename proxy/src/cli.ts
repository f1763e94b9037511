/**
 * `volly-pq` — the command line: proxy, keygen, token, probe, tunnel (docs/cli.md).
 * Exit codes: 0 ok, 1 runtime failure, 2 bad usage or settings. Every error
 * is one line on stderr, `volly-pq: ...`.
 */
import { Command } from 'commander';
import { EXIT, EXIT_CODES_HELP, UsageError, VERSION } from './commands/common.js';
import { registerKeygen } from './commands/keygen.js';
import { registerProbe } from './commands/probe.js';
import { registerProxy } from './commands/proxy.js';
import { registerToken } from './commands/token.js';
import { registerTunnel } from './commands/tunnel.js';
import { ConfigError } from './config.js';

const program = new Command('volly-pq')
  .description('Post-quantum signaling sidecar for LiveKit (volly-pq.v1: ML-KEM-768 / X-Wing)')
  .version(VERSION)
  // Set before the commands are added: they inherit both.
  .exitOverride((err) => process.exit(err.exitCode === 0 ? EXIT.ok : EXIT.usage))
  .configureOutput({ outputError: (text, write) => write(`volly-pq: ${text.replace(/^error: /, '')}`) })
  .addHelpText('afterAll', EXIT_CODES_HELP);

registerProxy(program);
registerKeygen(program);
registerToken(program);
registerProbe(program);
registerTunnel(program);

program.parseAsync(process.argv).catch((err: Error) => {
  const usage = err instanceof UsageError || err instanceof ConfigError;
  process.stderr.write(`volly-pq: ${err.message}\n`);
  process.exit(usage ? EXIT.usage : EXIT.failure);
});
