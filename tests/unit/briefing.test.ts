import {
  buildBriefing,
  briefingText,
  escapeMrkdwn,
  GENERIC_TALKING_POINT,
  MAX_ENGAGEMENT,
  slackPayload,
  type Briefing,
  type BriefingInput,
} from '../../src/handoff/briefing.js';
import { toTopic, topicSchema, topicsOfUrl, type Topic } from '../../src/scoring/topics.js';
import type { Lead } from '../../src/leads/lead.js';
import type { RuleContribution, ScoredEvent } from '../../src/scoring/score.js';

const DAY = 86_400_000;
const now = new Date('2026-11-27T12:00:00Z');
const daysAgo = (days: number) => new Date(now.getTime() - days * DAY);
let counter = 0;
const event = (type: string, days: number, properties: Record<string, unknown> = {}): ScoredEvent => ({
  id: `e${String(++counter).padStart(4, '0')}`,
  type,
  occurredAt: daysAgo(days),
  properties,
});

const lead: Lead = {
  id: 'lead-1',
  email: 'ada@globex.com',
  firstName: 'Ada',
  lastName: 'Lovelace',
  company: 'Globex',
  title: 'VP Sales',
  phone: null,
  timezone: null,
  country: 'US',
  source: null,
  traits: {},
  tags: [],
  consent: null,
  unsubscribedAt: null,
  createdAt: daysAgo(30).toISOString(),
  updatedAt: daysAgo(1).toISOString(),
};

const topics: Topic[] = [
  toTopic({ id: 'pricing', label: 'Pricing', matches: '/pricing\\b', talking_point: 'Ask which plan they compared.' }),
  toTopic({ id: 'integrations', label: 'Integrations', matches: '/integrations|/docs/api', talking_point: 'Ask which CRM they use.' }),
  toTopic({ id: 'api', label: 'API', matches: '/docs/api', talking_point: 'Ask which CRM they use.' }),
  toTopic({ id: 'playbook', label: 'Pipeline playbook', matches: 'pipeline-playbook', talking_point: 'Ask which play they tried first.' }),
];

const sends: BriefingInput['sends'] = [
  { sendId: 's1', subject: 'Your pipeline playbook', template: 'welcome', sequenceId: 'b2b-nurture', stepId: 'welcome', sentAt: daysAgo(20) },
  { sendId: 's2', subject: null, template: 'pipeline-leaks', sequenceId: 'b2b-nurture', stepId: 'leaks', sentAt: daysAgo(18) },
];

const contribution = (rule: string, kind: RuleContribution['kind'], points: number, eventIds: string[] = []): RuleContribution => ({
  rule,
  kind,
  points,
  eventIds,
  capped: false,
});

function input(overrides: Partial<BriefingInput> = {}): BriefingInput {
  const breakdown = overrides.score?.breakdown ?? [
    contribution('exec', 'fit', 15),
    contribution('webmail', 'fit', -20),
    contribution('north-america', 'fit', 5),
  ];
  const sum = (kind: RuleContribution['kind']) => breakdown.filter((entry) => entry.kind === kind).reduce((total, entry) => total + entry.points, 0);
  return {
    lead,
    score: { engagement: sum('behaviour'), fit: sum('fit'), grade: 'B', total: sum('behaviour') + sum('fit'), breakdown },
    scoreSevenDaysAgo: 0,
    events: [],
    sends,
    enrollments: [],
    topics,
    rep: { id: 'rep-1', name: 'Sam Rep', email: 'sam@vendor.example' },
    links: {
      accept: 'https://baton.example.com/h/1/accept?t=a&b=c',
      reject: 'https://baton.example.com/h/1/reject?t=a',
      convert: 'https://baton.example.com/h/1/convert',
      lead: 'https://baton.example.com/leads/lead-1',
    },
    now,
    ...overrides,
  };
}
const build = (overrides: Partial<BriefingInput> = {}) => buildBriefing(input(overrides));

