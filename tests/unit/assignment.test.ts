import { chooseRep, isAvailable, territoryMatches, type AssignableLead, type AssignmentInput, type PreferredRep } from '../../src/handoff/assignment.js';
import type { Rep, SalesTeam, Territory } from '../../src/handoff/sales-team.js';

const NOW = new Date('2026-06-15T12:00:00Z');

const territory = (fields: Partial<Territory>): Territory => ({ countries: null, regions: null, companySize: null, industries: null, ...fields });
const rep = (id: string, fields: Partial<Rep> = {}): Rep => ({
  id,
  name: id,
  email: `${id}@example.com`,
  slackWebhookUrl: null,
  timezone: 'UTC',
  capacity: null,
  outOfOffice: [],
  territories: [],
  ...fields,
});
const lead = (country: string | null, traits: Record<string, unknown> = {}): AssignableLead => ({ country, traits });

describe('territory matching', () => {
  const saasWest = territory({ countries: ['US', 'CA'], regions: ['west'], companySize: { min: 50, max: 1000 }, industries: ['saas', 'fintech'] });
  const fit = { region: 'west', company_size: 200, industry: 'saas' };

  it.each<[string, Territory, AssignableLead, boolean]>([
    ['a listed country, whatever its case', territory({ countries: ['US', 'CA'] }), lead('ca'), true],
    ['no other country', territory({ countries: ['US', 'CA'] }), lead('FR'), false],
    ['no lead without a country when countries are set', territory({ countries: ['US'] }), lead(null), false],
    ['any lead, country or not, when countries are null', territory({ regions: ['west'] }), lead(null, { region: 'west' }), true],
    ['the region trait, whatever its case', territory({ regions: ['west'] }), lead('US', { region: ' West ' }), true],
    ['no other region', territory({ regions: ['west'] }), lead('US', { region: 'east' }), false],
    ['no lead missing the region trait', territory({ regions: ['west'] }), lead('US'), false],
    ['no region that is not text', territory({ regions: ['1'] }), lead('US', { region: 1 }), false],
    ['the minimum company size (bounds are inclusive)', territory({ companySize: { min: 50, max: 1000 } }), lead('US', { company_size: 50 }), true],
    ['the maximum company size', territory({ companySize: { min: 50, max: 1000 } }), lead('US', { company_size: 1000 }), true],
    ['no company below the minimum', territory({ companySize: { min: 50, max: 1000 } }), lead('US', { company_size: 49 }), false],
    ['no company above the maximum', territory({ companySize: { min: 50, max: 1000 } }), lead('US', { company_size: 1001 }), false],
    ['any size above an open-ended minimum', territory({ companySize: { min: 5000, max: null } }), lead('US', { company_size: 250_000 }), true],
    ['any size below an open-ended maximum', territory({ companySize: { min: null, max: 10 } }), lead('US', { company_size: 0 }), true],
    ['a company size given as a numeric string', territory({ companySize: { min: 50, max: 1000 } }), lead('US', { company_size: '250' }), true],
    ['no company size that is not a number', territory({ companySize: { min: 50, max: 1000 } }), lead('US', { company_size: '250 employees' }), false],
    ['no empty company size', territory({ companySize: { min: 0, max: 1000 } }), lead('US', { company_size: '' }), false],
    ['no infinite company size', territory({ companySize: { min: 50, max: null } }), lead('US', { company_size: Infinity }), false],
    ['no NaN company size', territory({ companySize: { min: null, max: 1000 } }), lead('US', { company_size: NaN }), false],
    ['no lead missing the company size', territory({ companySize: { min: 50, max: null } }), lead('US'), false],
    ['the industry trait, whatever its case', territory({ industries: ['saas', 'fintech'] }), lead('US', { industry: 'FinTech' }), true],
    ['no lead missing the industry trait', territory({ industries: ['saas'] }), lead('US'), false],
    ['a lead meeting every constraint', saasWest, lead('us', fit), true],
    ['no lead failing the country alone', saasWest, lead('GB', fit), false],
    ['no lead failing the region alone', saasWest, lead('US', { ...fit, region: 'east' }), false],
    ['no lead failing the size alone', saasWest, lead('US', { ...fit, company_size: 5000 }), false],
    ['no lead failing the industry alone', saasWest, lead('US', { ...fit, industry: 'retail' }), false],
  ])('matches %s', (_case, given, candidate, expected) => {
    expect(territoryMatches(given, candidate)).toBe(expected);
  });
});

