import type { Lead } from '../leads/lead.js';
import type { RuleContribution, ScoredEvent } from '../scoring/score.js';
import { buildBriefing, type Briefing } from './briefing.js';
import type { Topic } from '../scoring/topics.js';

/*
 * A realistic briefing for previews (`baton preview handoff-briefing`): a VP who read the
 * nurture, looked at pricing and integrations and asked for a demo, composed by the same pure
 * buildBriefing as a real handoff, so the preview shows what a rep would get.
 */

const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const SAMPLE_LEAD_ID = '00000000-0000-4000-8000-00000000a0a0';

const SAMPLE_TOPICS: Topic[] = [
  { id: 'pricing', label: 'Pricing', matches: '/pricing', talkingPoint: 'Ask which plan they compared, and for how many seats.' },
  {
    id: 'integrations',
    label: 'Integrations',
    matches: '/integrations|/docs/api',
    talkingPoint: 'Ask which CRM they use today: the integration is often the deciding question.',
  },
];

export function sampleBriefing(input: { now: Date; publicUrl: string }): Briefing {
  const { now, publicUrl } = input;
  const ago = (ms: number) => new Date(now.getTime() - ms);
  const lead: Lead = {
    id: SAMPLE_LEAD_ID,
    email: 'ada@analytical-engines.example',
    firstName: 'Ada',
    lastName: 'Lovelace',
    company: 'Analytical Engines Ltd',
    title: 'VP Engineering',
    phone: '+44 20 7946 0958',
    timezone: 'Europe/London',
    country: 'GB',
    source: 'webinar',
    traits: { company_size: 120, industry: 'saas' },
    tags: ['webinar-2026-q4'],
    consent: null,
    unsubscribedAt: null,
    createdAt: ago(21 * DAY).toISOString(),
    updatedAt: ago(2 * HOUR).toISOString(),
  };
  const events: ScoredEvent[] = [
    {
      id: 'e1',
      type: 'email_sent',
      occurredAt: ago(20 * DAY),
      properties: { sendId: 's1', subject: 'Your pipeline playbook', template: 'welcome', sequenceId: 'b2b-nurture', stepId: 'welcome' },
    },
    { id: 'e2', type: 'email_opened', occurredAt: ago(20 * DAY - 3 * HOUR), properties: { sendId: 's1' } },
    {
      id: 'e3',
      type: 'email_sent',
      occurredAt: ago(13 * DAY),
      properties: { sendId: 's2', subject: 'Where pipelines leak', template: 'pipeline-leaks', sequenceId: 'b2b-nurture', stepId: 'leaks' },
    },
    { id: 'e4', type: 'email_clicked', occurredAt: ago(6 * DAY), properties: { sendId: 's2', url: 'https://www.example.com/pricing?utm_source=baton' } },
    { id: 'e5', type: 'page_view', occurredAt: ago(5 * DAY), properties: { path: '/pricing', title: 'Pricing' } },
    { id: 'e6', type: 'page_view', occurredAt: ago(2 * DAY), properties: { path: '/integrations/salesforce', title: 'Salesforce integration' } },
    { id: 'e7', type: 'form_submit', occurredAt: ago(2 * HOUR), properties: { form: 'demo' } },
  ];
  const breakdown: RuleContribution[] = [
    { rule: 'demo', kind: 'behaviour', points: 40, eventIds: ['e7'], capped: false },
    { rule: 'pricing', kind: 'behaviour', points: 24.5, eventIds: ['e5'], capped: false },
    { rule: 'click', kind: 'behaviour', points: 9, eventIds: ['e4'], capped: false },
    { rule: 'exec', kind: 'fit', points: 25, eventIds: [], capped: false },
    { rule: 'size', kind: 'fit', points: 15, eventIds: [], capped: false },
  ];
  return buildBriefing({
    lead,
    score: { engagement: 73.5, fit: 40, grade: 'A', total: 113.5, breakdown },
    scoreSevenDaysAgo: 12,
    events,
    sends: [],
    enrollments: [
      { sequenceId: 'b2b-nurture', sequenceName: 'B2B nurture', status: 'exited', enrolledAt: ago(20 * DAY), endedAt: now, endReason: 'handed off to sales' },
    ],
    ruleLabels: {
      demo: 'Asked for a demo',
      pricing: 'Viewed the pricing page',
      click: 'Clicked an email link',
      exec: 'Decision-maker title',
      size: 'Company of 50 to 1,000',
    },
    topics: SAMPLE_TOPICS,
    rep: { id: 'alex', name: 'Alex Kim', email: 'alex@example.com' },
    links: {
      accept: `${publicUrl}/h/preview-accept`,
      reject: `${publicUrl}/h/preview-reject`,
      convert: `${publicUrl}/h/preview-convert`,
      lead: `${publicUrl}/dashboard/leads/${SAMPLE_LEAD_ID}`,
    },
    now,
  });
}