describe('topics', () => {
  it('matches URLs and paths case-insensitively, every matching topic in configuration order', () => {
    expect(topicsOfUrl('https://example.com/Docs/API/leads', topics).map((topic) => topic.id)).toEqual(['integrations', 'api']);
    expect(topicsOfUrl('/pricing', topics).map((topic) => topic.id)).toEqual(['pricing']);
    expect(topicsOfUrl('https://example.com/pricingless', topics)).toEqual([]);
  });

  it('validates the YAML shape and maps it to a topic', () => {
    const { value, error } = topicSchema.validate({ id: 'pricing', label: ' Pricing ', matches: '/pricing', talking_point: 'Ask about plans.' });
    expect(error).toBeUndefined();
    expect(toTopic(value)).toEqual({ id: 'pricing', label: 'Pricing', matches: '/pricing', talkingPoint: 'Ask about plans.' });
  });

  it.each([
    [{ id: 'Pricing', label: 'P', matches: 'x', talking_point: 't' }, 'id "Pricing" must be lower-case letters, digits, - and _'],
    [{ id: 'pricing', label: 'P', matches: '(unclosed', talking_point: 't' }, 'matches "(unclosed" is not a valid regular expression'],
    [{ id: 'pricing', label: 'P', matches: 'x' }, 'talking_point is required'],
  ])('rejects %j: %s', (raw, message) => {
    expect(topicSchema.validate(raw, { errors: { wrap: { label: false } } }).error?.message).toBe(message);
  });
});

describe('engagement', () => {
  it('keeps only what the lead did: no machine events, no sends or bounces, nothing after now', () => {
    const briefing = build({
      events: [
        event('email_sent', 20, { sendId: 's1', sequenceId: 'b2b-nurture', stepId: 'welcome', template: 'welcome' }),
        event('email_opened', 19, { sendId: 's1', machine: true }),
        event('email_clicked', 19, { sendId: 's1', url: 'https://example.com/pricing', machine: true }),
        event('email_bounced', 18, { sendId: 's2' }),
        event('handoff_created', 0.5, {}),
        event('page_view', 2, { path: '/pricing' }),
        event('page_view', -1, { path: '/future' }),
      ],
    });
    expect(briefing.engagement.map((entry) => entry.summary)).toEqual(['Viewed /pricing']);
  });

  it('lists events in time order, whatever their input order, keeping the most recent ones', () => {
    const views = Array.from({ length: MAX_ENGAGEMENT + 5 }, (_, index) => event('page_view', index + 1, { path: `/p${index + 1}` }));
    const briefing = build({ events: [...views].sort(() => 0.5 - Math.random()) });
    expect(briefing.engagement).toHaveLength(MAX_ENGAGEMENT);
    expect(briefing.engagement[0]?.summary).toBe(`Viewed /p${MAX_ENGAGEMENT}`);
    expect(briefing.engagement.at(-1)?.summary).toBe('Viewed /p1');
    const times = briefing.engagement.map((entry) => entry.at);
    expect(times).toEqual([...times].sort());
  });

  it.each<[string, ScoredEvent, string, string, string | null]>([
    ['an open, by subject and template', event('email_opened', 1, { sendId: 's1' }), 'email_opened', 'Opened “Your pipeline playbook” (email welcome)', null],
    ['an open of an email without a subject', event('email_opened', 1, { sendId: 's2' }), 'email_opened', 'Opened email pipeline-leaks', null],
    [
      'a click on a topic',
      event('email_clicked', 1, { sendId: 's1', url: 'https://example.com/pricing?utm_source=baton' }),
      'email_clicked',
      'Clicked “Pricing” in “Your pipeline playbook” (email welcome)',
      'pricing',
    ],
    [
      'a click on no topic',
      event('email_clicked', 1, { sendId: 's1', url: 'https://example.com/blog/post?utm_source=baton' }),
      'email_clicked',
      'Clicked example.com/blog/post in “Your pipeline playbook” (email welcome)',
      null,
    ],
    [
      'a click in an unknown send',
      event('email_clicked', 1, { sendId: 'nope', url: 'https://example.com/pricing' }),
      'email_clicked',
      'Clicked “Pricing” in an email',
      'pricing',
    ],
    ['a page view by path', event('page_view', 1, { path: '/pricing' }), 'page_view', 'Viewed /pricing', 'pricing'],
    [
      'a page view by URL, with a title',
      event('page_view', 1, { url: 'https://example.com/docs/api?x=1', title: 'API docs' }),
      'page_view',
      'Viewed “API docs” (example.com/docs/api)',
      'integrations',
    ],
    ['a form', event('form_submit', 1, { form: 'demo' }), 'form_submit', 'Submitted form demo', null],
    ['an unsubscribe', event('unsubscribed', 1), 'other', 'Unsubscribed from marketing email', null],
    ['a custom event', event('webinar_attended', 1, { webinar: 'q4' }), 'other', 'Webinar attended', null],
  ])('describes %s for people', (_name, given, kind, summary, topic) => {
    expect(build({ events: [given] }).engagement).toEqual([{ at: given.occurredAt.toISOString(), when: '2026-11-26 12:00 UTC', kind, summary, topic }]);
  });

  it('names a send it only knows from its email_sent event', () => {
    const events = [
      event('email_sent', 3, { sendId: 's9', template: 'case-study', subject: 'How Initech did it' }),
      event('email_opened', 2, { sendId: 's9' }),
    ];
    expect(build({ events }).engagement.map((entry) => entry.summary)).toEqual(['Opened “How Initech did it” (email case-study)']);
  });
});

