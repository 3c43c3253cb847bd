import { pino, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'baton' },
    // Belt and braces: config is redacted before logging, this catches headers logged by mistake.
    redact: ['req.headers.authorization', 'apiKey', 'secret', 'databaseUrl', 'smtpUrl'],
  });
}
