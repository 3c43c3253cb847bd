import type { AddressInfo } from 'node:net';
import { SMTPServer } from 'smtp-server';
import { createFeedbackInbox } from '../../src/feedback/feedback-inbox.js';
import { startInboundSmtp, type InboundSmtp } from '../../src/feedback/inbound-smtp.js';
import { createMailTransport, type MailTransport } from '../../src/mail/mail-transport.js';
import { createEmailDelivery } from '../../src/sends/email-delivery.js';
import { loadTemplates } from '../../src/templates/template-store.js';
import { BOUNCE_DOMAIN, capturingLogger, enrollLead, feedbackAddresses, isSuppressed } from '../helpers/feedback-setup.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';
import { postfixUnavailable, startPostfix, type TestPostfix } from '../helpers/postfix.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';
import { until } from '../helpers/until.js';

/*
 * Acceptance (issue 12): a real Postfix relays Baton's mail. The relay accepts the email (250),
 * the recipient's server then refuses it (550 5.1.1), Postfix sends its DSN to the VERP envelope
 * sender, delivers it (transport map) to Baton's inbound listener, and the lead ends suppressed
 * with the DSN's status.
 */

const unavailable = postfixUnavailable();
if (unavailable) {
  console.warn(`postfix-bounce.test.ts skipped: ${unavailable}`);
}
const describeWithPostfix = unavailable ? describe.skip : describe;

describeWithPostfix(`late bounces through a real Postfix${unavailable ? ` (skipped: ${unavailable})` : ''}`, () => {
  let t: TestApp;
  let postfix: TestPostfix | null = null;
  let inbound: InboundSmtp | null = null;
  let transport: MailTransport | null = null;
  const refusing = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    closeTimeout: 1000,
    onRcptTo(address, _session, callback) {
      callback(
        Object.assign(new Error(`5.1.1 <${address.address}>: Recipient address rejected: User unknown in virtual mailbox table`), { responseCode: 550 }),
      );
    },
  });
  const { logger } = capturingLogger();

  beforeAll(async () => {
    t = await createTestApp();
    await new Promise<void>((resolve) => refusing.listen(0, '127.0.0.1', resolve));
    inbound = await startInboundSmtp({
      inbox: createFeedbackInbox({ db: t.database.db, suppression: t.services.suppression, addresses: feedbackAddresses(), logger, softBounceLimit: 3 }),
      host: '127.0.0.1',
      port: 0,
      maxBytes: 2_000_000,
      logger,
    });
    postfix = await startPostfix({ 'gone.example': (refusing.server.address() as AddressInfo).port, [BOUNCE_DOMAIN]: inbound.port });
    transport = createMailTransport(postfix.url, null);
  }, 180_000);

  afterAll(async () => {
    // Each part stops even when another failed: a Postfix left running outlives the test run.
    transport?.close();
    await postfix?.stop();
    await inbound?.close();
    await new Promise<void>((resolve) => refusing.close(() => resolve()));
    await t?.close();
  }, 180_000);

  it('suppresses and unsubscribes the lead with the DSN status once Postfix reports the bounce', async () => {
    if (!postfix || !transport) throw new Error('Postfix did not start');
    const loaded = await loadTemplates(FIXTURE_CONTENT.templates);
    if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
    const { leads, events, suppression, tracking, unsubscribeSigner } = t.services;
    const delivery = createEmailDelivery({
      db: t.database.db,
      leads,
      events,
      suppression,
      templates: loaded.store,
      tracking,
      transport,
      unsubscribeSigner,
      settings: {
        publicUrl: 'https://baton.test',
        mailFrom: 'Acme <hello@acme.example>',
        company: { name: 'Acme', postalAddress: '1 Main Street, Springfield' },
      },
      worker: 'postfix-test',
      feedbackAddresses: feedbackAddresses(),
    });
    const ids = await enrollLead(t, 'nobody@gone.example');
    const [outcome] = await delivery.deliverMany([{ ...ids, sequence: { id: 'b2b-nurture', name: 'B2B nurture' }, stepId: 'welcome', template: 'welcome' }]);
    // The relay took it: during the SMTP conversation nothing was wrong.
    expect(outcome?.kind).toBe('sent');
    expect(await isSuppressed(t, 'nobody@gone.example')).toBe(false);

    const bounced = await until(
      () => t.database.db.selectFrom('events').selectAll().where('lead_id', '=', ids.leadId).where('type', '=', 'email_bounced').execute(),
      (rows) => rows.length > 0,
      120_000,
    );
    if (bounced.length === 0) throw new Error(`no bounce recorded; Postfix log:\n${await postfix.log()}`);
    expect(bounced).toEqual([
      expect.objectContaining({
        properties: expect.objectContaining({
          bounce: 'hard',
          status: '5.1.1',
          source: 'dsn',
          stepId: 'welcome',
          reason: expect.stringContaining('550 5.1.1'),
        }),
      }),
    ]);
    expect(await isSuppressed(t, 'nobody@gone.example')).toBe(true);
    expect((await leads.getMany([ids.leadId])).get(ids.leadId)?.unsubscribedAt).toBeTruthy();
    // Postfix's log shows the DSN went to the VERP address and was accepted by Baton.
    expect(await postfix.log()).toMatch(/to=<bounce\+[A-Za-z0-9_.-]+@bounces\.acme\.example>.*status=sent \(250/);
  }, 180_000);
});