describe('why now', () => {
  it('ranks the top five positive behaviour rules by points, with their labels and last event', () => {
    const older = event('page_view', 5, { path: '/pricing' });
    const newer = event('page_view', 1, { path: '/pricing' });
    const briefing = build({
      events: [older, newer],
      ruleLabels: { pricing: 'Viewed pricing', demo: 'Asked for a demo' },
      score: {
        engagement: 0,
        fit: 0,
        grade: 'B',
        total: 0,
        breakdown: [
          contribution('pricing', 'behaviour', 20, [newer.id, older.id]),
          contribution('click', 'behaviour', 5),
          contribution('demo', 'behaviour', 40, ['not-given']),
          contribution('careers', 'behaviour', -15),
          contribution('exec', 'fit', 50),
          contribution('webinar-visit', 'behaviour', 8),
          contribution('open', 'behaviour', 2),
          contribution('blog', 'behaviour', 1),
        ],
      },
    });
    expect(briefing.whyNow.topContributors).toEqual([
      { rule: 'demo', label: 'Asked for a demo', points: 40, lastEventAt: null },
      { rule: 'pricing', label: 'Viewed pricing', points: 20, lastEventAt: newer.occurredAt.toISOString() },
      { rule: 'webinar-visit', label: 'Webinar visit', points: 8, lastEventAt: null },
      { rule: 'click', label: 'Click', points: 5, lastEventAt: null },
      { rule: 'open', label: 'Open', points: 2, lastEventAt: null },
    ]);
  });

  it.each([
    [62.5, 20, 42.5],
    [40, 45.25, -5.25],
    [30, 30, 0],
  ])('a score of %d, %d seven days ago, rose by %d', (total, before, rise) => {
    const briefing = build({ score: { engagement: total, fit: 0, grade: 'D', total, breakdown: [] }, scoreSevenDaysAgo: before });
    expect(briefing.whyNow).toMatchObject({ score: total, engagement: total, fit: 0, grade: 'D', riseLast7Days: rise });
  });

  it('describes who the lead is, with fit facts strongest first', () => {
    expect(build().who).toEqual({
      name: 'Ada Lovelace',
      email: 'ada@globex.com',
      title: 'VP Sales',
      company: 'Globex',
      country: 'US',
      fitGrade: 'B',
      fitFacts: ['Exec (+15)', 'North america (+5)', 'Webmail (-20)'],
    });
    expect(build({ lead: { ...lead, firstName: null, lastName: null } }).who.name).toBe('ada@globex.com');
  });
});

