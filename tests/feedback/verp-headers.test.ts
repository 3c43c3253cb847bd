import { simpleParser } from 'mailparser';
import { createEmailDelivery } from '../../src/sends/email-delivery.js';
import { startDeliverySetup, type DeliverySetup } from '../helpers/delivery-setup.js';
import { enrollLead, feedbackAddresses } from '../helpers/feedback-setup.js';

/*
 * With a bounce domain, each email leaves with its send's VERP envelope sender, and its
 * List-Unsubscribe lists the https URL first and the mailto: address after it (RFC 8058).
 */

let setup: DeliverySetup;
beforeAll(async () => {
  setup = await startDeliverySetup();
});
afterAll(() => setup.close());

it('sends with the VERP envelope sender and a mailto: unsubscribe after the https one', async () => {
  const { t, templates, transport } = setup;
  const { leads, events, suppression, tracking, unsubscribeSigner } = t.services;
  const addresses = feedbackAddresses();
  const delivery = createEmailDelivery({
    db: t.database.db,
    leads,
    events,
    suppression,
    templates,
    tracking,
    transport,
    unsubscribeSigner,
    worker: 'verp-test',
    feedbackAddresses: addresses,
    settings: { publicUrl: 'https://baton.test', mailFrom: 'Acme <hello@acme.example>', company: { name: 'Acme', postalAddress: '1 Main Street' } },
  });
  const ids = await enrollLead(t, 'zoe@example.com');
  const [outcome] = await delivery.deliverMany([{ ...ids, sequence: { id: 'b2b-nurture', name: 'B2B nurture' }, stepId: 'welcome', template: 'welcome' }]);
  if (outcome?.kind !== 'sent') throw new Error(`not sent: ${JSON.stringify(outcome)}`);
  const caught = await t.database.db.selectFrom('dev_mail').selectAll().execute();
  expect(caught).toHaveLength(1);
  expect(caught[0]?.envelope_from).toBe(addresses.bounce(outcome.sendId));
  expect(addresses.read(caught[0]?.envelope_from ?? '')).toEqual({ kind: 'bounce', sendId: outcome.sendId });
  const mail = await simpleParser(caught[0]?.raw ?? '');
  const fields = mail.headerLines.filter((line) => line.key === 'list-unsubscribe');
  expect(fields).toHaveLength(1);
  const header = fields[0]?.line.replace(/\r?\n\s+/g, ' ');
  expect(header).toBe(
    `List-Unsubscribe: <${/<(https:[^>]+)>/.exec(header ?? '')?.[1] ?? ''}>, <mailto:${addresses.unsubscribe(outcome.sendId)}?subject=unsubscribe>`,
  );
  expect(header).toMatch(/^List-Unsubscribe: <https:\/\/baton\.test\/u\/[^>]+>, <mailto:unsub\+/);
  expect(mail.headers.get('from')).toMatchObject({ value: [{ address: 'hello@acme.example' }] });
  expect(mail.headers.get('x-pm-metadata-baton_send')).toBe(outcome.sendId);
});
