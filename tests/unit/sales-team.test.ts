import { readFile } from 'node:fs/promises';
import { parseSalesTeam } from '../../src/handoff/sales-team.js';

const HOUR = 3_600_000;

const problemsOf = (text: string) => {
  const result = parseSalesTeam(text);
  return result.ok ? [] : result.problems.map((problem) => `${problem.line ?? '-'} ${problem.path}: ${problem.message}`);
};

describe('the sales team file', () => {
  it('reads reps, territories, out-of-office periods, the fallback owner and the SLA', () => {
    const result = parseSalesTeam(`fallback_owner: dana
sla:
  remind_after: 4h
  reassign_after: 1d
reps:
  - id: alex
    name: " Alex Kim "
    email: alex@example.com
    slack_webhook_url: https://hooks.slack.com/services/T000/B000/XXXX
    timezone: america/los_angeles
    capacity: 20
    out_of_office:
      - { from: 2026-12-20, until: 2027-01-02 }
      - { from: "2027-02-03T09:00Z", until: "2027-02-03T13:30:00+01:00" }
    territories:
      - countries: [us, CA]
        regions: [West]
        company_size: { min: 50, max: 1000 }
        industries: [SaaS, fintech]
      - company_size: { min: 5000 }
  - id: dana
    name: Dana Reyes
    email: dana@example.com
`);
    expect(result).toEqual({
      ok: true,
      team: {
        fallbackOwner: 'dana',
        sla: { remindAfterMs: 4 * HOUR, reassignAfterMs: 24 * HOUR },
        reps: [
          {
            id: 'alex',
            name: 'Alex Kim',
            email: 'alex@example.com',
            slackWebhookUrl: 'https://hooks.slack.com/services/T000/B000/XXXX',
            timezone: 'America/Los_Angeles',
            capacity: 20,
            outOfOffice: [
              // A date until is inclusive: the period ends at the next midnight UTC.
              { from: new Date('2026-12-20T00:00:00Z'), until: new Date('2027-01-03T00:00:00Z') },
              { from: new Date('2027-02-03T09:00:00Z'), until: new Date('2027-02-03T12:30:00Z') },
            ],
            territories: [
              { countries: ['US', 'CA'], regions: ['west'], companySize: { min: 50, max: 1000 }, industries: ['saas', 'fintech'] },
              { countries: null, regions: null, companySize: { min: 5000, max: null }, industries: null },
            ],
          },
          {
            id: 'dana',
            name: 'Dana Reyes',
            email: 'dana@example.com',
            slackWebhookUrl: null,
            timezone: 'UTC',
            capacity: null,
            outOfOffice: [],
            territories: [],
          },
        ],
      },
    });
  });

  it('refuses a rep time zone that is not an IANA zone, naming the line', () => {
    const result = parseSalesTeam('fallback_owner: dana\nreps:\n  - id: dana\n    name: Dana\n    email: dana@example.com\n    timezone: Mars/Olympus\n');
    expect(result).toEqual({
      ok: false,
      problems: [{ line: 6, path: 'reps[0].timezone', message: '"Mars/Olympus" is not an IANA time zone such as Europe/Paris' }],
    });
  });

  it.each([
    ['left out', ''],
    ['null', 'sla: null\n'],
    ['empty', 'sla:\n'],
  ])('has no SLA when sla is %s', (_case, sla) => {
    const result = parseSalesTeam(`fallback_owner: dana\n${sla}reps:\n  - { id: dana, name: Dana, email: dana@example.com }\n`);
    expect(result.ok && result.team.sla).toBeNull();
  });

  it('parses the example sales-team.yaml (the fixture copy)', async () => {
    const result = parseSalesTeam(await readFile(new URL('../fixtures/content/sales-team.yaml', import.meta.url), 'utf8'));
    if (!result.ok) throw new Error(JSON.stringify(result.problems));
    expect(result.team.fallbackOwner).toBe('dana');
    expect(result.team.sla).toEqual({ remindAfterMs: 4 * HOUR, reassignAfterMs: 8 * HOUR });
    expect(result.team.reps.map((rep) => rep.id)).toEqual(['alex', 'sam', 'lea', 'dana']);
  });

  it.each<[string, string, string[]]>([
    ['an empty file', '', ['- fallback_owner: is required', '- reps: is required']],
    ['a list instead of a map', '- alex\n', ['1 : the file must be a map of fallback_owner, sla and reps']],
    ['broken YAML', 'reps: [\n', ['2 : YAML: Flow sequence in block collection must be sufficiently indented and end with a ]']],
    ['a key given twice', 'fallback_owner: a\nfallback_owner: b\n', ['2 : YAML: this key appears twice in the same block; keep one']],
    ['no reps', 'fallback_owner: dana\nreps: []\n', ['2 reps: must list at least one rep']],
    [
      'an unknown fallback owner',
      `fallback_owner: bob
reps:
  - { id: alex, name: Alex, email: alex@example.com }
  - { id: dana, name: Dana, email: dana@example.com }
`,
      ['1 fallback_owner: "bob" is not a rep id; expected one of: alex, dana'],
    ],
    [
      'a reassignment no later than the reminder',
      `fallback_owner: dana
sla:
  remind_after: 8h
  reassign_after: 480m
reps:
  - { id: dana, name: Dana, email: dana@example.com }
`,
      ['4 sla.reassign_after: "480m" must be longer than remind_after "8h"'],
    ],
    [
      'a half SLA and a bad duration',
      `fallback_owner: dana
sla:
  remind_after: soon
reps:
  - { id: dana, name: Dana, email: dana@example.com }
`,
      ['2 sla.reassign_after: is required', '3 sla.remind_after: "soon" is not a duration such as 4h (s, m, h, d or w)'],
    ],
    [
      'a rep without a name, at the line where the rep starts',
      `fallback_owner: dana
reps:
  - id: dana
    email: dana@example.com
`,
      ['3 reps[0].name: is required'],
    ],
    [
      'a rep that is a string and a territory that is a list',
      `fallback_owner: dana
reps:
  - dana
  - id: alex
    name: Alex
    email: alex@example.com
    territories: [[US]]
`,
      [
        '1 fallback_owner: "dana" is not a rep id; expected one of: alex',
        '3 reps[0]: must be a map of id, name, email, slack_webhook_url, timezone, capacity, out_of_office, territories',
        '7 reps[1].territories[0]: must be a map of countries, regions, company_size, industries',
      ],
    ],
    [
      'empty territory constraints',
      `fallback_owner: dana
reps:
  - id: dana
    name: Dana
    email: dana@example.com
    territories:
      - {}
      - { countries: [], company_size: {} }
`,
      [
        '7 reps[0].territories[0]: must constrain at least one of countries, regions, company_size or industries',
        '8 reps[0].territories[1].countries: must not be empty: leave it out to match any value',
        '8 reps[0].territories[1].company_size: must give min, max or both',
      ],
    ],
    [
      'several problems at once, structural and semantic, in file order',
      `fallback_owner: bob
reps:
  - id: Alex
    name: Alex Kim
    email: not-an-email
    colour: red
  - id: sam
    name: Sam Ortiz
    email: sam@example.com
    slack_webhook_url: http://hooks.example.com/sam
    capacity: -1
    out_of_office:
      - { from: 2026-02-30, until: 2026-12-20 09:00 }
      - { from: 2026-12-20, until: 2026-12-19 }
    territories:
      - countries: [USA, us]
        company_size: { min: 1000, max: 50 }
  - { id: sam, name: Sam Again, email: SAM@example.com }
`,
      [
        '1 fallback_owner: "bob" is not a rep id; expected one of: Alex, sam',
        '3 reps[0].id: "Alex" must be lower-case letters, digits, - and _',
        '5 reps[0].email: "not-an-email" is not an email address',
        '6 reps[0].colour: is not a known key; expected one of: id, name, email, slack_webhook_url, timezone, capacity, out_of_office, territories',
        '10 reps[1].slack_webhook_url: "http://hooks.example.com/sam" must be an https URL',
        '11 reps[1].capacity: must be greater than or equal to 0',
        '13 reps[1].out_of_office[0].from: "2026-02-30" is not a date such as 2026-12-20 or a date-time with a time zone such as 2026-12-20T09:00Z',
        '13 reps[1].out_of_office[0].until: "2026-12-20 09:00" is not a date such as 2026-12-20 or a date-time with a time zone such as 2026-12-20T09:00Z',
        '14 reps[1].out_of_office[1].until: "2026-12-19" must be after from "2026-12-20"',
        '16 reps[1].territories[0].countries[0]: "USA" must be a two-letter ISO 3166 country code such as FR',
        '17 reps[1].territories[0].company_size: min 1000 must not be more than max 50',
        '18 reps[2].id: "sam" is also the id of reps[1]',
        '18 reps[2].email: "SAM@example.com" is also the email of reps[1]',
      ],
    ],
    [
      'a date-time without a time zone, and a period ending before it starts',
      `fallback_owner: dana
reps:
  - id: dana
    name: Dana
    email: dana@example.com
    out_of_office:
      - { from: "2026-12-20T09:00", until: 2026-12-21 }
      - { from: "2026-12-20T18:00Z", until: "2026-12-20T09:00Z" }
`,
      [
        '7 reps[0].out_of_office[0].from: "2026-12-20T09:00" is not a date such as 2026-12-20 or a date-time with a time zone such as 2026-12-20T09:00Z',
        '8 reps[0].out_of_office[1].until: "2026-12-20T09:00Z" must be after from "2026-12-20T18:00Z"',
      ],
    ],
  ])('reports %s', (_case, text, expected) => {
    expect(problemsOf(text)).toEqual(expected);
  });

  it('accepts a one-day absence: a date until covers that whole day', () => {
    const result = parseSalesTeam(`fallback_owner: dana
reps:
  - { id: dana, name: Dana, email: dana@example.com, out_of_office: [{ from: 2026-12-24, until: 2026-12-24 }] }
`);
    expect(result.ok && result.team.reps[0]?.outOfOffice).toEqual([{ from: new Date('2026-12-24T00:00:00Z'), until: new Date('2026-12-25T00:00:00Z') }]);
  });
});