describe('rep availability', () => {
  const holiday = { from: new Date('2026-06-10T00:00:00Z'), until: new Date('2026-06-20T00:00:00Z') };

  it.each<[string, Partial<Rep>, Date, number, boolean]>([
    ['available with no limits', {}, NOW, 500, true],
    ['out of office inside a period', { outOfOffice: [holiday] }, NOW, 0, false],
    ['out of office from the first instant of a period', { outOfOffice: [holiday] }, holiday.from, 0, false],
    ['back at the instant a period ends', { outOfOffice: [holiday] }, holiday.until, 0, true],
    ['available before a period', { outOfOffice: [holiday] }, new Date('2026-06-09T23:59:59Z'), 0, true],
    ['available under capacity', { capacity: 3 }, NOW, 2, true],
    ['full at capacity', { capacity: 3 }, NOW, 3, false],
    ['full over capacity', { capacity: 3 }, NOW, 4, false],
    ['never available with capacity 0', { capacity: 0 }, NOW, 0, false],
  ])('is %s', (_case, fields, now, openCount, expected) => {
    expect(isAvailable(rep('alex', fields), now, openCount)).toBe(expected);
  });
});

describe('choosing a rep', () => {
  const us = [territory({ countries: ['US'] })];
  const team: SalesTeam = {
    fallbackOwner: 'dana',
    sla: null,
    reps: [
      rep('alex', { territories: us, capacity: 2 }),
      rep('sam', { territories: [territory({ countries: ['FR'] }), ...us] }),
      rep('lea', { territories: [territory({ countries: ['FR'] })] }),
      rep('kim', { territories: us }),
      rep('dana'),
    ],
  };
  const usLead = lead('US');
  const away = { outOfOffice: [{ from: new Date('2026-06-01T00:00:00Z'), until: new Date('2026-07-01T00:00:00Z') }] };
  const input = (fields: Partial<AssignmentInput> = {}): AssignmentInput => ({ team, lead: usLead, now: NOW, openCounts: {}, lastAssigned: {}, ...fields });
  const withReps = (changes: Record<string, Partial<Rep>>): SalesTeam => ({ ...team, reps: team.reps.map((member) => ({ ...member, ...changes[member.id] })) });

  it('goes round the pool in file order, one lead each, when the cursor is fed back', () => {
    const lastAssigned: Record<string, string> = {};
    const chosen: string[] = [];
    for (let count = 0; count < 7; count += 1) {
      const assignment = chooseRep(input({ lastAssigned }));
      expect(assignment).toMatchObject({ poolKey: 'alex,sam,kim', reason: 'territory' });
      lastAssigned[assignment.poolKey ?? ''] = assignment.repId;
      chosen.push(assignment.repId);
    }
    expect(chosen).toEqual(['alex', 'sam', 'kim', 'alex', 'sam', 'kim', 'alex']);
  });

  it('keeps one cursor per pool, so leads of another pool do not move it', () => {
    const lastAssigned: Record<string, string> = {};
    const chosen: string[] = [];
    for (const country of ['US', 'FR', 'FR', 'US', 'FR', 'US']) {
      const assignment = chooseRep(input({ lead: lead(country), lastAssigned }));
      lastAssigned[assignment.poolKey ?? ''] = assignment.repId;
      chosen.push(`${country} ${assignment.repId}`);
    }
    expect(chosen).toEqual(['US alex', 'FR sam', 'FR lea', 'US sam', 'FR sam', 'US kim']);
    expect(lastAssigned).toEqual({ 'alex,sam,kim': 'kim', 'sam,lea': 'sam' });
  });

  it.each<[string, Partial<AssignmentInput>, string]>([
    ['starts the pool at its first rep with no cursor', {}, 'alex'],
    ['takes the rep after the cursor', { lastAssigned: { 'alex,sam,kim': 'alex' } }, 'sam'],
    ['wraps around after the last rep', { lastAssigned: { 'alex,sam,kim': 'kim' } }, 'alex'],
    ['starts at the beginning when the cursor rep left the pool', { lastAssigned: { 'alex,sam,kim': 'lea' } }, 'alex'],
    ['ignores the cursor of another pool', { lastAssigned: { 'alex,kim': 'alex' } }, 'alex'],
    ['skips a rep at capacity', { lastAssigned: { 'alex,sam,kim': 'kim' }, openCounts: { alex: 2 } }, 'sam'],
    ['counts open handoffs against capacity only up to it', { lastAssigned: { 'alex,sam,kim': 'kim' }, openCounts: { alex: 1 } }, 'alex'],
    ['skips a rep out of office', { lastAssigned: { 'alex,sam,kim': 'alex' }, team: withReps({ sam: away }) }, 'kim'],
    ['skips an excluded rep', { lastAssigned: { 'alex,sam,kim': 'alex' }, exclude: ['sam'] }, 'kim'],
    ['wraps around past skipped reps', { lastAssigned: { 'alex,sam,kim': 'sam' }, exclude: ['kim'], openCounts: { alex: 2 } }, 'sam'],
  ])('%s', (_case, fields, expected) => {
    expect(chooseRep(input(fields))).toMatchObject({ repId: expected, poolKey: 'alex,sam,kim', reason: 'territory' });
  });

  it('says in the detail which pool it used, after whom, and whom it skipped', () => {
    expect(chooseRep(input({ lastAssigned: { 'alex,sam,kim': 'kim' }, openCounts: { alex: 2 }, exclude: ['sam'] }))).toEqual({
      repId: 'kim',
      poolKey: 'alex,sam,kim',
      reason: 'territory',
      detail: 'territory pool alex,sam,kim, after kim; skipped alex (at capacity 2/2), sam (excluded)',
    });
  });

  it('gives a lead no territory matches to the fallback owner', () => {
    expect(chooseRep(input({ lead: lead('JP', { region: 'kanto', company_size: 40 }) }))).toEqual({
      repId: 'dana',
      poolKey: 'fallback',
      reason: 'fallback',
      detail: 'no territory matches the lead (country "JP", region "kanto", company_size 40, industry none); fallback owner dana',
    });
  });

  it('gives the lead to the fallback owner, even away and full, when nobody in the pool is available', () => {
    const everyoneAway = withReps({ alex: away, sam: away, dana: { ...away, capacity: 1 } });
    expect(chooseRep(input({ team: everyoneAway, openCounts: { dana: 5 }, exclude: ['kim'] }))).toEqual({
      repId: 'dana',
      poolKey: 'fallback',
      reason: 'fallback',
      detail:
        'nobody in territory pool alex,sam,kim is available; skipped alex (out of office until 2026-07-01T00:00:00.000Z), sam (out of office until 2026-07-01T00:00:00.000Z), kim (excluded); fallback owner dana',
    });
  });

  it.each<[string, Partial<AssignmentInput>, string, string]>([
    [
      'the first available rep of the team when the fallback owner is excluded',
      { lead: lead('JP'), exclude: ['dana'], openCounts: { alex: 2 } },
      'sam',
      'fallback owner dana is excluded, first available rep sam',
    ],
    [
      'a rep outside every pool when the whole pool is unavailable and the fallback owner excluded',
      { exclude: ['dana', 'alex', 'kim'], team: withReps({ sam: away }) },
      'lea',
      'fallback owner dana is excluded, first available rep lea',
    ],
    [
      'the excluded fallback owner anyway when nobody else is available',
      { lead: lead('JP'), exclude: ['dana', 'alex'], team: withReps({ sam: away, lea: away, kim: { capacity: 0 } }) },
      'dana',
      'fallback owner dana is excluded but nobody else is available',
    ],
  ])('falls back to %s', (_case, fields, expected, detailEnd) => {
    const assignment = chooseRep(input(fields));
    expect(assignment).toMatchObject({ repId: expected, poolKey: 'fallback', reason: 'fallback' });
    expect(assignment.detail.endsWith(detailEnd)).toBe(true);
  });
});

