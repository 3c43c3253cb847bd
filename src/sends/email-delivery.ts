import type { EventsService } from '../events/events.service.js';
import type { Lead } from '../leads/lead.js';
import type { LeadsService } from '../leads/leads.service.js';
import { buildMailOptions } from '../mail/mail-message.js';
import type { MailTransport } from '../mail/mail-transport.js';
import type { SmtpOutcome } from '../mail/smtp-replies.js';
import type { Database } from '../platform/db/schema.js';
import type { TokenSigner } from '../platform/signing.js';
import { unsubscribeUrl } from '../subscriptions/unsubscribe-token.js';
import type { SuppressionService } from '../suppression/suppression.service.js';
import type { RenderedEmail, TemplateStore } from '../templates/template-store.js';
import type { Logger } from '../platform/logger.js';
import type { TrackingService } from '../tracking/tracking.service.js';
import type { FeedbackAddresses } from '../feedback/bounce-address.js';
import { espCorrelationHeaders } from '../feedback/esp/esp-event.js';
import type { SmtpDecision, SmtpFeedback } from '../feedback/smtp-feedback.js';
import type { DomainGate } from '../feedback/domain-gate.js';
import type { Kysely } from 'kysely';
import { messageIdDomain } from '../identity/sender-address.js';
import { findMarketingBlocks } from '../consent/consent-gate.js';
import { describeBlock, type MarketingBlockKind } from '../consent/consent-policy.js';
import { claimSends, finishSends, lockLeadsSends, markHandedOver, type SendClaim, type SendRow } from './sends.repository.js';

/*
 * Sends the emails of sequence steps, each at most once, in batches: a batch costs a handful of
 * queries, not a handful per email. The ledger row is claimed before anything goes over SMTP; a
 * second attempt finds the claim and stops. Suppression, opt-out and erasure are checked at send
 * time, not when the step was scheduled: the opt-out and suppression once more as each group is
 * handed to SMTP, under the lead's row lock that an unsubscribe takes.
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
  /** The lead as the caller just read it; read here when absent. */
  lead?: Lead;
}

export interface GateCandidate {
  input: EmailStepInput;
  marketing: boolean;
}

/**
 * Runs under the leads' locks, in the transaction that claims the ledger rows, so that two
 * workers cannot both pass it. Returns, for each candidate in order, when its email may go
 * instead, or null for now. A lead's candidates come in input order: the gate must count the
 * ones it lets through against the ones after them.
 */
export type SendGate = (trx: Kysely<Database>, candidates: GateCandidate[]) => Promise<Array<Date | null>>;

export type DeliveryOutcome =
  | { kind: 'sent'; sendId: string }
  | { kind: 'already_handled'; sendId: string; status: SendRow['status']; claimedAt: Date }
  | { kind: 'skipped'; reason: 'lead_erased' | 'unsubscribed' | 'suppressed' | MarketingBlockKind }
  | { kind: 'held'; until: Date }
  /** `retryAt`: when the feedback policy (src/feedback/retry-policy.ts) says to try again. */
  | { kind: 'retry_later'; sendId: string; outcome: SmtpOutcome; retryAt?: Date }
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
  logger?: Logger;
  /** A sequence's `utm:` setting (tags on its tracked links), or null for none. */
  utmFor?: (sequenceId: string) => { source: string; medium: string } | null | undefined;
  /** This process's name (its Agenda name), recorded on each claim. */
  worker?: string;
  /** VERP bounce and mailto: unsubscribe addresses per send, when BATON_BOUNCE_DOMAIN is set. */
  feedbackAddresses?: FeedbackAddresses | null;
  /** Bounces recorded, retries timed and ended by the feedback policy (src/feedback/smtp-feedback.ts). */
  smtpFeedback?: SmtpFeedback | null;
  /** Per-domain sending limits shared by all workers (src/feedback/domain-gate.ts), after `gate`. */
  domainGate?: DomainGate | null;
  /** The `topic` a sequence declares (the preference centre), or null. */
  topicOf?: (sequenceId: string) => string | null;
}

export interface DeliveryOptions {
  gate?: SendGate;
  /** A claim older than this that was never handed to SMTP belongs to a dead worker: take it over. */
  takeOverBefore?: Date;
}

export interface EmailDelivery {
  /** Outcomes in input order. An (enrollment, step) given twice is sent at most once. */
  deliverMany(inputs: EmailStepInput[], options?: DeliveryOptions): Promise<DeliveryOutcome[]>;
}

/**
 * Claimed sends are handed to SMTP this many at a time, each group marked in the ledger first. A
 * worker that dies leaves at most one group per lane ambiguous (`unknown`, never resent); the rest
 * of its claims never went out, and are sent by the worker that takes them over.
 */
