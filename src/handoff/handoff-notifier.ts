import { randomBytes } from 'node:crypto';
import type { MailTransport } from '../mail/mail-transport.js';
import type { NotificationChannel } from '../platform/db/schema.js';
import type { TemplateStore } from '../templates/template-store.js';
import type { WebhookSender } from '../webhooks/webhook-sender.js';
import { briefingText, slackPayload, type Briefing } from './briefing.js';

/*
 * How a rep hears about a handoff. One small interface, three channels: an email rendered from
 * templates/handoff-briefing.mjml, a signed Standard Webhooks POST carrying the briefing JSON,
 * and a Slack-compatible POST (the same signing headers, a Slack blocks payload).
 */

export interface HandoffMessage {
  /** Stable per notification: the webhook-id, so a receiver can drop retried duplicates. */
  id: string;
  kind: 'assigned' | 'reminder';
  channel: NotificationChannel;
  target: string;
  handoff: { id: string; leadId: string; status: string; repId: string; createdAt: string; assignedAt: string };
  briefing: Briefing;
  now: Date;
}

export type NotifyOutcome = { kind: 'sent' } | { kind: 'retry'; reason: string; retryAfterMs?: number } | { kind: 'failed'; reason: string };

export interface HandoffNotifier {
  send(message: HandoffMessage): Promise<NotifyOutcome>;
}

export const BRIEFING_TEMPLATE = 'handoff-briefing';

export interface NotifierDeps {
  templates: TemplateStore;
  transport: MailTransport;
  webhooks: WebhookSender;
  /** `whsec_…` secrets that sign handoff webhooks (BATON_WEBHOOK_SECRET). */
  webhookSecrets: string[];
  mailFrom: string;
  company: { name: string; postalAddress: string };
}

export function createHandoffNotifier(deps: NotifierDeps): HandoffNotifier {
  async function email(message: HandoffMessage): Promise<NotifyOutcome> {
    const rendered = deps.templates.render(BRIEFING_TEMPLATE, { lead: {}, company: deps.company, links: { unsubscribe: '' }, briefing: message.briefing });
    const subject = message.kind === 'reminder' ? `Reminder, still waiting for you: ${rendered.subject}` : rendered.subject;
    const result = await deps.transport.send({
      from: rendered.from ?? deps.mailFrom,
      to: message.target,
      subject,
      html: rendered.html,
      text: rendered.text || briefingText(message.briefing),
      headers: { 'X-Baton-Handoff': message.handoff.id },
    });
    switch (result.outcome.kind) {
      case 'sent':
        return { kind: 'sent' };
      // A rep is better served by a rare duplicate than by a lost notification.
      case 'retry':
      case 'throttle':
      case 'soft_bounce':
      case 'unknown':
        return { kind: 'retry', reason: result.outcome.reason };
      default:
        return { kind: 'failed', reason: result.outcome.reason };
    }
  }

  // Slack ignores signatures, so Slack needs no configured secret: sign with a throwaway one then.
  const slackSecrets = deps.webhookSecrets.length > 0 ? deps.webhookSecrets : [`whsec_${randomBytes(32).toString('base64')}`];

  async function post(message: HandoffMessage, payload: unknown): Promise<NotifyOutcome> {
    const secrets = message.channel === 'slack' ? slackSecrets : deps.webhookSecrets;
    const outcome = await deps.webhooks.send({ url: message.target, id: message.id, payload, secrets, now: message.now.getTime() });
    switch (outcome.kind) {
      case 'delivered':
        return { kind: 'sent' };
      case 'retry':
        return { kind: 'retry', reason: outcome.reason, retryAfterMs: outcome.retryAfterMs };
      case 'gone':
        return { kind: 'failed', reason: `the receiver answered ${outcome.status} Gone` };
      case 'failed':
        return { kind: 'failed', reason: outcome.reason };
      case 'refused':
        return { kind: 'failed', reason: outcome.reason };
    }
  }

  return {
    send(message) {
      switch (message.channel) {
        case 'email':
          return email(message);
        case 'slack':
          return post(message, slackPayload(message.briefing));
        case 'webhook':
          return post(message, {
            type: message.kind === 'reminder' ? 'handoff.reminder' : 'handoff.assigned',
            timestamp: message.now.toISOString(),
            data: { handoff: message.handoff, briefing: message.briefing },
          });
      }
    },
  };
}
