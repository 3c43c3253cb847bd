import { RESERVED_EVENT_TYPE } from '../events/event.js';
import type { Lead } from '../leads/lead.js';
import { inScoringOrder, isMachineEvent, type Grade, type Score, type ScoredEvent } from '../scoring/score.js';
import {
  accountLine, accountPart, buyerLine, flagsOf, handRaisedPart, returningPart, salesOnlyPart,
  type AccountInput, type BriefingAccount, type BriefingHandRaised, type BriefingReturning, type BriefingSalesOnly, type HandRaisedInput, type ReturningInput,
} from './briefing-context.js';
import { topicsOfUrl, type Topic } from './topics.js';

/*
 * The note a rep gets with a hot lead: who they are, why now, what they read, what to say and
 * what to do next. Composition is pure (inputs and `now` in, JSON out), so the note stored with a
 * handoff is exactly what was sent, and the renderers below only format it.
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
  account?: BriefingAccount | null;
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
  return {
    leadId: lead.id,
    who: {
      name: [lead.firstName, lead.lastName].filter(Boolean).join(' ') || lead.email,
      email: lead.email,
      title: lead.title,
      company: lead.company,
      country: lead.country,
      fitGrade: score.grade,
      fitFacts: score.breakdown.filter((entry) => entry.kind === 'fit').sort((a, b) => b.points - a.points).map((entry) => `${label(entry.rule)} (${signed(entry.points)})`),
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
    sequences: [...input.enrollments].sort((a, b) => a.enrolledAt.getTime() - b.enrolledAt.getTime()).map((enrollment) => ({
      id: enrollment.sequenceId,
      name: enrollment.sequenceName,
      status: enrollment.status,
      enrolledAt: enrollment.enrolledAt.toISOString(),
      endedAt: enrollment.endedAt?.toISOString() ?? null,
      endReason: enrollment.endReason,
      emailsSent: input.sends.filter((send) => send.sequenceId === enrollment.sequenceId && send.sentAt >= enrollment.enrolledAt && send.sentAt <= (enrollment.endedAt ?? now)).length,
    })),
    talkingPoints: talkingPoints(topics.map(({ topic }) => topic)),
    nextStep: nextStep(actions, topics.map(({ topic }) => topic)),
    rep: { ...input.rep },
    links: { ...input.links },
    generatedAt: now.toISOString(),
    handRaised,
    salesOnly,
    returning,
    account: accountPart(input.account, score.engagement, describe, formatWhen),
    flags: flagsOf({ salesOnly, returning }),
  };
}

/** Plain text, for logs and an email's text part. */
export function briefingText(briefing: Briefing): string {
  const { who, whyNow } = briefing;
  const role = [who.title, who.company].filter(Boolean).join(' at ');
  const lines = [
    headline(briefing),
    `For ${briefing.rep.name} <${briefing.rep.email}>`,
    ...(briefing.flags && briefing.flags.length > 0 ? ['', 'Read first', ...briefing.flags.map((flag) => `  ! ${flag}`)] : []),
    '',
    'Who',
    `  ${who.name} <${who.email}>`,
    ...(role || who.country ? [`  ${[role, who.country].filter(Boolean).join(', ')}`] : []),
    `  Fit ${who.fitGrade}${who.fitFacts.length > 0 ? `: ${who.fitFacts.join(', ')}` : ''}`,
    '',
    'Why now',
    ...(briefing.handRaised ? [`  Asked for sales: ${briefing.handRaised.label} (${briefing.handRaised.summary}, ${briefing.handRaised.when})`] : []),
    `  Score ${whyNow.score} (engagement ${whyNow.engagement}, fit ${whyNow.fit}), ${signed(whyNow.riseLast7Days)} in the last 7 days`,
    ...whyNow.topContributors.map((entry) => `  - ${entry.label}: ${signed(entry.points)}${entry.lastEventAt ? ` (last ${formatWhen(new Date(entry.lastEventAt))})` : ''}`),
    '',
    'What they engaged with',
    ...(briefing.engagement.length > 0 ? briefing.engagement.map((entry) => `  ${entry.when}  ${entry.summary}`) : ['  Nothing recorded']),
    ...(briefing.topics.length > 0 ? ['', `Topics: ${briefing.topics.map((topic) => `${topic.label} (${topic.count})`).join(', ')}`] : []),
    ...(briefing.account ? ['', `Account ${accountLine(briefing.account)}`, ...briefing.account.buyingGroup.map((buyer) => `  - ${buyerLine(buyer)}`)] : []),
    ...(briefing.sequences.length > 0 ? ['', 'Sequences', ...briefing.sequences.map((sequence) => `  - ${sequenceLine(sequence)}`)] : []),
    '',
    'Talking points',
    ...briefing.talkingPoints.map((point) => `  - ${point}`),
    '',
    `Next step: ${briefing.nextStep}`,
    '',
    `Accept: ${briefing.links.accept}`,
    `Reject: ${briefing.links.reject}`,
    `Lead: ${briefing.links.lead}`,
  ];
  return `${lines.join('\n')}\n`;
}

