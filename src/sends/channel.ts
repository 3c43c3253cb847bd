import type { Lead } from '../leads/lead.js';
import type { DeliveryOptions, DeliveryOutcome, EmailDelivery, EmailStepInput } from './email-delivery.js';

/*
 * The port through which the sequence engine sends a step's message. A channel renders the
 * message for the lead, sends it at most once per ledger key (the enrollment and step), and
 * answers with an outcome per message, in order. Email is the one channel today
 * (email-delivery.ts renders templates, claims the ledger row, then hands the message to SMTP);
 * a second one (SMS) is one more module implementing this interface, and one step type.
 */

export type ChannelName = 'email';

export interface ChannelMessage {
  enrollmentId: string;
  lead: Lead;
  sequence: { id: string; name: string };
  stepId: string;
  /** What the step says to send: for email, the template and optional subject and From. */
  content: { template: string; subject?: string; from?: string };
}

export interface Channel {
  readonly name: ChannelName;
  /** One message per key, ever: a step that runs twice finds the key taken and sends nothing. */
  ledgerKey(message: Pick<ChannelMessage, 'enrollmentId' | 'stepId'>): string;
  /** Whether the message counts against the marketing frequency cap (transactional ones never do). */
  isMarketing(message: Pick<ChannelMessage, 'content'>): boolean;
  /** Renders and sends; outcomes in input order. */
  sendMany(messages: ChannelMessage[], options?: DeliveryOptions): Promise<DeliveryOutcome[]>;
}

export function emailChannel(delivery: EmailDelivery, isMarketing: (template: string) => boolean): Channel {
  return {
    name: 'email',
    // The sends ledger's unique (enrollment_id, step_id), which Message-IDs are derived from too.
    ledgerKey: (message) => `${message.enrollmentId}.${message.stepId}`,
    isMarketing: (message) => isMarketing(message.content.template),
    sendMany: (messages, options) =>
      delivery.deliverMany(
        messages.map((message): EmailStepInput => ({
          enrollmentId: message.enrollmentId,
          leadId: message.lead.id,
          lead: message.lead,
          sequence: message.sequence,
          stepId: message.stepId,
          template: message.content.template,
          subject: message.content.subject,
          from: message.content.from,
        })),
        options,
      ),
  };
}
