import type { EventsService } from '../events/events.service.js';
import type { LeadsService } from '../leads/leads.service.js';
import { buildMailOptions } from '../mail/mail-message.js';
import type { MailTransport } from '../mail/mail-transport.js';
import type { SmtpOutcome } from '../mail/smtp-replies.js';
import type { Database } from '../platform/db/schema.js';
import type { TokenSigner } from '../platform/signing.js';
import { unsubscribeUrl } from '../subscriptions/unsubscribe-token.js';
import type { SuppressionService } from '../suppression/suppression.service.js';
import type { TemplateStore } from '../templates/template-store.js';
import type { TrackingService } from '../tracking/tracking.service.js';
import type { Kysely } from 'kysely';
import { claimSend, finishSend, lockLeadSends, type SendRow } from './sends.repository.js';

/*
 * Sends the email of one sequence step to one lead, at most once. The ledger row is claimed
 * before anything goes over SMTP; a second attempt finds the claim and stops. Suppression,
 * opt-out and erasure are checked at send time, not when the step was scheduled.
 */

export interface EmailStepInput {
  enrollmentId: string;
  leadId: string;
  sequence: { id: string; name: string };
  stepId: string;
  template: string;
  /** The step's own subject (Handlebars) and From, overriding the template's. */
  subject?: string;
  from?: string;
  /**
   * Runs under a per-lead lock, in the transaction that claims the ledger row, so that two
   * workers cannot both pass it: returns when the email may go instead, or null for now.
   */
  gate?: (trx: Kysely<Database>, marketing: boolean) => Promise<Date | null>;
}

export type DeliveryOutcome =
  | { kind: 'sent'; sendId: string }
  | { kind: 'already_handled'; sendId: string; status: SendRow['status'] }
  | { kind: 'skipped'; reason: 'lead_erased' | 'unsubscribed' | 'suppressed' }
  | { kind: 'held'; until: Date }
  | { kind: 'retry_later'; sendId: string; outcome: SmtpOutcome }
  | { kind: 'bounced'; sendId: string }
  | { kind: 'sender_blocked'; sendId: string; outcome: SmtpOutcome }
  | { kind: 'failed'; sendId: string; outcome: SmtpOutcome }
  | { kind: 'unknown'; sendId: string };

export interface EmailDeliveryDeps {
  db: Kysely<Database>;
  leads: LeadsService;
  events: EventsService;
  suppression: SuppressionService;
  templates: TemplateStore;
  tracking: TrackingService;
  transport: MailTransport;
  unsubscribeSigner: TokenSigner;
  settings: { publicUrl: string; mailFrom: string; company: { name: string; postalAddress: string } };
}

export interface EmailDelivery {
  deliver(input: EmailStepInput): Promise<DeliveryOutcome>;
}

export function createEmailDelivery(deps: EmailDeliveryDeps): EmailDelivery {
  const messageDomain = new URL(deps.settings.publicUrl).hostname;
  return {
    async deliver(input) {
      const lead = await deps.leads.get(input.leadId);
      if (!lead) return { kind: 'skipped', reason: 'lead_erased' };
      // Deterministic per (enrollment, step): a resend, if one ever happened, carries the same id.
      const messageId = `<${input.enrollmentId}.${input.stepId}@${messageDomain}>`;
      const marketing = deps.templates.get(input.template)?.meta.category !== 'transactional';
      const claim = await deps.db.transaction().execute(async (trx) => {
        if (input.gate) {
          await lockLeadSends(trx, lead.id);
          const until = await input.gate(trx, marketing);
          if (until) return { held: until } as const;
        }
        return claimSend(trx, { enrollmentId: input.enrollmentId, stepId: input.stepId, leadId: lead.id, template: input.template, messageId, marketing });
      });
      if ('held' in claim) return { kind: 'held', until: claim.held };
      if (!claim.claimed) return { kind: 'already_handled', sendId: claim.row.id, status: claim.row.status };
      const sendId = claim.row.id;

      const skip = lead.unsubscribedAt ? 'unsubscribed' : (await deps.suppression.suppressedAmong(deps.db, [lead.email])).size > 0 ? 'suppressed' : null;
      if (skip) {
        await finishSend(deps.db, sendId, { status: 'skipped', outcome: skip, smtpResponse: null });
        return { kind: 'skipped', reason: skip };
      }

      const unsubscribe = unsubscribeUrl(deps.settings.publicUrl, deps.unsubscribeSigner, { leadId: lead.id, sendId });
      const rendered = deps.templates.render(input.template, {
        lead: { ...lead },
        company: deps.settings.company,
        links: { unsubscribe },
        sequence: input.sequence,
        step: { id: input.stepId },
      }, { subject: input.subject, from: input.from });
      const tracked = await deps.tracking.prepareEmail({ sendId, leadId: lead.id, html: rendered.html, text: rendered.text, keepUrls: [unsubscribe] });
      const result = await deps.transport.send(buildMailOptions({
        rendered: { ...rendered, html: tracked.html, text: tracked.text },
        to: lead.email,
        from: rendered.from ?? deps.settings.mailFrom,
        messageId,
        unsubscribeUrl: unsubscribe,
        headers: { 'X-Baton-Send': sendId },
      }));
      return record(deps, input, lead.email, sendId, result.outcome, result.response);
    },
  };
}

async function record(deps: EmailDeliveryDeps, input: EmailStepInput, email: string, sendId: string, outcome: SmtpOutcome, response: string): Promise<DeliveryOutcome> {
  const finish = (status: SendRow['status']) => finishSend(deps.db, sendId, { status, outcome: outcome.kind, smtpResponse: response });
  const event = (type: string, extra: Record<string, unknown> = {}) =>
    deps.events.record([{ leadId: input.leadId, type, occurredAt: new Date(), properties: { sendId, sequenceId: input.sequence.id, stepId: input.stepId, template: input.template, ...extra } }]);
  switch (outcome.kind) {
    case 'sent':
      await finish('sent');
      await event('email_sent');
      return { kind: 'sent', sendId };
    case 'hard_bounce':
      await finish('failed');
      await deps.suppression.suppress(deps.db, email, 'hard_bounce');
      await event('email_bounced', { bounce: 'hard', reason: outcome.reason });
      return { kind: 'bounced', sendId };
    case 'retry':
    case 'throttle':
    case 'soft_bounce':
      await finish('failed');
      return { kind: 'retry_later', sendId, outcome };
    case 'sender_blocked':
      await finish('failed');
      return { kind: 'sender_blocked', sendId, outcome };
    case 'unknown':
      await finish('unknown');
      return { kind: 'unknown', sendId };
    case 'failed':
      await finish('failed');
      return { kind: 'failed', sendId, outcome };
  }
}