const SLACK_ENGAGEMENT = 10;
// Slack refuses a section whose text is over 3,000 characters, or a field over 2,000.
const SLACK_TEXT_LIMIT = 3000;
const SLACK_FIELD_LIMIT = 2000;

/** A Slack incoming-webhook message. Button URLs are JSON values, so only mrkdwn text is escaped. */
export function slackPayload(briefing: Briefing): { text: string; blocks: unknown[] } {
  const { who, whyNow } = briefing;
  const section = (text: string) => ({ type: 'section', text: { type: 'mrkdwn', text: clip(text, SLACK_TEXT_LIMIT) } });
  const field = (title: string, value: string) => ({ type: 'mrkdwn', text: clip(`*${title}*\n${escapeMrkdwn(value)}`, SLACK_FIELD_LIMIT) });
  const bullets = (items: string[]) => items.map((item) => `• ${escapeMrkdwn(item)}`).join('\n');
  const recent = briefing.engagement.slice(-SLACK_ENGAGEMENT);
  const earlier = briefing.engagement.length - recent.length;
  const button = (text: string, url: string, style?: 'primary' | 'danger') => ({ type: 'button', text: { type: 'plain_text', text }, url, action_id: `handoff_${text.toLowerCase()}`, ...(style ? { style } : {}) });
  return {
    text: escapeMrkdwn(headline(briefing)),
    blocks: [
      section(`*${escapeMrkdwn(headline(briefing))}*`),
      ...(briefing.flags && briefing.flags.length > 0 ? [section(`*Read first*\n${bullets(briefing.flags)}`)] : []),
      {
        type: 'section',
        fields: [
          field('Email', who.email),
          field('Title', who.title ?? '–'),
          field('Company', who.company ?? '–'),
          field('Country', who.country ?? '–'),
          field('Score', `${whyNow.score} (engagement ${whyNow.engagement}, fit ${whyNow.fit}), ${signed(whyNow.riseLast7Days)} in 7 days`),
          field(`Fit ${who.fitGrade}`, who.fitFacts.join(', ') || '–'),
        ],
      },
      section(`*Why now*\n${bullets(whyNow.topContributors.map((entry) => `${entry.label}: ${signed(entry.points)}`)) || 'No single signal stands out'}`),
      section(`*What they engaged with*\n${recent.length > 0 ? bullets(recent.map((entry) => `${entry.when}: ${entry.summary}`)) : 'Nothing recorded'}${earlier > 0 ? `\n_…and ${earlier} earlier_` : ''}`),
      ...(briefing.account ? [section(`*Account ${escapeMrkdwn(accountLine(briefing.account))}*${briefing.account.buyingGroup.length > 0 ? `\n${bullets(briefing.account.buyingGroup.map(buyerLine))}` : ''}`)] : []),
      section(`*Talking points*\n${bullets(briefing.talkingPoints)}`),
      section(`*Next step*\n${escapeMrkdwn(briefing.nextStep)}`),
      { type: 'context', elements: [{ type: 'mrkdwn', text: clip(escapeMrkdwn(`For ${briefing.rep.name} · ${briefing.sequences.map(sequenceLine).join('; ') || 'no sequences'} · ${formatWhen(new Date(briefing.generatedAt))}`), SLACK_TEXT_LIMIT) }] },
      { type: 'actions', elements: [button('Accept', briefing.links.accept, 'primary'), button('Reject', briefing.links.reject, 'danger'), button('Open', briefing.links.lead)] },
    ],
  };
}

/** Slack mrkdwn treats &, < and > as control characters (links, mentions); nothing else. */
export function escapeMrkdwn(value: string): string {
  return value.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}

function headline(briefing: Briefing): string {
  const { who, whyNow } = briefing;
  if (briefing.handRaised) return `${briefing.handRaised.label}: ${who.name}${who.company ? ` (${who.company})` : ''}, score ${whyNow.score}`;
  return `Hot lead: ${who.name}${who.company ? ` (${who.company})` : ''}, score ${whyNow.score}`;
}

function sequenceLine(sequence: BriefingSequence): string {
  const ended = sequence.endReason ? `, ${sequence.endReason}` : '';
  return `${sequence.name}: ${sequence.status}${ended}, ${sequence.emailsSent} email${sequence.emailsSent === 1 ? '' : 's'}`;
}

function clip(value: string, limit: number): string {
  return value.length <= limit ? value : `${value.slice(0, limit - 1)}…`;
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
  const forms = actions.filter((event) => event.type === 'form_submit').map((event) => text(event.properties.form) ?? '').reverse();
  if (forms.some((form) => /demo/i.test(form))) return 'Call to confirm the demo, and ask what they most want to see.';
  if (forms.some((form) => /contact|sales|quote|call/i.test(form))) return 'Reply today: they asked to hear from sales.';
  const sawPricing = engaged.some((topic) => /pric/i.test(`${topic.id} ${topic.label}`))
    || actions.some((event) => (event.type === 'page_view' || event.type === 'email_clicked') && /\/pric/i.test(`${text(event.properties.path) ?? ''} ${text(event.properties.url) ?? ''}`));
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

function signed(value: number): string {
  return value > 0 ? `+${value}` : String(value);
}

function formatWhen(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}

function round(value: number): number {
  return Math.round(value * 100) / 100;
}
