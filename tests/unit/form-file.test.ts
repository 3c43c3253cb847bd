import { parseFormFile } from '../../src/forms/form-file.js';
import { readFormInput } from '../../src/forms/form-input.js';

const HEAD = 'id: signup\ntitle: Sign up\nfields:\n  - { name: email, label: Email, type: email, required: true }\n';

describe('form files', () => {
  it.each([
    [
      'a form without an email field',
      'id: a\ntitle: A\nfields:\n  - { name: first_name, label: Name }\nthank_you: { message: Hi }\n',
      { line: 4, path: 'fields', message: 'must include a required field named email: a lead is known by its address' },
    ],
    [
      'a select without options',
      `${HEAD}  - { name: size, label: Size, type: select }\nthank_you: { message: Hi }\n`,
      { line: 5, path: 'fields[1]', message: 'is a select, so it needs options' },
    ],
    [
      'a reserved field name',
      `${HEAD}  - { name: homepage, label: Site }\nthank_you: { message: Hi }\n`,
      { line: 5, path: 'fields[1].name', message: '"homepage" is kept for Baton\'s own use (baton_started, homepage, consent, baton_visitor)' },
    ],
    [
      'both a message and a redirect',
      `${HEAD}thank_you: { message: Hi, redirect: "https://example.com/thanks" }\n`,
      { line: 5, path: 'thank_you', message: 'takes either a message or a redirect, not both' },
    ],
    [
      'an allowed origin with a path',
      `${HEAD}thank_you: { message: Hi }\nallowed_origins: ["https://www.example.com/contact"]\n`,
      {
        line: 6,
        path: 'allowed_origins[0]',
        message: '"https://www.example.com/contact" must be an origin only: scheme, host and port, e.g. https://www.example.com',
      },
    ],
    [
      'an unknown key',
      `${HEAD}thank_you: { message: Hi }\ncaptcha: true\n`,
      { line: 6, path: 'captcha', message: expect.stringContaining('is not a known key; expected one of: id, title') },
    ],
  ])('refuses %s, naming the line', (_what, text, problem) => {
    const parsed = parseFormFile(text, 'forms/x.yaml', ['b2b-nurture']);
    expect(parsed.ok ? [] : parsed.problems).toEqual([problem]);
  });
});

describe('readFormInput', () => {
  const parsed = parseFormFile(
    `${HEAD}  - { name: country, label: Country, max_length: 2 }\n  - { name: plan, label: Plan, type: select, options: [Free, Pro] }\nconsent: { version: v1, text: Yes please }\nthank_you: { message: Hi }\n`,
    'forms/x.yaml',
    [],
  );
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
  const form = parsed.form;

  it('maps lead fields and keeps the rest as traits, with accents and spaces trimmed', () => {
    expect(readFormInput(form, { email: '  José@Exämple.com ', country: 'fr', plan: 'Pro', consent: 'on' })).toEqual({
      ok: true,
      consentGiven: true,
      lead: { email: 'José@Exämple.com', country: 'FR', traits: { plan: 'Pro' } },
      values: { email: 'José@Exämple.com', country: 'fr', plan: 'Pro', consent: 'on' },
    });
  });

  it('names every bad field in its own words, whatever JSON sends', () => {
    const result = readFormInput(form, { email: { $ne: null }, country: 'France', plan: 'Gold' });
    expect(result.ok ? [] : result.errors).toEqual([
      { field: 'email', message: 'Email: give one value' },
      { field: 'country', message: 'Country must be at most 2 characters' },
      { field: 'plan', message: 'Plan: choose one of the options' },
      { field: 'consent', message: 'Please tick the box to agree, or we cannot send you anything' },
    ]);
  });
});