describe('topics and talking points', () => {
  it('counts topics from clicks and page views only, most engaged first, ties in configuration order', () => {
    const briefing = build({
      events: [
        event('page_view', 4, { path: '/docs/api' }),
        event('email_clicked', 3, { sendId: 's1', url: 'https://example.com/pipeline-playbook' }),
        event('page_view', 3, { url: 'https://example.com/pipeline-playbook' }),
        event('page_view', 2, { path: '/pricing' }),
        event('email_clicked', 1, { sendId: 's1', url: 'https://example.com/pricing', machine: true }),
        event('email_opened', 1, { sendId: 's1', url: 'https://example.com/pricing' }),
        event('form_submit', 1, { form: 'pricing' }),
      ],
    });
    expect(briefing.topics).toEqual([
      { id: 'playbook', label: 'Pipeline playbook', count: 2 },
      { id: 'pricing', label: 'Pricing', count: 1 },
      { id: 'integrations', label: 'Integrations', count: 1 },
      { id: 'api', label: 'API', count: 1 },
    ]);
    // integrations and api share a talking point: said once.
    expect(briefing.talkingPoints).toEqual(['Ask which play they tried first.', 'Ask which plan they compared.', 'Ask which CRM they use.']);
  });

  it('gives a generic talking point when no topic was engaged', () => {
    expect(build({ events: [event('email_opened', 1, { sendId: 's1' })] }).talkingPoints).toEqual([GENERIC_TALKING_POINT]);
  });
});

describe('next step', () => {
  it.each<[string, ScoredEvent[], string]>([
    [
      'a demo request wins over everything',
      [event('page_view', 3, { path: '/pricing' }), event('form_submit', 2, { form: 'book-demo' }), event('form_submit', 1, { form: 'contact' })],
      'Call to confirm the demo, and ask what they most want to see.',
    ],
    [
      'a contact request',
      [event('page_view', 3, { path: '/pricing' }), event('form_submit', 1, { form: 'contact-sales' })],
      'Reply today: they asked to hear from sales.',
    ],
    [
      'a click on the pricing topic',
      [event('email_clicked', 1, { sendId: 's1', url: 'https://example.com/pricing' })],
      'Offer a pricing walkthrough: they have been looking at pricing.',
    ],
    ['a pricing page no topic covers', [event('page_view', 1, { path: '/pricing-2027' })], 'Offer a pricing walkthrough: they have been looking at pricing.'],
    [
      'another form, the latest named',
      [event('form_submit', 2, { form: 'newsletter' }), event('form_submit', 1, { form: 'ebook' })],
      'Follow up on the “ebook” form they submitted.',
    ],
    [
      'the most engaged topic otherwise',
      [event('page_view', 1, { path: '/docs/api' })],
      'Send a short personal note about Integrations, and offer a 20-minute call.',
    ],
    ['a default without signals', [event('email_opened', 1, { sendId: 's1' })], 'Send a short personal note, and offer a 20-minute call.'],
    ['machine events are no signal', [event('form_submit', 1, { form: 'demo', machine: true })], 'Send a short personal note, and offer a 20-minute call.'],
  ])('%s', (_name, events, step) => {
    expect(build({ events }).nextStep).toBe(step);
  });
});

