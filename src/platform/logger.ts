import { pino, stdSerializers, type Logger } from 'pino';

export type { Logger };

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'baton' },
    // Belt and braces: config is redacted before logging, this catches headers logged by mistake.
    redact: ['req.headers.authorization', 'apiKey', 'secret', 'databaseUrl', 'smtpUrl'],
    serializers: { err: withoutRowData },
  });
}

/** PostgreSQL puts row values in `detail` ("Key (email)=(ada@…) already exists"): not for logs. */
function withoutRowData(error: Error): Record<string, unknown> {
  const serialized: Record<string, unknown> = { ...stdSerializers.err(error) };
  delete serialized.detail;
  delete serialized.where;
  return serialized;
}
