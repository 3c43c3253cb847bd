import { startMailSink, type MailSink } from '../../src/mail/mail-sink.js';
import { createMailTransport, type MailTransport } from '../../src/mail/mail-transport.js';
import { createLogger } from '../../src/platform/logger.js';
import { createEmailDelivery, type DeliveryOptions, type DeliveryOutcome, type EmailDelivery, type EmailStepInput } from '../../src/sends/email-delivery.js';
import { loadTemplates, type TemplateStore } from '../../src/templates/template-store.js';
import { FIXTURE_CONTENT } from './fixture-content.js';
import { createTestApp, type TestApp } from './test-app.js';

/** What the email delivery tests share: a test app, the embedded SMTP sink, a transport to it and the fixture templates. */
export interface DeliverySetup {
  t: TestApp;
  sink: MailSink;
  transport: MailTransport;
  templates: TemplateStore;
  /** Email delivery over `mail` (the sink's transport unless given), claiming as `worker`. */
  deliveryWith(mail?: MailTransport, worker?: string): EmailDelivery;
  close(): Promise<void>;
}

const SETTINGS = {
  publicUrl: 'https://baton.test',
  mailFrom: 'Acme <hello@acme.example>',
  company: { name: 'Acme', postalAddress: '1 Main Street, Springfield' },
};

export async function startDeliverySetup(): Promise<DeliverySetup> {
  const t = await createTestApp();
  const sink = await startMailSink(t.database.db, createLogger('silent'));
  const transport = createMailTransport(sink.url, null);
  const loaded = await loadTemplates(FIXTURE_CONTENT.templates);
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  const templates = loaded.store;
  const { leads, events, suppression, tracking, unsubscribeSigner } = t.services;
  return {
    t,
    sink,
    transport,
    templates,
    deliveryWith: (mail = transport, worker = 'test-worker') =>
      createEmailDelivery({
        db: t.database.db,
        leads,
        events,
        suppression,
        templates,
        tracking,
        transport: mail,
        unsubscribeSigner,
        settings: SETTINGS,
        worker,
      }),
    async close() {
      transport.close();
      await sink.close();
      await t.close();
    },
  };
}

/** One email through `deliverMany`: its outcome. */
export async function deliverOne(delivery: EmailDelivery, input: EmailStepInput, options?: DeliveryOptions): Promise<DeliveryOutcome> {
  const [outcome] = await delivery.deliverMany([input], options);
  if (!outcome) throw new Error('deliverMany returned no outcome');
  return outcome;
}
