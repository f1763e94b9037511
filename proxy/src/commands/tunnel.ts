/**
 * `volly-pq tunnel`: post-quantum signaling for any unmodified LiveKit SDK
 * (Python, Rust, Go, @livekit/rtc-node, Unity). The SDK connects to the
 * tunnel's loopback URL; each signaling WebSocket goes on to the proxy as a
 * volly-pq session (v2 by default), everything else over plain HTTP(S).
 * SIGTERM/SIGINT close the sessions (1001) and exit 0.
 */
import type { Command } from 'commander';
import { createLogger } from '../log.js';
import { TunnelError } from '../tunnel/errors.js';
import { type TunnelCliOptions, tunnelSettings } from '../tunnel/options.js';
import { startTunnel } from '../tunnel/server.js';
import { UsageError } from './common.js';
import { runService } from './service.js';

const collect = (value: string, previous: string[] = []) => [...previous, value];

const HELP = `
Point the SDK at the tunnel instead of LiveKit: ws://127.0.0.1:7881 (tokens stay as the app minted them).
Signaling (/rtc, /rtc/v1) is carried sealed to --server; /rtc/validate is answered with the proxy's real
refusal; Twirp and other HTTP go to the proxy's HTTPS endpoint unchanged. See docs/cli.md, "volly-pq tunnel".`;

export function registerTunnel(program: Command): Command {
  return program
    .command('tunnel')
    .summary('PQ signaling for any LiveKit SDK: a loopback forwarder to the proxy')
    .description('Listen on loopback for LiveKit signaling from any unmodified SDK and carry it to the volly-pq proxy post-quantum.')
    .option('-l, --listen <host:port>', 'where the SDK connects (loopback only unless --allow-remote)', '127.0.0.1:7881')
    .option('-s, --server <url>', 'the proxy: wss://proxy.example[/prefix] (ws:// only for tests)')
    .option('-p, --protocol <v2|v1|auto>', 'volly-pq version to speak', 'v2')
    .option('--server-key <file>', "v2: the proxy's static key (its well-known document, or a keygen key file); repeatable", collect)
    .option('--well-known-url <url>', "v2: where the proxy's key document is (default <server origin>/.well-known/volly-pq)")
    .option('--bind-key <file>', 'a key pair (keygen file) that tokens may be bound to; repeatable', collect)
    .option('--admin-listen <host:port>', 'serve Prometheus /metrics here (default: off)')
    .option('--allow-remote', 'listen on a non-loopback address (its side is in clear: only on a private network you trust)')
    .option('--log-level <level>', 'trace, debug, info, warn, error', process.env.VOLLY_LOG_LEVEL ?? 'info')
    .addHelpText('after', HELP)
    .action(async (opts: TunnelCliOptions) => {
      let settings: ReturnType<typeof tunnelSettings>;
      try {
        settings = tunnelSettings(opts);
      } catch (err) {
        if (err instanceof TunnelError) throw new UsageError(err.message);
        throw err;
      }
      const log = createLogger(settings.logLevel);
      await runService('tunnel', log, () => startTunnel(settings, log));
    });
}
