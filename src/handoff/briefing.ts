import { RESERVED_EVENT_TYPE } from '../events/event.js';
import type { Lead } from '../leads/lead.js';
import { inScoringOrder, isMachineEvent, type Grade, type Score, type ScoredEvent } from '../scoring/score.js';
import { accountWithLeadIds, type BriefingAccountWithIds } from './briefing-account.js';
import {
  accountPart,
  flagsOf,
  handedOverPart,
  handRaisedPart,
  returningPart,
  salesOnlyPart,
  type AccountInput,
  type BriefingHandedOver,
  type BriefingHandRaised,
  type BriefingReturning,
  type BriefingSalesOnly,
  type HandedOverInput,
  type HandRaisedInput,
  type ReturningInput,
} from './briefing-context.js';
import { formatWhen, signed } from './briefing-render.js';
import { topicsOfUrl, type Topic } from '../scoring/topics.js';

export { briefingText, escapeMrkdwn, slackPayload } from './briefing-render.js';

/*
 * The note a rep gets with a hot lead: who they are, why now, what they read, what to say and
 * what to do next. Composition is pure (inputs and `now` in, JSON out), so the note stored with a
 * handoff is exactly what was sent, and the renderers (briefing-render.ts) only format it.
 */

export interface BriefingSend {
  sendId: string;
  subject: string | null;
  template: string;
  sequenceId: string;
  stepId: string;
  sentAt: Date;
}

export interface BriefingEnrollment {
  sequenceId: string;
  sequenceName: string;
  status: string;
  enrolledAt: Date;
  endedAt: Date | null;
  endReason: string | null;
}

export interface BriefingInput {
  lead: Lead;
  score: Score;
  /** The score's total 7 days before now. */
  scoreSevenDaysAgo: number;
  /** The lead's events, any order; machine events (properties.machine === true) are ignored. */
  events: ScoredEvent[];
  /** Emails sent, to describe opens and clicks by subject. */
  sends: BriefingSend[];
  enrollments: BriefingEnrollment[];
  /** Scoring rule id → readable label. */
  ruleLabels?: Record<string, string>;
  topics: Topic[];
  rep: { id: string; name: string; email: string };
  links: { accept: string; reject: string; convert: string; lead: string };
  now: Date;
  /** The intent rule that sent the lead to sales at once; absent: the score crossed the threshold. */
  handRaised?: HandRaisedInput | null;
  /** A disqualified lead raising a hand again, back to its previous rep. */
  returning?: ReturningInput | null;
  /** A sequence's handoff step sent the lead (with the reason its author wrote). */
  handedOver?: HandedOverInput | null;
  /** The lead's account (company domain) and its buying group; absent for webmail addresses. */
  account?: AccountInput | null;
}

export type EngagementKind = 'email_opened' | 'email_clicked' | 'page_view' | 'form_submit' | 'other';

export interface BriefingContributor {
  rule: string;
  label: string;
  points: number;
  /** When the rule last counted an event (ISO), null when that event is not among the inputs. */
  lastEventAt: string | null;
}

export interface BriefingEngagement {
  /** ISO timestamp. */
  at: string;
  /** `at` for people, "2026-11-27 10:00 UTC": templates have no date helper. */
  when: string;
  kind: EngagementKind;
  summary: string;
  /** Id of the first topic the clicked URL or viewed page matches. */
  topic: string | null;
}

export interface BriefingSequence {
  id: string;
  name: string;
  status: string;
  enrolledAt: string;
  endedAt: string | null;
  endReason: string | null;
  /** Emails this enrollment sent. */
  emailsSent: number;
}

/** JSON-serialisable: stored as jsonb with the handoff and returned by the API as is. */
export interface Briefing {
  leadId: string;
  who: { name: string; email: string; title: string | null; company: string | null; country: string | null; fitGrade: Grade; fitFacts: string[] };
  whyNow: { score: number; engagement: number; fit: number; grade: Grade; riseLast7Days: number; topContributors: BriefingContributor[] };
  /** Human events in time order: the most recent MAX_ENGAGEMENT. */
  engagement: BriefingEngagement[];
  /** Topics the lead engaged with (clicks and page views), most first. */
  topics: Array<{ id: string; label: string; count: number }>;
  sequences: BriefingSequence[];
  talkingPoints: string[];
  nextStep: string;
  rep: { id: string; name: string; email: string };
  links: { accept: string; reject: string; convert: string; lead: string };
  generatedAt: string;
  /** Set when the lead asked for sales (an intent rule), whatever the score. */
  handRaised?: BriefingHandRaised | null;
  /** Set when an unsubscribed lead asked for sales: contact about that request only. */
  salesOnly?: BriefingSalesOnly | null;
  /** Set when a disqualified lead came back. */
  returning?: BriefingReturning | null;
  /** Set when a sequence's handoff step sent the lead. */
  handedOver?: BriefingHandedOver | null;
  account?: BriefingAccountWithIds | null;
  /** What the rep must read first (sales-only contact, a lead disqualified before). */
  flags?: string[];
}