describe('the briefing document', () => {
  const enrollments: BriefingInput['enrollments'] = [
    { sequenceId: 're-engagement', sequenceName: 'Re-engagement', status: 'active', enrolledAt: daysAgo(5), endedAt: null, endReason: null },
    { sequenceId: 'b2b-nurture', sequenceName: 'B2B nurture', status: 'completed', enrolledAt: daysAgo(21), endedAt: daysAgo(19), endReason: 'goal' },
  ];

  it('lists sequences oldest first with the emails each enrollment sent', () => {
    expect(build({ enrollments }).sequences).toEqual([
      {
        id: 'b2b-nurture',
        name: 'B2B nurture',
        status: 'completed',
        enrolledAt: daysAgo(21).toISOString(),
        endedAt: daysAgo(19).toISOString(),
        endReason: 'goal',
        emailsSent: 1,
      },
      { id: 're-engagement', name: 'Re-engagement', status: 'active', enrolledAt: daysAgo(5).toISOString(), endedAt: null, endReason: null, emailsSent: 0 },
    ]);
  });

  it('is plain JSON, unescaped, that survives a round trip', () => {
    const briefing = build({
      enrollments,
      lead: { ...lead, company: 'Globex <R&D>' },
      events: [event('page_view', 1, { path: '/pricing', title: '<b>Plans</b>' })],
    });
    expect(JSON.parse(JSON.stringify(briefing))).toEqual(briefing);
    expect(briefing.who.company).toBe('Globex <R&D>');
    expect(briefing.engagement[0]?.summary).toBe('Viewed “<b>Plans</b>” (/pricing)');
    expect(briefing).toMatchObject({
      leadId: 'lead-1',
      generatedAt: now.toISOString(),
      rep: { name: 'Sam Rep' },
      links: { accept: 'https://baton.example.com/h/1/accept?t=a&b=c' },
    });
  });
});

describe('renderers', () => {
  const briefing: Briefing = build({
    lead: { ...lead, firstName: 'Ada <script>', company: 'R&D > Sales' },
    scoreSevenDaysAgo: 5,
    score: {
      engagement: 45,
      fit: 20,
      grade: 'B',
      total: 65,
      breakdown: [contribution('demo', 'behaviour', 40), contribution('pricing', 'behaviour', 5), contribution('exec', 'fit', 20)],
    },
    ruleLabels: { demo: 'Asked for a demo' },
    events: [event('email_clicked', 2, { sendId: 's1', url: 'https://example.com/pricing' }), event('form_submit', 1, { form: 'demo' })],
  });

  it('renders plain text with the key facts', () => {
    const text = briefingText(briefing);
    for (const fact of [
      'Hot lead: Ada <script> Lovelace (R&D > Sales), score 65',
      'Score 65 (engagement 45, fit 20), +60 in the last 7 days',
      '- Asked for a demo: +40',
      '2026-11-25 12:00 UTC  Clicked “Pricing” in “Your pipeline playbook” (email welcome)',
      'Submitted form demo',
      'Topics: Pricing (1)',
      '- Ask which plan they compared.',
      'Next step: Call to confirm the demo',
      'Accept: https://baton.example.com/h/1/accept?t=a&b=c',
      'Reject: https://baton.example.com/h/1/reject?t=a',
    ])
      expect(text).toContain(fact);
  });

  it.each([
    ['a & b', 'a &amp; b'],
    ['<@U123> <!channel>', '&lt;@U123&gt; &lt;!channel&gt;'],
    ['*bold* _it_ “quotes”', '*bold* _it_ “quotes”'],
  ])('escapes Slack mrkdwn control characters: %s', (raw, escaped) => {
    expect(escapeMrkdwn(raw)).toBe(escaped);
  });

  it('builds a Slack message with escaped text and Accept/Reject buttons linking to the raw URLs', () => {
    const payload = slackPayload(briefing);
    const json = JSON.stringify(payload);
    expect(payload.text).toBe('Hot lead: Ada &lt;script&gt; Lovelace (R&amp;D &gt; Sales), score 65');
    expect(json).not.toContain('<script>');
    expect(json).not.toContain('R&D');
    expect(json).toContain('Clicked “Pricing” in “Your pipeline playbook” (email welcome)');
    expect(payload.blocks.map((block) => (block as { type: string }).type)).toEqual([
      'section',
      'section',
      'section',
      'section',
      'section',
      'section',
      'context',
      'actions',
    ]);
    expect(payload.blocks.at(-1)).toEqual({
      type: 'actions',
      elements: [
        {
          type: 'button',
          text: { type: 'plain_text', text: 'Accept' },
          url: 'https://baton.example.com/h/1/accept?t=a&b=c',
          action_id: 'handoff_accept',
          style: 'primary',
        },
        {
          type: 'button',
          text: { type: 'plain_text', text: 'Reject' },
          url: 'https://baton.example.com/h/1/reject?t=a',
          action_id: 'handoff_reject',
          style: 'danger',
        },
        { type: 'button', text: { type: 'plain_text', text: 'Open' }, url: 'https://baton.example.com/leads/lead-1', action_id: 'handoff_open' },
      ],
    });
  });

  it('keeps Slack sections within their size limits', () => {
    const long = build({ events: Array.from({ length: 40 }, (_, index) => event('page_view', index / 10, { path: `/${'x'.repeat(400)}${index}` })) });
    const payload = slackPayload(long);
    const section = payload.blocks.find((block) => JSON.stringify(block).includes('What they engaged with')) as { text: { text: string } };
    expect(section.text.text.length).toBeLessThanOrEqual(3000);
  });
});

