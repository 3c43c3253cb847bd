import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { createApp } from './app.js';
import type { Config } from './platform/config.js';
import { openDatabase, type DatabaseHandle } from './platform/db/database.js';
import { migrate } from './platform/db/migrate.js';
import type { Logger } from './platform/logger.js';
import { createScheduler, type Scheduler } from './platform/scheduler.js';
import { resolveSecrets, type ResolvedSecrets } from './platform/secrets.js';
import { createServices } from './services.js';

export interface RunningBaton {
  /** Base URL of the HTTP server, when this process serves the API. */
  url: string | null;
  secrets: ResolvedSecrets;
  database: DatabaseHandle;
  /** Graceful stop: no new requests, in-flight work finished, database closed. */
  stop(): Promise<void>;
}

/** Boots one Baton process in its role: opens and migrates the database, then serves and/or works. */
export async function startBaton(config: Config, logger: Logger): Promise<RunningBaton> {
  const secrets = await resolveSecrets(config);
  const database = await openDatabase({ url: config.databaseUrl, embeddedDir: config.dataDir, poolSize: config.databasePoolSize });
  try {
    const applied = await migrate(database.pool);
    logger.info({ database: database.kind, migrationsApplied: applied }, 'database ready');
    const services = await createServices(database.db);

    let server: http.Server | null = null;
    let url: string | null = null;
    if (config.role !== 'worker') {
      const app = createApp({ apiKey: secrets.apiKey, logger, services, pingDatabase: database.ping });
      server = http.createServer(app);
      await new Promise<void>((resolve, reject) => {
        server?.once('error', reject);
        server?.listen(config.port, config.host, () => resolve());
      });
      const { port } = server.address() as AddressInfo;
      url = `http://${config.host === '0.0.0.0' ? 'localhost' : config.host}:${port}`;
    }

    let scheduler: Scheduler | null = null;
    if (config.role !== 'api') {
      // Nurture steps, scoring decay and handoff reminders register their jobs here.
      scheduler = createScheduler(database.pool, logger, `baton-${process.pid}`, []);
      await scheduler.start();
    }

    let stopping: Promise<void> | null = null;
    const stop = () => {
      stopping ??= (async () => {
        if (server) await closeHttpServer(server, config.shutdownTimeoutMs);
        if (scheduler) await scheduler.stop(config.shutdownTimeoutMs);
        await database.close();
      })();
      return stopping;
    };
    return { url, secrets, database, stop };
  } catch (error) {
    await database.close().catch(() => undefined);
    throw error;
  }
}

/** Stops accepting connections, lets in-flight requests finish, then cuts what is left. */
async function closeHttpServer(server: http.Server, timeoutMs: number): Promise<void> {
  const closed = new Promise<void>((resolve) => server.close(() => resolve()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), timeoutMs);
  await closed;
  clearTimeout(timer);
}
