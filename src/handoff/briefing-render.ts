import { accountLine, buyerLine } from './briefing-context.js';
import type { Briefing, BriefingSequence } from './briefing.js';

/*
 * The briefing as people read it: plain text (logs, an email's text part) and a Slack message.
 * They only format the stored JSON (briefing.ts composes it); the email's HTML is the
 * handoff-briefing template.
 */

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
    ...whyNow.topContributors.map(
      (entry) => `  - ${entry.label}: ${signed(entry.points)}${entry.lastEventAt ? ` (last ${formatWhen(new Date(entry.lastEventAt))})` : ''}`,
    ),
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
  const button = (text: string, url: string, style?: 'primary' | 'danger') => ({
    type: 'button',
    text: { type: 'plain_text', text },
    url,
    action_id: `handoff_${text.toLowerCase()}`,
    ...(style ? { style } : {}),
  });
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
      section(
        `*What they engaged with*\n${recent.length > 0 ? bullets(recent.map((entry) => `${entry.when}: ${entry.summary}`)) : 'Nothing recorded'}${earlier > 0 ? `\n_…and ${earlier} earlier_` : ''}`,
      ),
      ...(briefing.account
        ? [
            section(
              `*Account ${escapeMrkdwn(accountLine(briefing.account))}*${briefing.account.buyingGroup.length > 0 ? `\n${bullets(briefing.account.buyingGroup.map(buyerLine))}` : ''}`,
            ),
          ]
        : []),
      section(`*Talking points*\n${bullets(briefing.talkingPoints)}`),
      section(`*Next step*\n${escapeMrkdwn(briefing.nextStep)}`),
      {
        type: 'context',
        elements: [
          {
            type: 'mrkdwn',
            text: clip(
              escapeMrkdwn(
                `For ${briefing.rep.name} · ${briefing.sequences.map(sequenceLine).join('; ') || 'no sequences'} · ${formatWhen(new Date(briefing.generatedAt))}`,
              ),
              SLACK_TEXT_LIMIT,
            ),
          },
        ],
      },
      {
        type: 'actions',
        elements: [button('Accept', briefing.links.accept, 'primary'), button('Reject', briefing.links.reject, 'danger'), button('Open', briefing.links.lead)],
      },
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

export function signed(value: number): string {
  return value > 0 ? `+${value}` : String(value);
}

/** "2026-11-27 10:00 UTC": templates have no date helper. */
export function formatWhen(date: Date): string {
  return `${date.toISOString().slice(0, 16).replace('T', ' ')} UTC`;
}