export const MAX_ENGAGEMENT = 25;
export const MAX_CONTRIBUTORS = 5;
export const GENERIC_TALKING_POINT = 'Ask what prompted their interest now, and what they are trying to fix this quarter.';

// Events Baton records that are not something the lead did (sends, bounces, handoffs…).
const LEAD_ACTIONS_AMONG_RESERVED = new Set(['email_opened', 'email_clicked', 'unsubscribed']);

export function buildBriefing(input: BriefingInput): Briefing {
  const { lead, score, now } = input;
  const actions = inScoringOrder(input.events, now).filter((event) => !isMachineEvent(event) && isLeadAction(event.type));
  const sends = sendsById(input);
  const matched = actions.map((event) => ({ event, topics: topicsOfEvent(event, input.topics) }));
  const topics = countTopics(matched, input.topics);
  const label = (rule: string) => input.ruleLabels?.[rule] ?? humanize(rule);
  const describe = (event: ScoredEvent) => summarise(event, sends, topicsOfEvent(event, input.topics)[0]);
  const handRaised = handRaisedPart(input.handRaised, input.events, describe, formatWhen);
  const salesOnly = salesOnlyPart(lead.unsubscribedAt, handRaised);
  const returning = returningPart(input.returning);
  const handedOver = handedOverPart(input.handedOver);
  return {
    leadId: lead.id,
    who: {
      name: [lead.firstName, lead.lastName].filter(Boolean).join(' ') || lead.email,
      email: lead.email,
      title: lead.title,
      company: lead.company,
      country: lead.country,
      fitGrade: score.grade,
      fitFacts: score.breakdown
        .filter((entry) => entry.kind === 'fit')
        .sort((a, b) => b.points - a.points)
        .map((entry) => `${label(entry.rule)} (${signed(entry.points)})`),
    },
    whyNow: {
      score: score.total,
      engagement: score.engagement,
      fit: score.fit,
      grade: score.grade,
      riseLast7Days: round(score.total - input.scoreSevenDaysAgo),
      topContributors: topContributors(input, label),
    },
    engagement: matched.slice(-MAX_ENGAGEMENT).map(({ event, topics: [topic] }) => ({
      at: event.occurredAt.toISOString(),
      when: formatWhen(event.occurredAt),
      kind: kindOf(event.type),
      summary: summarise(event, sends, topic),
      topic: topic?.id ?? null,
    })),
    topics: topics.map(({ topic, count }) => ({ id: topic.id, label: topic.label, count })),
    sequences: [...input.enrollments]
      .sort((a, b) => a.enrolledAt.getTime() - b.enrolledAt.getTime())
      .map((enrollment) => ({
        id: enrollment.sequenceId,
        name: enrollment.sequenceName,
        status: enrollment.status,
        enrolledAt: enrollment.enrolledAt.toISOString(),
        endedAt: enrollment.endedAt?.toISOString() ?? null,
        endReason: enrollment.endReason,
        emailsSent: input.sends.filter(
          (send) => send.sequenceId === enrollment.sequenceId && send.sentAt >= enrollment.enrolledAt && send.sentAt <= (enrollment.endedAt ?? now),
        ).length,
      })),
    talkingPoints: talkingPoints(topics.map(({ topic }) => topic)),
    nextStep: nextStep(
      actions,
      topics.map(({ topic }) => topic),
    ),
    rep: { ...input.rep },
    links: { ...input.links },
    generatedAt: now.toISOString(),
    handRaised,
    salesOnly,
    returning,
    handedOver,
    account: accountWithLeadIds(accountPart(input.account, score.engagement, describe, formatWhen), input.account),
    flags: flagsOf({ salesOnly, returning, handedOver }),
  };
}

function isLeadAction(type: string): boolean {
  return !RESERVED_EVENT_TYPE.test(type) || LEAD_ACTIONS_AMONG_RESERVED.has(type);
}

function topContributors(input: BriefingInput, label: (rule: string) => string): BriefingContributor[] {
  const occurredAt = new Map(input.events.map((event) => [event.id, event.occurredAt.toISOString()]));
  return input.score.breakdown
    .filter((entry) => entry.kind === 'behaviour' && entry.points > 0)
    .map((entry) => ({
      rule: entry.rule,
      label: label(entry.rule),
      points: entry.points,
      // eventIds are newest first.
      lastEventAt: entry.eventIds.map((id) => occurredAt.get(id)).find((at) => at !== undefined) ?? null,
    }))
    .sort((a, b) => b.points - a.points || (b.lastEventAt ?? '').localeCompare(a.lastEventAt ?? '') || a.rule.localeCompare(b.rule))
    .slice(0, MAX_CONTRIBUTORS);
}

