/**
 * How a long-running command (`proxy`, `tunnel`) lives as a process: any
 * uncaught error is logged as one fatal line and ends it with exit 1 (a
 * supervisor restarts it; a half-broken process would not be noticed), and
 * SIGTERM / SIGINT close it gracefully (the proxy drains) before exit 0.
 */
import type { Logger } from '../log.js';
import { EXIT } from './common.js';

export interface Service {
  close(): Promise<void>;
}

export async function runService(name: string, log: Logger, start: () => Promise<Service>): Promise<void> {
  const crash = (what: string) => (err: unknown) => {
    log.fatal({ event: 'crash', what, err: err instanceof Error ? err.stack : String(err) }, `volly-pq ${name} crashed`);
    process.exit(EXIT.failure);
  };
  process.on('uncaughtException', crash('uncaught exception'));
  process.on('unhandledRejection', crash('unhandled rejection'));
  const service = await start();
  const stop = (signal: string) => {
    log.info({ event: 'signal', signal }, 'shutting down');
    service.close().then(() => process.exit(EXIT.ok), crash('shutdown'));
  };
  process.once('SIGTERM', () => stop('SIGTERM'));
  process.once('SIGINT', () => stop('SIGINT'));
}
