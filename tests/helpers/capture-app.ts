import type { IncomingMessage, ServerResponse } from 'node:http';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { captureConfig } from '../../src/capture/capture-config.js';
import { createVisitorTokens, startCapture, visitorLandingUrl, type RunningCapture } from '../../src/capture/capture-setup.js';
import type { VisitorTokens } from '../../src/capture/visitor-token.js';
import { createLogger } from '../../src/platform/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { TEST_API_KEY, TEST_SECRET } from './test-app.js';
import { createTestDatabase, type TestDatabase } from './test-database.js';

export const SITE_KEY = 'site_test_0123456789';
export const SITE_ORIGIN = 'https://www.example.com';

export interface CaptureTestApp {
  app: (req: IncomingMessage, res: ServerResponse) => void;
  api: ReturnType<typeof request>;
  auth: { Authorization: string };
  database: TestDatabase;
  services: Services;
  capture: RunningCapture;
  tokens: VisitorTokens;
  close(): Promise<void>;
}

/** The real app with website capture on, over a private database, driven by supertest. */
export async function createCaptureTestApp(environment: Record<string, string> = {}, options: { maxBufferedEvents?: number } = {}): Promise<CaptureTestApp> {
  const database = await createTestDatabase();
  const logger = createLogger('silent');
  const config = captureConfig({ BATON_SITE_ORIGINS: SITE_ORIGIN, ...environment });
  const tokens = createVisitorTokens(TEST_SECRET);
  const services = await createServices(database.db, {
    secret: TEST_SECRET,
    publicUrl: 'https://baton.test',
    logger,
    landingUrl: visitorLandingUrl(tokens, config.siteOrigins),
  });
  const capture = startCapture({
    config,
    siteKey: SITE_KEY,
    db: database.db,
    leads: services.leads,
    tokens,
    logger,
    worker: false,
    maxBufferedEvents: options.maxBufferedEvents,
  });
  const app = createApp({ apiKey: TEST_API_KEY, companyName: 'Acme Test', logger, services, pingDatabase: database.ping, capture: capture.handler });
  return {
    app,
    api: request(app),
    auth: { Authorization: `Bearer ${TEST_API_KEY}` },
    database,
    services,
    capture,
    tokens,
    async close() {
      await capture.stop();
      await services.tracking.close();
      await database.drop();
    },
  };
}