describe('the circumstances of a handoff', () => {
  const demo = event('form_submit', 1, { form: 'demo' });
  const handRaised = { rule: 'demo-request', label: 'Demo request', eventId: demo.id, at: demo.occurredAt };
  const colleague = (email: string, name: string, title: string | null, actions: number, events: ScoredEvent[]) => ({
    leadId: email,
    name,
    email,
    title,
    actions,
    events,
  });

  it.each<[string, Partial<BriefingInput>, string[]]>([
    ['nothing to read first for a lead crossing the threshold', {}, []],
    ['nothing to read first for a subscribed lead who asked for a demo', { events: [demo], handRaised }, []],
    [
      'sales-only contact for an unsubscribed lead who asked for a demo',
      { lead: { ...lead, unsubscribedAt: '2026-11-02T09:30:00.000Z' }, events: [demo], handRaised },
      ['Unsubscribed from marketing email on 2026-11-02: contact about the demo request only'],
    ],
    [
      'the request named by its label',
      { lead: { ...lead, unsubscribedAt: '2026-10-31T23:59:00.000Z' }, events: [demo], handRaised: { ...handRaised, label: 'Pricing quote request' } },
      ['Unsubscribed from marketing email on 2026-10-31: contact about the pricing quote request only'],
    ],
    [
      'a previous disqualification, with its reason and the rep it goes back to',
      { events: [demo], handRaised, returning: { rep: { id: 'lea', name: 'Léa Martin' }, disqualifiedAt: daysAgo(40), reason: 'no budget' } },
      ['Previously disqualified on 2026-10-18 (“no budget”); they raised a hand again and go back to Léa Martin, who had them before'],
    ],
    [
      'a previous disqualification without a reason',
      { returning: { rep: { id: 'lea', name: 'Léa Martin' }, disqualifiedAt: daysAgo(40), reason: null } },
      ['Previously disqualified on 2026-10-18; they raised a hand again and go back to Léa Martin, who had them before'],
    ],
    [
      'sales-only first, then the disqualification',
      {
        lead: { ...lead, unsubscribedAt: '2026-11-02T09:30:00.000Z' },
        events: [demo],
        handRaised,
        returning: { rep: { id: 'lea', name: 'Léa' }, disqualifiedAt: daysAgo(40), reason: null },
      },
      [
        'Unsubscribed from marketing email on 2026-11-02: contact about the demo request only',
        'Previously disqualified on 2026-10-18; they raised a hand again and go back to Léa, who had them before',
      ],
    ],
  ])('%s', (_case, overrides, flags) => {
    const briefing = build(overrides);
    expect(briefing.flags).toEqual(flags);
    const text = briefingText(briefing);
    for (const flag of flags) expect(text).toContain(`  ! ${flag}`);
    expect(text.includes('Read first')).toBe(flags.length > 0);
    expect(JSON.stringify(slackPayload(briefing)).includes('Read first')).toBe(flags.length > 0);
  });

  it('says which request sent the lead to sales, in the headline and under why now', () => {
    const briefing = build({ events: [demo], handRaised });
    expect(briefing.handRaised).toEqual({
      rule: 'demo-request',
      label: 'Demo request',
      at: demo.occurredAt.toISOString(),
      when: '2026-11-26 12:00 UTC',
      summary: 'Submitted form demo',
    });
    const text = briefingText(briefing);
    expect(text.split('\n')[0]).toBe('Demo request: Ada Lovelace (Globex), score 0');
    expect(text).toContain('  Asked for sales: Demo request (Submitted form demo, 2026-11-26 12:00 UTC)');
    expect(build().handRaised).toBeNull();
  });

  it.each<[string, BriefingInput['account'], string | null, string[]]>([
    ['no account section for a webmail address', null, null, []],
    [
      'an account where nobody else engaged',
      { domain: 'globex.com', otherPeople: 2, otherEngagement: 12.5, days: 30, people: [] },
      'Account globex.com: 3 people, engagement 12.5 in all; nobody else engaged in the last 30 days',
      [],
    ],
    [
      'the buying group, most recent first, with their latest actions',
      {
        domain: 'globex.com',
        otherPeople: 3,
        otherEngagement: 60,
        days: 30,
        people: [
          colleague('tim@globex.com', 'Tim Berners-Lee', null, 1, [event('email_opened', 9, { sendId: 's1' })]),
          colleague('grace@globex.com', 'Grace Hopper', 'CTO', 5, [
            event('page_view', 4, { path: '/pricing' }),
            event('form_submit', 2, { form: 'webinar' }),
            event('page_view', 3, { path: '/docs/api' }),
          ]),
        ],
      },
      'Account globex.com: 4 people, engagement 60 in all; 6 actions by others in the last 30 days',
      [
        '  - Grace Hopper (CTO) <grace@globex.com>: 5 actions, last 2026-11-25 12:00 UTC: Submitted form webinar; Viewed /docs/api; Viewed /pricing',
        '  - Tim Berners-Lee <tim@globex.com>: 1 action, last 2026-11-18 12:00 UTC: Opened “Your pipeline playbook” (email welcome)',
      ],
    ],
  ])('%s', (_case, account, headline, lines) => {
    const text = briefingText(build({ account }));
    if (headline === null) {
      expect(text).not.toContain('Account ');
      return;
    }
    expect(text).toContain(`\n${[headline, ...lines].join('\n')}\n`);
  });

  it("counts the lead's own engagement in the account's total", () => {
    const briefing = build({
      score: { engagement: 25, fit: 0, grade: 'D', total: 25, breakdown: [] },
      account: { domain: 'globex.com', otherPeople: 1, otherEngagement: 10, days: 30, people: [] },
    });
    expect(briefing.account).toMatchObject({ domain: 'globex.com', people: 2, engagement: 35, groupActions: 0, buyingGroup: [] });
  });

  it("stores each buyer's lead id, so that erasing the person finds them in the stored briefing", () => {
    const people = [
      { ...colleague('grace@globex.com', 'Grace Hopper', 'CTO', 2, [event('page_view', 4, { path: '/pricing' })]), leadId: 'lead-grace' },
      { ...colleague('tim@globex.com', 'Tim Berners-Lee', null, 1, [event('email_opened', 2, { sendId: 's1' })]), leadId: 'lead-tim' },
    ];
    const briefing = build({ account: { domain: 'globex.com', otherPeople: 2, otherEngagement: 10, days: 30, people } });
    expect(briefing.account?.buyingGroup.map((buyer) => [buyer.leadId, buyer.email])).toEqual([
      ['lead-tim', 'tim@globex.com'],
      ['lead-grace', 'grace@globex.com'],
    ]);
    // Stored as JSON: the id survives the round trip, and the rendered note does not show it.
    expect(JSON.parse(JSON.stringify(briefing)).account.buyingGroup[0].leadId).toBe('lead-tim');
    expect(briefingText(briefing)).not.toContain('lead-tim');
  });
});
