import { detectDelimiter, escapeFormula, mapHeader, mapRow, splitTags } from '../../src/leads/lead-csv.js';
import { countryCode } from '../../src/leads/lead-csv-headers.js';

describe('mapHeader', () => {
  it('recognises field names in any case and spelling, and keeps other columns as traits', () => {
    const { targets, problems } = mapHeader(['E-mail', 'First Name', 'last_name', 'JOB TITLE', 'Plan', 'id', '']);
    expect(problems).toEqual([]);
    expect(targets).toEqual([
      { kind: 'field', field: 'email' },
      { kind: 'field', field: 'firstName' },
      { kind: 'field', field: 'lastName' },
      { kind: 'field', field: 'title' },
      { kind: 'trait', name: 'Plan' },
      { kind: 'ignored' },
      { kind: 'ignored' },
    ]);
  });

  it('maps columns named after Object.prototype members to traits, and ignores __proto__', () => {
    const { targets, problems } = mapHeader(['email', 'constructor', 'toString', 'hasOwnProperty', '__proto__', 'valueOf']);
    expect(problems).toEqual([]);
    expect(targets).toEqual([
      { kind: 'field', field: 'email' },
      { kind: 'trait', name: 'constructor' },
      { kind: 'trait', name: 'toString' },
      { kind: 'trait', name: 'hasOwnProperty' },
      { kind: 'ignored' },
      { kind: 'trait', name: 'valueOf' },
    ]);
    expect(mapRow(['a@b.co', 'c', 't', 'h', 'p', 'v'], targets)).toEqual({
      ok: true,
      candidate: { email: 'a@b.co', traits: { constructor: 'c', toString: 't', hasOwnProperty: 'h', valueOf: 'v' } },
    });
  });

  it('reports a missing email column and duplicate columns', () => {
    expect(mapHeader(['name', 'Company', 'company']).problems).toEqual([
      'columns 2 and 3 are both "company"',
      'the header has no email column (accepted names: email, email address, e-mail)',
    ]);
  });
});

describe('mapRow', () => {
  const { targets } = mapHeader(['email', 'tags', 'unsubscribed', 'traits', 'Plan', 'consent_status', 'consent_source', 'consent_at']);

  it('leaves empty cells out so an import never blanks a stored value', () => {
    expect(mapRow(['a@b.co', '', '', '', '', '', '', ''], targets)).toEqual({ ok: true, candidate: { email: 'a@b.co' } });
  });

  it.each([
    ['yes', { unsubscribed: true }],
    ['TRUE', { unsubscribed: true }],
    ['no', {}],
    ['0', {}],
  ])('reads unsubscribed %s', (cell, expected) => {
    expect(mapRow(['a@b.co', '', cell], targets)).toEqual({ ok: true, candidate: { email: 'a@b.co', ...expected } });
  });

  it('rejects an unreadable unsubscribed cell and a non-object traits cell', () => {
    expect(mapRow(['a@b.co', '', 'perhaps'], targets)).toEqual({ ok: false, reason: 'unsubscribed must be true or false, got "perhaps"' });
    expect(mapRow(['a@b.co', '', '', '[1]'], targets)).toEqual({ ok: false, reason: 'traits must be a JSON object' });
  });

  it('splits tags, merges a traits JSON cell with trait columns, and assembles consent', () => {
    expect(mapRow(['a@b.co', 'x; y|x', '', '{"size":12}', 'pro', 'Granted', 'form', '2026-01-01T00:00:00Z'], targets)).toEqual({
      ok: true,
      candidate: {
        email: 'a@b.co',
        tags: ['x', 'y'],
        traits: { size: 12, Plan: 'pro' },
        consent: { status: 'granted', source: 'form', at: '2026-01-01T00:00:00Z' },
      },
    });
  });

  it('undoes the formula escaping applied on export', () => {
    expect(mapRow(["'=1+1"], mapHeader(['email']).targets)).toEqual({ ok: true, candidate: { email: '=1+1' } });
  });
});

describe('escapeFormula', () => {
  it.each([
    ['=SUM(A1)', "'=SUM(A1)"],
    ['+33 1 23', "'+33 1 23"],
    ['-2', "'-2"],
    ['@cmd', "'@cmd"],
    ['\tx', "'\tx"],
    ['\rx', "'\rx"],
    ['plain', 'plain'],
    ['a=b', 'a=b'],
    ['', ''],
  ])('%j becomes %j', (cell, expected) => {
    expect(escapeFormula(cell)).toBe(expected);
  });
});

describe("other tools' spellings", () => {
  it.each([
    ['United States', 'US'],
    ['United Kingdom', 'GB'],
    ['UK', 'GB'],
    ['France', 'FR'],
    ['Germany', 'DE'],
    ['germany', 'DE'],
    ['Switzerland', 'CH'],
    ['de', 'DE'],
    ['Atlantis', null],
  ])('reads the country %s as %s', (cell, code) => {
    expect(countryCode(cell)).toBe(code);
  });

  it.each([
    ['"webinar","trial"', ['webinar', 'trial']],
    ['webinar; trial;webinar', ['webinar', 'trial']],
    ["'vip'|beta", ['vip', 'beta']],
    ['"newsletter"', ['newsletter']],
  ])('splits the tags cell %s', (cell, tags) => {
    expect(splitTags(cell)).toEqual(tags);
  });

  it.each([
    ['Email,First Name,Tags', ','],
    ['Email;First Name;Tags', ';'],
    ['"Name, full";Email;Company', ';'],
    ['Email\tFirst Name', '\t'],
    ['email', ','],
  ])('detects the delimiter of %j', (line, delimiter) => {
    expect(detectDelimiter(line)).toEqual({ delimiter, hintLine: false });
  });

  it("follows Excel's sep= hint", () => {
    expect(detectDelimiter('sep=;')).toEqual({ delimiter: ';', hintLine: true });
  });

  it("maps HubSpot's and Mailchimp's usual headers", () => {
    const { targets } = mapHeader([
      'Email Address',
      'Company Name',
      'Phone Number',
      'Lifecycle Stage',
      'Country/Region',
      'Number of Employees',
      'TAGS',
      'UNSUB_TIME',
      'CC',
    ]);
    expect(targets).toEqual([
      { kind: 'field', field: 'email' },
      { kind: 'field', field: 'company' },
      { kind: 'field', field: 'phone' },
      { kind: 'trait', name: 'lifecycle_stage' },
      { kind: 'field', field: 'country' },
      { kind: 'trait', name: 'company_size' },
      { kind: 'field', field: 'tags' },
      { kind: 'field', field: 'unsubscribedAt' },
      { kind: 'field', field: 'country' },
    ]);
  });
});
