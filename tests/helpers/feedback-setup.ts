import { createFeedbackAddresses, type FeedbackAddresses } from '../../src/feedback/bounce-address.js';
import { createFeedbackInbox, type FeedbackInbox } from '../../src/feedback/feedback-inbox.js';
import { FEEDBACK_TOKEN_PURPOSE } from '../../src/feedback/feedback-runtime.js';
import { pino } from 'pino';
import type { Logger } from '../../src/platform/logger.js';
import { createTokenSigner } from '../../src/platform/signing.js';
import type { TestApp } from './test-app.js';
import { TEST_SECRET } from './test-app.js';

export const BOUNCE_DOMAIN = 'bounces.acme.example';

/** A lead enrolled in the fixture sequence, for sends to hang off. */
export async function enrollLead(t: TestApp, email: string): Promise<{ leadId: string; enrollmentId: string }> {
  const lead = await t.api.post('/api/leads').set(t.auth).send({ email, firstName: 'Zoë', company: 'Initech' });
  if (lead.status !== 201 && lead.status !== 200) throw new Error(`lead not created: ${lead.status} ${JSON.stringify(lead.body)}`);
  const row = await t.database.db
    .insertInto('enrollments')
    .values({ lead_id: lead.body.id, sequence_id: 'b2b-nurture', sequence_version: 1 })
    .returning('id')
    .executeTakeFirstOrThrow();
  return { leadId: lead.body.id, enrollmentId: row.id };
}

/** A finished send row, as email delivery leaves it after the relay accepted the email. */
export async function sentSend(t: TestApp, ids: { leadId: string; enrollmentId: string }, stepId = 'welcome'): Promise<string> {
  const row = await t.database.db
    .insertInto('sends')
    .values({
      enrollment_id: ids.enrollmentId,
      step_id: stepId,
      lead_id: ids.leadId,
      template: 'welcome',
      message_id: `<${ids.enrollmentId}.${stepId}@baton.test>`,
      status: 'sent',
      outcome: 'sent',
      marketing: true,
    })
    .returning('id')
    .executeTakeFirstOrThrow();
  return row.id;
}

export function feedbackAddresses(): FeedbackAddresses {
  return createFeedbackAddresses(createTokenSigner(TEST_SECRET, FEEDBACK_TOKEN_PURPOSE), BOUNCE_DOMAIN);
}

export function feedbackInbox(t: TestApp, logger?: Logger, softBounceLimit = 3): FeedbackInbox {
  return createFeedbackInbox({ db: t.database.db, suppression: t.services.suppression, addresses: feedbackAddresses(), logger, softBounceLimit });
}

export async function isSuppressed(t: TestApp, email: string): Promise<boolean> {
  return (await t.services.suppression.suppressedAmong(t.database.db, [email])).size > 0;
}

/** A real pino logger whose lines (parsed JSON) are kept for assertions. */
export function capturingLogger(): { logger: Logger; lines: Array<Record<string, unknown> & { msg?: string; level?: number }> } {
  const lines: Array<Record<string, unknown> & { msg?: string; level?: number }> = [];
  const logger = pino({ level: 'info' }, { write: (line: string) => void lines.push(JSON.parse(line) as Record<string, unknown>) });
  return { logger, lines };
}
