import { parseArgs } from 'node:util';
import { ContentError, startBaton } from './baton.js';
import { ConfigError, loadConfig, redactConfig } from './platform/config.js';
import { createLogger } from './platform/logger.js';

/*
 * `npm start` entry point. Roles: `--role all` (default: API and worker in one process),
 * `--role api`, `--role worker` (separate processes sharing one PostgreSQL server).
 */
async function main(): Promise<void> {
  const { values } = parseArgs({ options: { role: { type: 'string' } }, strict: true });
  const environment = { ...process.env, ...(values.role ? { BATON_ROLE: values.role } : {}) };

  let config;
  try {
    config = loadConfig(environment);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }

  const logger = createLogger(config.logLevel);
  logger.info({ config: redactConfig(config) }, 'starting baton');
  // Handlers go in before start-up: the HTTP server answers before the worker side has finished
  // starting, and a SIGTERM in that window must still stop Baton gracefully, once it is up.
  let stopRequested: string | null = null;
  let shutdown = (signal: string) => {
    stopRequested ??= signal;
  };
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  let baton;
  try {
    baton = await startBaton(config, logger);
  } catch (error) {
    if (error instanceof ContentError) {
      console.error(error.message);
      process.exit(1);
    }
    throw error;
  }

  for (const name of baton.secrets.generated) {
    logger.warn({ file: baton.secrets.file }, `${name} was not set: generated one and stored it in the data dir`);
  }
  if (config.role === 'worker') logger.info('worker started');
  if (baton.url) {
    // For the person at the terminal, on stderr: stdout carries only JSON log lines. The key is
    // shown when it was just generated; a key from the environment never reaches any output.
    const keyLine = baton.secrets.generated.includes('BATON_API_KEY')
      ? `  API key: ${baton.secrets.apiKey}  (generated, kept in ${baton.secrets.file})`
      : config.apiKey
        ? '  API key: the BATON_API_KEY you set'
        : `  API key: in ${baton.secrets.file}`;
    // The site key is publishable (it is in every page's HTML): always shown (docs/capture.md).
    const siteLine = baton.secrets.siteKey
      ? `\n  Site key: ${baton.secrets.siteKey}  (<script async src="${config.publicUrl}/js/baton.js" data-site="…">)`
      : '';
    process.stderr.write(
      `\n  Baton is running at ${baton.url}  (role: ${config.role}, database: ${baton.database.kind})\n  Dashboard: ${baton.url}/dashboard\n${keyLine}${siteLine}\n\n`,
    );
  }

  const running = baton;
  let signalled = false;
  shutdown = (signal: string) => {
    if (signalled) return;
    signalled = true;
    logger.info({ signal }, 'shutting down');
    running.stop().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (error: unknown) => {
        logger.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  if (stopRequested) shutdown(stopRequested);
}

main().catch((error: unknown) => {
  console.error('Baton failed to start:', error);
  process.exit(1);
});