type SendInfo = { subject: string | null; template: string | null };

/** The sends given, completed by email_sent events for any send not among them. */
function sendsById(input: BriefingInput): Map<string, SendInfo> {
  const byId = new Map<string, SendInfo>();
  for (const event of input.events) {
    const sendId = text(event.properties.sendId);
    if (event.type === 'email_sent' && sendId) byId.set(sendId, { subject: text(event.properties.subject), template: text(event.properties.template) });
  }
  for (const send of input.sends) byId.set(send.sendId, { subject: send.subject, template: send.template });
  return byId;
}

function topicsOfEvent(event: ScoredEvent, topics: Topic[]): Topic[] {
  const targets = event.type === 'email_clicked' ? [event.properties.url] : event.type === 'page_view' ? [event.properties.path, event.properties.url] : [];
  const found = targets.flatMap((target) => (typeof target === 'string' ? topicsOfUrl(target, topics) : []));
  return topics.filter((topic) => found.includes(topic));
}

function countTopics(matched: Array<{ topics: Topic[] }>, topics: Topic[]): Array<{ topic: Topic; count: number }> {
  return topics
    .map((topic) => ({ topic, count: matched.filter((entry) => entry.topics.includes(topic)).length }))
    .filter((entry) => entry.count > 0)
    .sort((a, b) => b.count - a.count); // stable: ties keep configuration order
}

function talkingPoints(engaged: Topic[]): string[] {
  const points = [...new Set(engaged.map((topic) => topic.talkingPoint.trim()).filter(Boolean))];
  return points.length > 0 ? points : [GENERIC_TALKING_POINT];
}

/** The strongest signal decides: a demo request beats a contact request beats pricing interest. */
function nextStep(actions: ScoredEvent[], engaged: Topic[]): string {
  const forms = actions
    .filter((event) => event.type === 'form_submit')
    .map((event) => text(event.properties.form) ?? '')
    .reverse();
  if (forms.some((form) => /demo/i.test(form))) return 'Call to confirm the demo, and ask what they most want to see.';
  if (forms.some((form) => /contact|sales|quote|call/i.test(form))) return 'Reply today: they asked to hear from sales.';
  const sawPricing =
    engaged.some((topic) => /pric/i.test(`${topic.id} ${topic.label}`)) ||
    actions.some(
      (event) =>
        (event.type === 'page_view' || event.type === 'email_clicked') &&
        /\/pric/i.test(`${text(event.properties.path) ?? ''} ${text(event.properties.url) ?? ''}`),
    );
  if (sawPricing) return 'Offer a pricing walkthrough: they have been looking at pricing.';
  if (forms.length > 0) return forms[0] ? `Follow up on the “${forms[0]}” form they submitted.` : 'Follow up on the form they submitted.';
  if (engaged[0]) return `Send a short personal note about ${engaged[0].label}, and offer a 20-minute call.`;
  return 'Send a short personal note, and offer a 20-minute call.';
}

function kindOf(type: string): EngagementKind {
  return type === 'email_opened' || type === 'email_clicked' || type === 'page_view' || type === 'form_submit' ? type : 'other';
}

function summarise(event: ScoredEvent, sends: Map<string, SendInfo>, topic: Topic | undefined): string {
  const { properties } = event;
  const email = () => emailName(sends.get(text(properties.sendId) ?? ''));
  switch (event.type) {
    case 'email_opened':
      return `Opened ${email()}`;
    case 'email_clicked': {
      const url = text(properties.url);
      const target = topic ? `“${topic.label}”` : url ? shortUrl(url) : 'a link';
      return `Clicked ${target} in ${email()}`;
    }
    case 'page_view': {
      const where = text(properties.path) ?? (text(properties.url) ? shortUrl(text(properties.url) ?? '') : 'a page');
      const title = text(properties.title);
      return title ? `Viewed “${title}” (${where})` : `Viewed ${where}`;
    }
    case 'form_submit': {
      const form = text(properties.form);
      return form ? `Submitted form ${form}` : 'Submitted a form';
    }
    case 'unsubscribed':
      return 'Unsubscribed from marketing email';
    default:
      return humanize(event.type);
  }
}

function emailName(send: SendInfo | undefined): string {
  if (!send) return 'an email';
  const template = send.template ? `email ${send.template}` : 'an email';
  return send.subject ? `“${send.subject}” (${template})` : template;
}

/** Host and path: query strings are tracking noise to a rep. */
function shortUrl(url: string): string {
  try {
    const parsed = new URL(url);
    return `${parsed.host}${parsed.pathname === '/' ? '' : parsed.pathname}`;
  } catch {
    return url;
  }
}

function text(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : null;
}

function humanize(id: string): string {
  const words = id.replace(/[-_]+/g, ' ').trim();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