const HAND_OVER_GROUP = 5;

/** A claimed send on its way out. */
interface Claimed {
  index: number;
  input: EmailStepInput;
  lead: Lead;
  sendId: string;
  messageId: string;
}

export function createEmailDelivery(deps: EmailDeliveryDeps): EmailDelivery {
  // Message-IDs under the sender's domain (DMARC-aligned senders are judged by it), not Baton's host.
  const messageDomain = messageIdDomain(deps.settings.mailFrom, deps.settings.publicUrl);
  const isMarketing = (template: string) => deps.templates.get(template)?.meta.category !== 'transactional';

  async function deliverMany(inputs: EmailStepInput[], { gate: stepGate, takeOverBefore }: DeliveryOptions = {}): Promise<DeliveryOutcome[]> {
    const gate = withDomainGate(stepGate, deps.domainGate);
    const outcomes: Array<DeliveryOutcome | undefined> = new Array<DeliveryOutcome | undefined>(inputs.length);
    const missing = inputs.filter((input) => !input.lead).map((input) => input.leadId);
    const read = missing.length > 0 ? await deps.leads.getMany(missing) : new Map<string, Lead>();
    const candidates: Array<{ index: number; input: EmailStepInput; lead: Lead; marketing: boolean }> = [];
    inputs.forEach((input, index) => {
      const lead = input.lead ?? read.get(input.leadId);
      if (lead) candidates.push({ index, input, lead, marketing: isMarketing(input.template) });
      else outcomes[index] = { kind: 'skipped', reason: 'lead_erased' };
    });

    // Deterministic per (enrollment, step): a resend, if one ever happened, carries the same id.
    const messageIdOf = (input: EmailStepInput) => `<${input.enrollmentId}.${input.stepId}@${messageDomain}>`;
    const claims = await deps.db.transaction().execute(async (trx) => {
      let passing = candidates;
      if (gate && candidates.length > 0) {
        await lockLeadsSends(
          trx,
          candidates.map((candidate) => candidate.lead.id),
        );
        const holds = await gate(trx, candidates);
        passing = candidates.filter((candidate, position) => {
          const until = holds[position];
          if (until) outcomes[candidate.index] = { kind: 'held', until };
          return !until;
        });
      }
      const requested: SendClaim[] = passing.map(({ input, lead, marketing }) => ({
        enrollmentId: input.enrollmentId,
        stepId: input.stepId,
        leadId: lead.id,
        template: input.template,
        messageId: messageIdOf(input),
        marketing,
        claimedBy: deps.worker,
      }));
      return { passing, results: await claimSends(trx, requested, takeOverBefore) };
    });

    const claimed: Claimed[] = [];
    const seen = new Set<string>();
    for (const { index, input, lead } of claims.passing) {
      const key = `${input.enrollmentId}:${input.stepId}`;
      const claim = claims.results.get(key);
      if (!claim) throw new Error(`no ledger row for ${key}`);
      if (!claim.claimed || seen.has(key))
        outcomes[index] = {
          kind: 'already_handled',
          sendId: claim.row.id,
          status: seen.has(key) ? 'claimed' : claim.row.status,
          claimedAt: claim.row.claimed_at,
        };
      else claimed.push({ index, input, lead, sendId: claim.row.id, messageId: messageIdOf(input) });
      seen.add(key);
    }

    // An opt-out known already skips the email here; suppression, and an opt-out that comes while
    // the batch runs, are checked as each group is handed to SMTP (markHandedOver).
    const skipped = claimed.filter((send) => send.lead.unsubscribedAt);
    await finishSends(
      deps.db,
      skipped.map((send) => ({ id: send.sendId, status: 'skipped', outcome: 'unsubscribed', smtpResponse: null })),
    );
    for (const send of skipped) outcomes[send.index] = { kind: 'skipped', reason: 'unsubscribed' };

    // Consent, double opt-in, a pause and left topics (src/consent) stop marketing email here.
    const subscribed = claimed.filter((send) => !send.lead.unsubscribedAt);
    const blocks = await findMarketingBlocks(
      deps.db,
      subscribed
        .filter((send) => isMarketing(send.input.template))
        .map((send) => ({ key: send, lead: send.lead, topic: deps.topicOf?.(send.input.sequence.id) ?? null })),
      new Date(),
    );
    await finishSends(
      deps.db,
      [...blocks].map(([send, block]) => ({ id: send.sendId, status: 'skipped', outcome: describeBlock(block), smtpResponse: null })),
    );
    for (const [send, block] of blocks) outcomes[send.index] = { kind: 'skipped', reason: block.kind };

    const { results, takenOver, withheld } = await sendAll(subscribed.filter((send) => !blocks.has(send)));
    await record(deps, results);
    const decisions = await deps.smtpFeedback?.settle(
      results.map(({ send, smtp }) => ({ sendId: send.sendId, email: send.lead.email, smtp })),
      new Date(),
    );
    for (const { send, outcome } of results) outcomes[send.index] = decided(outcome, decisions?.get(send.sendId));
    for (const { send, reason } of withheld) outcomes[send.index] = { kind: 'skipped', reason };
    for (const send of takenOver) outcomes[send.index] = { kind: 'already_handled', sendId: send.sendId, status: 'claimed', claimedAt: new Date() };
    return outcomes.map((outcome, index) => {
      if (!outcome) throw new Error(`no outcome for email ${index} of the batch`);
      return outcome;
    });
  }

  /**
   * Renders, tracks (one insert for every link of the batch) and sends over the pool. `takenOver`:
   * claims another worker took over before this one handed them to SMTP, so not sent from here.
   * `withheld`: found unsubscribed or suppressed at hand-over, recorded `skipped` and not sent.
   */
  async function sendAll(
    sends: Claimed[],
  ): Promise<{ results: SendResultOf[]; takenOver: Claimed[]; withheld: Array<{ send: Claimed; reason: 'unsubscribed' | 'suppressed' }> }> {
    const rendered: Array<{ send: Claimed; unsubscribe: string; email: RenderedEmail }> = [];
    const results: Array<Omit<SendResultOf, 'outcome'>> = [];
    for (const send of sends) {
      const unsubscribe = unsubscribeUrl(deps.settings.publicUrl, deps.unsubscribeSigner, { leadId: send.lead.id, sendId: send.sendId });
      try {
        const email = deps.templates.render(
          send.input.template,
          {
            lead: { ...send.lead },
            company: deps.settings.company,
            links: { unsubscribe },
            sequence: send.input.sequence,
            step: { id: send.input.stepId },
          },
          { subject: send.input.subject, from: send.input.from },
        );
        rendered.push({ send, unsubscribe, email });
      } catch (error) {
        // The load-time check renders every template for a sample lead, so this is one lead's data:
        // that email fails alone, and the rest of the batch goes.
        deps.logger?.error({ err: error, sendId: send.sendId, template: send.input.template }, 'rendering an email failed');
        results.push({ send, smtp: { kind: 'failed', reason: `rendering failed: ${(error as Error).message.split('\n')[0] ?? ''}` }, response: '' });
      }
    }
    const utmOf = (input: EmailStepInput) => {
      const utm = deps.utmFor?.(input.sequence.id);
      return utm ? { ...utm, campaign: input.sequence.id, content: input.stepId } : null;
    };
    const tracked = await deps.tracking.prepareEmails(
      rendered.map(({ send, unsubscribe, email }) => ({
        sendId: send.sendId,
        leadId: send.lead.id,
        html: email.html,
        text: email.text,
        keepUrls: [unsubscribe],
        utm: utmOf(send.input),
      })),
    );
    const sendOne = async ({ send, unsubscribe, email }: (typeof rendered)[number], position: number) => {
      const body = tracked[position] ?? { html: email.html, text: email.text };
      const result = await deps.transport.send(
        buildMailOptions({
          rendered: { ...email, html: body.html, text: body.text },
          to: send.lead.email,
          from: email.from ?? deps.settings.mailFrom,
          messageId: send.messageId,
          unsubscribeUrl: unsubscribe,
          headers: { 'X-Baton-Send': send.sendId, ...espCorrelationHeaders(send.sendId) },
          envelopeFrom: deps.feedbackAddresses?.bounce(send.sendId),
          unsubscribeMailto: deps.feedbackAddresses?.unsubscribe(send.sendId),
        }),
      );
      return { send, smtp: result.outcome, response: result.response };
    };
    // The ledger learns each group's answers as they come, and a group is marked only once the
    // one before it is answered and recorded: a worker that dies leaves only the group on the
    // wire unknown. The other lanes keep the connections busy meanwhile.
    const answered = async (group: Array<Omit<SendResultOf, 'outcome'>>) => {
      await finishSends(
        deps.db,
        group.map(({ send, smtp, response }) => ({ id: send.sendId, status: LEDGER_STATUS[smtp.kind], outcome: smtp.kind, smtpResponse: response })),
      );
      return group;
    };
    const groups: Array<Promise<Array<Omit<SendResultOf, 'outcome'>>>> = [answered(results)];
    const takenOver: Claimed[] = [];
    const withheld: Array<{ send: Claimed; reason: 'unsubscribed' | 'suppressed' }> = [];
    for (let start = 0; start < rendered.length; start += HAND_OVER_GROUP) {
      const group = rendered.slice(start, start + HAND_OVER_GROUP).map((item, offset) => ({ item, position: start + offset }));
      await groups.at(-1);
      const verdicts = await markHandedOver(
        deps.db,
        group.map(({ item }) => ({ id: item.send.sendId, leadId: item.send.lead.id, emailHash: deps.suppression.hash(item.send.lead.email) })),
        deps.worker ?? null,
      );
      const handed = group.filter(({ item }) => {
        const verdict = verdicts.get(item.send.sendId);
        if (verdict === undefined) takenOver.push(item.send);
        else if (verdict !== 'handed') withheld.push({ send: item.send, reason: verdict });
        return verdict === 'handed';
      });
      groups.push(Promise.all(handed.map(({ item, position }) => sendOne(item, position))).then(answered));
    }
    const sent = (await Promise.all(groups)).flat();
    return { results: sent.map(({ send, smtp, response }) => ({ send, smtp, response, outcome: outcomeOf(send.sendId, smtp) })), takenOver, withheld };
  }

  return { deliverMany };
}

