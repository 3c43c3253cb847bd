import type { LeadRow } from '../../src/leads/lead.js';
import { applyPatch, mergeUpsert } from '../../src/leads/lead-merge.js';

const NOW = new Date('2026-06-01T12:00:00Z');

function row(overrides: Partial<LeadRow> = {}): LeadRow {
  return {
    id: '0b9c4bde-2f7e-4d55-9a43-6c8e0c2f1a10',
    email: 'Ada@Example.com',
    first_name: 'Ada',
    last_name: null,
    company: 'Engines',
    title: null,
    phone: null,
    timezone: null,
    country: null,
    source: 'webinar',
    traits: { size: 10, plan: 'pro' },
    tags: ['a', 'b'],
    consent: null,
    unsubscribed_at: null,
    created_at: NOW,
    updated_at: NOW,
    ...overrides,
  };
}

describe('mergeUpsert', () => {
  it('keeps stored values for absent or null fields, adds tags, merges traits and keeps the stored address', () => {
    const result = mergeUpsert(
      row(),
      { email: 'ada@example.com', company: null, title: 'CTO', tags: ['b', 'c'], traits: { plan: null, seats: 5 } },
      'api',
      NOW,
    );
    expect(result).toEqual({
      ok: true,
      write: expect.objectContaining({ email: 'Ada@Example.com', company: 'Engines', title: 'CTO', tags: ['a', 'b', 'c'], traits: { size: 10, seats: 5 } }),
    });
  });

  it('starts from nothing for a new lead', () => {
    const result = mergeUpsert(undefined, { email: 'new@example.com', tags: ['x'] }, 'api', NOW);
    expect(result).toEqual({
      ok: true,
      write: expect.objectContaining({ email: 'new@example.com', firstName: null, tags: ['x'], traits: {}, unsubscribedAt: null }),
    });
  });

  it('records an opt-out once and never clears it', () => {
    const earlier = new Date('2026-01-01T00:00:00Z');
    expect(mergeUpsert(row(), { email: 'a@b.co', unsubscribed: true }, 'api', NOW)).toMatchObject({ write: { unsubscribedAt: NOW } });
    expect(mergeUpsert(row({ unsubscribed_at: earlier }), { email: 'a@b.co', unsubscribed: true }, 'api', NOW)).toMatchObject({
      write: { unsubscribedAt: earlier },
    });
    expect(mergeUpsert(row({ unsubscribed_at: earlier }), { email: 'a@b.co', firstName: 'X' }, 'import', NOW)).toMatchObject({
      write: { unsubscribedAt: earlier },
    });
  });

  it.each([
    ['import', 'withdrawn', 'withdrawn'],
    ['import', 'denied', 'denied'],
    ['api', 'withdrawn', 'granted'],
    // A public form: anyone can type the address, so a withdrawal stands.
    ['form', 'withdrawn', 'withdrawn'],
    ['form', 'denied', 'denied'],
  ] as const)('a %s of granted consent over %s leaves %s', (mode, stored, expected) => {
    const consent = { status: stored, source: 'form', at: '2026-01-01T00:00:00.000Z' } as const;
    const result = mergeUpsert(
      row({ consent }),
      { email: 'a@b.co', consent: { status: 'granted', source: 'list', at: '2026-02-01T00:00:00.000Z' } },
      mode,
      NOW,
    );
    expect(result.ok && result.write.consent?.status).toBe(expected);
  });

  it('applies the limits to the merged lead', () => {
    const tags = Array.from({ length: 60 }, (_, i) => `old${i}`);
    const result = mergeUpsert(row({ tags }), { email: 'a@b.co', tags: Array.from({ length: 60 }, (_, i) => `new${i}`) }, 'api', NOW);
    expect(result).toEqual({ ok: false, problems: [{ field: 'tags', message: 'tags would grow to 120; a lead holds at most 100' }] });
    const traits = Object.fromEntries(Array.from({ length: 150 }, (_, i) => [`k${i}`, i]));
    const more = Object.fromEntries(Array.from({ length: 60 }, (_, i) => [`n${i}`, i]));
    expect(mergeUpsert(row({ traits }), { email: 'a@b.co', traits: more }, 'api', NOW)).toMatchObject({ ok: false, problems: [{ field: 'traits' }] });
  });
});

describe('applyPatch', () => {
  it('clears fields set to null, merge-patches traits and replaces tags', () => {
    const result = applyPatch(row(), { company: null, traits: { size: null, region: 'EU' }, tags: ['z'] }, NOW);
    expect(result).toEqual({ ok: true, write: expect.objectContaining({ company: null, traits: { plan: 'pro', region: 'EU' }, tags: ['z'] }) });
  });

  it('renames the address', () => {
    expect(applyPatch(row(), { email: 'new@example.com' }, NOW)).toMatchObject({ ok: true, write: { email: 'new@example.com' } });
  });
});
