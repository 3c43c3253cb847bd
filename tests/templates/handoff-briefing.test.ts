import { buildBriefing } from '../../src/handoff/briefing.js';
import { toTopic } from '../../src/scoring/topics.js';
import type { Lead } from '../../src/leads/lead.js';
import { loadTemplates, type TemplateStore } from '../../src/templates/template-store.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';

const TEMPLATES = FIXTURE_CONTENT.templates;
const now = new Date('2026-11-27T12:00:00Z');
const hoursAgo = (hours: number) => new Date(now.getTime() - hours * 3_600_000);

const lead: Lead = {
  id: 'lead-1', email: 'ada@globex.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Globex & <Sons>', title: 'VP Sales', phone: null, timezone: null, country: 'US',
  source: null, traits: {}, tags: [], consent: null, unsubscribedAt: null, createdAt: hoursAgo(500).toISOString(), updatedAt: hoursAgo(1).toISOString(),
};

const briefing = buildBriefing({
  lead,
  score: {
    engagement: 50, fit: 20, grade: 'B', total: 70,
    breakdown: [{ rule: 'demo', kind: 'behaviour', points: 40, eventIds: ['e3'], capped: false }, { rule: 'pricing', kind: 'behaviour', points: 10, eventIds: ['e2'], capped: false }, { rule: 'exec', kind: 'fit', points: 20, eventIds: [], capped: false }],
  },
  scoreSevenDaysAgo: 10,
  events: [
    { id: 'e1', type: 'email_opened', occurredAt: hoursAgo(30), properties: { sendId: 's1' } },
    { id: 'e2', type: 'email_clicked', occurredAt: hoursAgo(29), properties: { sendId: 's1', url: 'https://example.com/pricing?utm_source=baton' } },
    { id: 'e3', type: 'form_submit', occurredAt: hoursAgo(2), properties: { form: 'demo' } },
  ],
  sends: [{ sendId: 's1', subject: 'Your pipeline playbook', template: 'welcome', sequenceId: 'b2b-nurture', stepId: 'welcome', sentAt: hoursAgo(48) }],
  enrollments: [{ sequenceId: 'b2b-nurture', sequenceName: 'B2B nurture', status: 'completed', enrolledAt: hoursAgo(50), endedAt: hoursAgo(2), endReason: 'goal' }],
  ruleLabels: { demo: 'Asked for a demo' },
  topics: [toTopic({ id: 'pricing', label: 'Pricing', matches: '/pricing\\b', talking_point: 'Ask which plan they compared.' })],
  rep: { id: 'rep-1', name: 'Sam Rep', email: 'sam@vendor.example' },
  links: { accept: 'https://baton.example.com/h/1/accept?t=abc', reject: 'https://baton.example.com/h/1/reject?t=abc', convert: 'https://baton.example.com/h/1/convert', lead: 'https://baton.example.com/leads/lead-1' },
  now,
});

let store: TemplateStore;
beforeAll(async () => {
  const result = await loadTemplates(TEMPLATES);
  if (!result.ok) throw new Error(JSON.stringify(result.problems, null, 2));
  store = result.store;
});

describe('the handoff-briefing template', () => {
  // A rep's email needs no unsubscribe link; the context still carries one because the type asks for it.
  const render = () => store.render('handoff-briefing', {
    lead: {},
    company: { name: 'Acme', postalAddress: '1 Main Street, Springfield' },
    links: { unsubscribe: 'https://baton.invalid/none' },
    briefing,
  });

  it('is a transactional email with the lead, company and score in its subject', () => {
    const email = render();
    expect(email.category).toBe('transactional');
    expect(email.subject).toBe('Hot lead: Ada Lovelace (Globex & <Sons>), score 70');
    expect(email.preheader).toBe('Call to confirm the demo, and ask what they most want to see.');
  });

  it('shows why now, what they engaged with, and Accept/Reject buttons, escaping lead data', () => {
    const { html, text } = render();
    expect(html).toContain('Asked for a demo: +40');
    expect(html).toContain('Clicked “Pricing” in “Your pipeline playbook” (email welcome)');
    expect(html).toContain('Ask which plan they compared.');
    expect(html).toContain('href="https://baton.example.com/h/1/accept?t&#x3D;abc"');
    expect(html).toContain('href="https://baton.example.com/h/1/reject?t&#x3D;abc"');
    expect(html).toContain('Globex &amp; &lt;Sons&gt;');
    expect(html).not.toContain('<Sons>');
    expect(html).not.toContain('baton.invalid/none');
    expect(text).toContain('Clicked “Pricing” in “Your pipeline playbook” (email welcome)');
    expect(text).toMatch(/Accept \[https:\/\/baton\.example\.com\/h\/1\/accept\?t=abc\]/);
  });
});