interface SendResultOf {
  send: Claimed;
  smtp: SmtpOutcome;
  response: string;
  outcome: DeliveryOutcome;
}

function outcomeOf(sendId: string, outcome: SmtpOutcome): DeliveryOutcome {
  switch (outcome.kind) {
    case 'sent':
      return { kind: 'sent', sendId };
    case 'hard_bounce':
      return { kind: 'bounced', sendId };
    case 'retry':
    case 'throttle':
    case 'soft_bounce':
      return { kind: 'retry_later', sendId, outcome };
    case 'sender_blocked':
      return { kind: 'sender_blocked', sendId, outcome };
    case 'unknown':
      return { kind: 'unknown', sendId };
    case 'failed':
      return { kind: 'failed', sendId, outcome };
  }
}

/** The caller's gate, then the domain limits for what it lets through. */
function withDomainGate(gate: SendGate | undefined, domains: DomainGate | null | undefined): SendGate | undefined {
  if (!domains) return gate;
  return async (trx, candidates) => {
    const first = gate ? await gate(trx, candidates) : candidates.map(() => null);
    const open = candidates.filter((_candidate, position) => !first[position]);
    const held = await domains.hold(
      trx,
      open.map((candidate) => ({ leadId: candidate.input.leadId, email: candidate.input.lead?.email })),
      new Date(),
    );
    let next = 0;
    return first.map((until) => until ?? held[next++] ?? null);
  };
}