describe('assignment preferences before territory round robin', () => {
  const team: SalesTeam = {
    fallbackOwner: 'dana',
    sla: null,
    reps: [
      rep('alex', { territories: [territory({ countries: ['US'] })] }),
      rep('sam', { territories: [territory({ countries: ['US'] })], capacity: 2 }),
      rep('lea', {
        territories: [territory({ countries: ['FR'] })],
        outOfOffice: [{ from: new Date('2026-06-01T00:00:00Z'), until: new Date('2026-07-01T00:00:00Z') }],
      }),
      rep('dana'),
    ],
  };
  const owner = (repId: string): PreferredRep => ({ repId, reason: 'account_owner', detail: `owns an open handoff at the same account (globex.com)` });
  const previous = (repId: string): PreferredRep => ({ repId, reason: 'previous_rep', detail: `back to ${repId}` });
  const choose = (preferred: PreferredRep[], openCounts: Record<string, number> = {}, exclude: string[] = []) =>
    chooseRep({
      team,
      lead: lead('US'),
      now: NOW,
      openCounts,
      lastAssigned: { 'alex,sam': 'sam' },
      preferred,
      exclude,
    });

  it.each<[string, PreferredRep[], Record<string, number>, string[], string, string, string | null]>([
    [
      "the account owner, outside the lead's territory",
      [owner('dana')],
      {},
      [],
      'dana',
      'account_owner',
      'owns an open handoff at the same account (globex.com)',
    ],
    ['the account owner rather than the next in the pool', [owner('sam')], {}, [], 'sam', 'account_owner', null],
    ['the previous rep first, then the account owner', [previous('alex'), owner('sam')], {}, [], 'alex', 'previous_rep', null],
    [
      'the account owner when the previous rep is full',
      [previous('sam'), owner('alex')],
      { sam: 2 },
      [],
      'alex',
      'account_owner',
      'owns an open handoff at the same account (globex.com); skipped sam (previous rep, at capacity 2/2)',
    ],
    [
      'the pool when the account owner is away',
      [owner('lea')],
      {},
      [],
      'alex',
      'territory',
      'territory pool alex,sam, after sam; skipped lea (account owner, out of office until 2026-07-01T00:00:00.000Z)',
    ],
    ['the pool when the account owner is excluded (a reassignment)', [owner('alex')], {}, ['alex'], 'sam', 'territory', null],
    [
      'the pool when the preferred rep left the team',
      [previous('kim')],
      {},
      [],
      'alex',
      'territory',
      'territory pool alex,sam, after sam; skipped kim (previous rep, no longer in the sales team)',
    ],
    ['round robin as before with no preference', [], {}, [], 'alex', 'territory', 'territory pool alex,sam, after sam'],
  ])('gives %s', (_case, preferred, openCounts, exclude, repId, reason, detail) => {
    const assignment = choose(preferred, openCounts, exclude);
    expect(assignment).toMatchObject({ repId, reason });
    if (detail !== null) expect(assignment.detail).toBe(detail);
  });

  it("moves no round-robin cursor for a preferred rep (poolKey null), and the pool's otherwise", () => {
    expect(choose([owner('sam')]).poolKey).toBeNull();
    expect(choose([owner('lea')]).poolKey).toBe('alex,sam');
  });
});
