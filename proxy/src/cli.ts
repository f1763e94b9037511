/**
 * `volly-pq` — the command line. Exit codes: 0 ok, 1 runtime failure,
 * 2 bad usage or settings.
 */
import { Command } from 'commander';
import { ConfigError, loadConfig } from './config.js';
import { startProxy } from './server.js';

export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

const program = new Command('volly-pq')
  .description('Post-quantum signaling sidecar for LiveKit (volly-pq.v1: ML-KEM-768 / X-Wing)')
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : EXIT.usage));

program
  .command('proxy')
  .description('run the proxy in front of livekit-server (settings from env, or a YAML file)')
  .option('-c, --config <file>', 'YAML settings file (env overrides it)')
  .option('--demo', 'serve the demo page (same as VOLLY_DEMO=1)')
  .action(async (opts: { config?: string; demo?: boolean }) => {
    let config;
    try {
      config = loadConfig(opts.demo ? { ...process.env, VOLLY_DEMO: '1' } : process.env, opts.config);
    } catch (err) {
      if (err instanceof ConfigError) {
        process.stderr.write(`volly-pq: ${err.message}\n`);
        process.exit(EXIT.usage);
      }
      throw err;
    }
    const proxy = await startProxy(config);
    const stop = (signal: string) => {
      proxy.ctx.log.info({ event: 'signal', signal }, 'shutting down');
      void proxy.close().then(() => process.exit(EXIT.ok));
    };
    process.once('SIGTERM', () => stop('SIGTERM'));
    process.once('SIGINT', () => stop('SIGINT'));
  });

program.parseAsync(process.argv).catch((err: Error) => {
  process.stderr.write(`volly-pq: ${err.message}\n`);
  process.exit(EXIT.failure);
});
