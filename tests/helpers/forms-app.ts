import type { IncomingMessage, ServerResponse } from 'node:http';
import request from 'supertest';
import { createApp } from '../../src/app.js';
import { loadForms } from '../../src/forms/form-file.js';
import { createFormsService, type FormsService } from '../../src/forms/forms.service.js';
import { startMailSink, type MailSink } from '../../src/mail/mail-sink.js';
import { createMailTransport, type MailTransport } from '../../src/mail/mail-transport.js';
import { createLogger } from '../../src/platform/logger.js';
import { createTokenSigner } from '../../src/platform/signing.js';
import { FIXTURE_CONTENT } from './fixture-content.js';
import { createTestApp, TEST_API_KEY, TEST_SECRET, type TestApp } from './test-app.js';

/** The test app with the fixture forms (tests/fixtures/content/forms), mail to the embedded sink, and topics. */
export interface FormsApp {
  t: TestApp;
  forms: FormsService;
  app: (req: IncomingMessage, res: ServerResponse) => void;
  api: ReturnType<typeof request>;
  sink: MailSink;
  /** Enrollments asked for by forms, in order. */
  enrolled: Array<{ sequenceId: string; leadId: string }>;
  close(): Promise<void>;
}

export const FORMS_PUBLIC_URL = 'https://baton.test';

export async function startFormsApp(options: { publicUrl?: string; topics?: string[] } = {}): Promise<FormsApp> {
  const t = await createTestApp();
  const logger = createLogger('silent');
  const sink = await startMailSink(t.database.db, logger);
  const transport: MailTransport = createMailTransport(sink.url, null);
  const loaded = await loadForms(FIXTURE_CONTENT.forms, ['b2b-nurture', 're-engagement']);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const enrolled: FormsApp['enrolled'] = [];
  const publicUrl = options.publicUrl ?? FORMS_PUBLIC_URL;
  const forms = createFormsService({
    db: t.database.db,
    forms: loaded.forms,
    leads: t.services.leads,
    events: t.services.events,
    transport,
    logger,
    enroll: async (sequenceId, leadId) => {
      enrolled.push({ sequenceId, leadId });
    },
    startedSigner: createTokenSigner(TEST_SECRET, 'form-started'),
    optInSigner: createTokenSigner(TEST_SECRET, 'opt-in'),
    settings: { publicUrl, mailFrom: 'Acme <hello@acme.example>', company: { name: 'Acme Test', postalAddress: '1 Main Street, Springfield' } },
  });
  const app = createApp({
    apiKey: TEST_API_KEY,
    companyName: 'Acme Test',
    logger,
    services: t.services,
    pingDatabase: t.database.ping,
    devMailDb: t.database.db,
    forms,
    topics: options.topics ?? [],
  });
  return {
    t,
    forms,
    app,
    api: request(app),
    sink,
    enrolled,
    async close() {
      transport.close();
      await sink.close();
      await t.close();
    },
  };
}