/** A retryable outcome with the policy's next attempt, or failed once the policy gives up. */
function decided(outcome: DeliveryOutcome, decision: SmtpDecision | undefined): DeliveryOutcome {
  if (outcome.kind !== 'retry_later' || !decision) return outcome;
  return decision.kind === 'retry_at' ? { ...outcome, retryAt: decision.at } : { kind: 'failed', sendId: outcome.sendId, outcome: outcome.outcome };
}

const LEDGER_STATUS: Record<SmtpOutcome['kind'], SendRow['status']> = {
  sent: 'sent',
  hard_bounce: 'failed',
  retry: 'failed',
  throttle: 'failed',
  soft_bounce: 'failed',
  sender_blocked: 'failed',
  failed: 'failed',
  unknown: 'unknown',
};

/** Once the ledger has the answers: events for sends and hard bounces, and bounced addresses suppressed. */
async function record(deps: EmailDeliveryDeps, results: SendResultOf[]): Promise<void> {
  if (results.length === 0) return;
  const now = new Date();
  const event = ({ send }: SendResultOf, type: string, extra: Record<string, unknown> = {}) => ({
    leadId: send.lead.id,
    type,
    occurredAt: now,
    properties: { sendId: send.sendId, sequenceId: send.input.sequence.id, stepId: send.input.stepId, template: send.input.template, ...extra },
  });
  // With the feedback policy, hard bounces go through its recorder (which also opts the lead out).
  const bounced = deps.smtpFeedback ? [] : results.filter((result) => result.smtp.kind === 'hard_bounce');
  for (const { send } of bounced) await deps.suppression.suppress(deps.db, send.lead.email, 'hard_bounce');
  await deps.events.record([
    ...results.filter((result) => result.smtp.kind === 'sent').map((result) => event(result, 'email_sent')),
    ...bounced.map((result) => event(result, 'email_bounced', { bounce: 'hard', reason: result.smtp.kind === 'hard_bounce' ? result.smtp.reason : '' })),
  ]);
}
