/**
 * JSON logs (pino). Tokens, keys and secrets never reach a log line: the
 * redact list is a safety net behind the rule that we never pass them in.
 */
import { pino } from 'pino';

export function createLogger(level: string) {
  return pino({
    level,
    base: { service: 'volly-pq' },
    redact: {
      paths: ['token', 'accessToken', 'access_token', 'secret', 'authorization', '*.token', '*.authorization', 'req.headers.authorization'],
      censor: '[redacted]',
    },
    timestamp: pino.stdTimeFunctions.isoTime,
  });
}
export type Logger = ReturnType<typeof createLogger>;
