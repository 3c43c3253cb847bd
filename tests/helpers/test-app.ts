import type { IncomingMessage, ServerResponse } from 'node:http';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { createLogger, type Logger } from '../../src/platform/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export const TEST_API_KEY = 'test-api-key-0123456789abcdef';
export const TEST_SECRET = 'test-secret-0123456789abcdef0123456789';

export interface TestApp {
  app: (req: IncomingMessage, res: ServerResponse) => void;
  database: TestDatabase;
  services: Services;
  /** Headers for an authorised API call. */
  auth: { Authorization: string };
  api: ReturnType<typeof request>;
  close(): Promise<void>;
}

/** The real app over a real, private database, driven through HTTP by supertest. */
export async function createTestApp(options: { logger?: Logger } = {}): Promise<TestApp> {
  const database = await createTestDatabase();
  const logger = options.logger ?? createLogger('silent');
  const services = await createServices(database.db, { secret: TEST_SECRET, publicUrl: 'https://baton.test', logger });
  const app = createApp({ apiKey: TEST_API_KEY, companyName: 'Acme Test', logger, services, pingDatabase: database.ping });
  return {
    app,
    database,
    services,
    auth: { Authorization: `Bearer ${TEST_API_KEY}` },
    api: request(app),
    close: async () => {
      await services.tracking.close();
      await database.drop();
    },
  };
}
