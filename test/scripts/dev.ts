// `npm run dev`: the stock LiveKit from the test harness, the proxy in front
// of it with the demo page on, and the URL to open. Ctrl-C stops both.

import { createLogger, loadConfig, startProxy } from '@volly/proxy';
import { kemKeyFile } from '../harness/key-files.ts';
import { generateApiKeyPair, startLiveKit } from '../harness/livekit.ts';
import { isTcpPortFree } from '../harness/ports.ts';

const upstream = generateApiKeyPair();
const client = generateApiKeyPair();
process.stdout.write('Starting the stock livekit-server (the first run builds it with Go, a few minutes)…\n');
const livekit = await startLiveKit({ ...upstream, logLevel: 'warn' });
const port = (await isTcpPortFree(7880)) ? 7880 : 0;
// A volly-pq.v2 static key, as `volly-pq keygen --algorithm X-Wing --out FILE` makes it: the demo joins over v2.
const keyFile = kemKeyFile();
const config = loadConfig({
  ...process.env,
  VOLLY_LISTEN: `127.0.0.1:${port}`,
  VOLLY_ADMIN_LISTEN: process.env.VOLLY_ADMIN_LISTEN ?? '127.0.0.1:0',
  VOLLY_UPSTREAM_URL: livekit.url,
  LIVEKIT_KEYS: `${client.apiKey}: ${client.apiSecret}`,
  VOLLY_UPSTREAM_KEY: upstream.apiKey,
  VOLLY_UPSTREAM_SECRET: upstream.apiSecret,
  VOLLY_DEMO: '1',
  VOLLY_SERVER_KEYS: process.env.VOLLY_SERVER_KEYS ?? keyFile,
});
const proxy = await startProxy(config, createLogger(process.env.VOLLY_LOG_LEVEL ?? 'info'));
const base = `http://127.0.0.1:${proxy.port}`;
process.stdout.write(
  [
    '',
    `  demo page         ${base}/demo/   (open it in two tabs to see each other)`,
    `  LiveKit URL       ws://127.0.0.1:${proxy.port}   (give this to livekit-client)`,
    `  client API key    ${client.apiKey}   (secret in LIVEKIT_KEYS of this process only)`,
    `  admin             http://127.0.0.1:${proxy.adminPort}/metrics  /healthz  /readyz`,
    `  v2 static key     ${base}/.well-known/volly-pq   (X-Wing, made for this run)`,
    `  upstream LiveKit  ${livekit.url}   (holds only the upstream key)`,
    '',
    'Ctrl-C to stop.',
    '',
  ].join('\n'),
);

let stopping = false;
const stop = async () => {
  if (stopping) return;
  stopping = true;
  await proxy.close().catch(() => {});
  await livekit.stop().catch(() => {});
  process.exit(0);
};
process.on('SIGINT', stop);
process.on('SIGTERM', stop);
