/**
 * `volly-pq proxy`: runs the proxy. Settings come from the environment over
 * an optional YAML file; a bad one fails before anything listens, with one
 * line naming it (exit 2). SIGTERM/SIGINT drain the sessions and exit 0; a
 * second signal ends the process at once.
 */
import { toHex } from '@volly/shared';
import type { Command } from 'commander';
import { type Config, loadConfig, SETTING_ENV_NAMES } from '../config.js';
import { createLogger } from '../log.js';
import { startProxy } from '../server.js';
import { runService } from './service.js';

const settingsHelp = () =>
  `
Settings (environment variable, or the name in the --config YAML file; the environment wins):
${Object.entries(SETTING_ENV_NAMES)
  .map(([name, env]) => `  ${env.padEnd(28)}${name}`)
  .join('\n')}
  See docs/cli.md for what each one means and its default.`;

/** The settings without secrets, for --check. */
function withoutSecrets(c: Config): Record<string, unknown> {
  return {
    listen: `${c.listen.host}:${c.listen.port}`,
    admin_listen: `${c.adminListen.host}:${c.adminListen.port}`,
    upstream_url: c.upstreamUrl.href,
    keys: [...c.keys.keys()],
    upstream_key: c.upstream.key,
    pq_policy: c.policy,
    pq_algorithms: c.algorithms,
    limits: c.limits,
    log_level: c.logLevel,
    demo: c.demo,
    // Public halves only: which file, which key id, which one signs.
    ...(c.serverKeys ? { server_keys: c.serverKeys.map((k, i) => ({ file: k.file, keyId: toHex(k.keyId), signing: i === 0 })) } : {}),
  };
}

export function registerProxy(program: Command): Command {
  return program
    .command('proxy')
    .summary('run the proxy in front of livekit-server')
    .description('Run the volly-pq proxy in front of livekit-server. Settings come from the environment, over an optional YAML file.')
    .option('-c, --config <file>', 'YAML settings file (the environment overrides it)')
    .option('--demo', 'serve the demo page (same as VOLLY_DEMO=1)')
    .option('--check', 'check the settings, print them without secrets, and exit')
    .addHelpText('after', settingsHelp)
    .action(async (opts: { config?: string; demo?: boolean; check?: boolean }) => {
      const config = loadConfig(opts.demo ? { ...process.env, VOLLY_DEMO: '1' } : process.env, opts.config);
      if (opts.check) {
        process.stdout.write(`${JSON.stringify(withoutSecrets(config), null, 2)}\n`);
        return;
      }
      const log = createLogger(config.logLevel);
      await runService('proxy', log, () => startProxy(config, log));
    });
}
