import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { convert } from 'html-to-text';
import mjml2html from 'mjml';
import { compileFill, withFallback } from '../../src/templates/fast-fill.js';
import { handlebars, INLINE_HELPERS } from '../../src/templates/handlebars-env.js';
import { composeMjml, guardDynamicHrefs } from '../../src/templates/template-compiler.js';
import { parseTemplateSource } from '../../src/templates/template-source.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';

/*
 * The fast fill must render exactly what Handlebars renders. Checked two ways: targeted cases for
 * each rule of the subset (lookups, escaping, truthiness, helpers, blocks, whitespace), and every
 * example template (HTML, text, subject, preheader) filled both ways for leads with awkward data.
 */

const OPTIONS = { data: false, knownHelpersOnly: true, knownHelpers: { url: true, safeHref: true, default: true, upper: true, lower: true, eq: true, if: true, unless: true, each: true, with: true } };

function both(source: string, noEscape = false) {
  const reference = handlebars.compile(source, { ...OPTIONS, noEscape });
  const fill = compileFill(source, INLINE_HELPERS, { noEscape });
  return { reference: (context: unknown) => reference(context), fill, rendered: withFallback(fill, (context) => reference(context)) };
}

function expectSame(source: string, contexts: unknown[], noEscape = false): void {
  const { reference, fill, rendered } = both(source, noEscape);
  expect(fill).not.toBeNull();
  for (const context of contexts) expect([source, context, rendered(context)]).toEqual([source, context, reference(context)]);
}

const awkward = ['', 0, 1, -1, false, true, null, undefined, 'plain', '<script>alert("x")</script> & \' ` =', [], [0], ['a', 'b'], {}, { name: 'N' }, NaN];

describe('the fast fill renders what Handlebars renders', () => {
  it('looks up own properties only, and escapes the way Handlebars does', () => {
    expectSame('[{{a}}] [{{a.b}}] [{{a.b.c}}] [{{this.a}}] [{{a.length}}]', awkward.flatMap((value) => [{ a: value }, { a: { b: value } }, { a: { b: { c: value } } }]));
    // Inherited properties are not rendered: no prototype access.
    const inherited = Object.create({ secret: 'inherited' }) as Record<string, unknown>;
    expectSame('[{{a.secret}}] [{{a.toString}}] [{{a.constructor}}] [{{a.__proto__}}]', [{ a: inherited }, { a: {} }, { a: 'text' }]);
    expectSame('[{{{a}}}] [{{a}}]', awkward.map((value) => ({ a: value })));
    expectSame('[{{a}}] [{{{a}}}]', awkward.map((value) => ({ a: value })), true);
  });

  it('calls a function it finds on a path, as Handlebars does', () => {
    expectSame('[{{f}}] [{{#if f}}yes{{/if}}]', [{ f: () => 'called' }, { f: () => '' }, { f() { return (this as { x: string }).x; }, x: 'this' }]);
  });

  it('takes #if, #unless and #each the way Handlebars does, else branches included', () => {
    const holey: unknown[] = [];
    holey[1] = 'hole';
    const values = awkward.map((value) => ({ a: value, b: 'B' }));
    expectSame('{{#if a}}yes {{b}}{{else}}no {{b}}{{/if}}|{{#unless a}}un{{else}}less{{/unless}}|{{#if a}}only{{/if}}', values);
    expectSame('{{#each a}}<{{this}}|{{name}}>{{else}}none {{b}}{{/each}}', [{ a: [] }, { a: [1, 2] }, { a: [{ name: '<n>' }, { name: 'm' }], b: 'B' }, { a: null }, { a: undefined }, { a: false }, { a: holey }]);
    // An object or a function to iterate is left to Handlebars itself.
    const { fill, reference, rendered } = both('{{#each a}}[{{this}}]{{/each}}');
    expect(fill).not.toBeNull();
    for (const context of [{ a: { x: 1, y: 2 } }, { a: 'str' }, { a: () => [1] }]) expect(rendered(context)).toBe(reference(context));
  });

  it("calls Baton's helpers with the arguments Handlebars would give them", () => {
    const values = awkward.map((value) => ({ a: value, b: 'fallback', u: 'https://example.com/?a=1&b=<2>', bad: 'javascript:alert(1)' }));
    expectSame('[{{default a "there"}}] [{{default a b}}] [{{upper a}}] [{{lower "ABC"}}] [{{url u}}] [{{url bad}}]', values);
    expectSame('{{eq a 0}} {{eq a null}} {{default a 3}} {{default a true}}', values);
  });

  it('guards placeholder hrefs the way the safeHref helper does', () => {
    const html = guardDynamicHrefs('<a href="{{link}}">x</a><a href="https://fixed.example.com">y</a>');
    expectSame(html, ['https://ok.example.com/a?b=1&c=2', 'javascript:alert(1)', 'mailto:a@b.c', 'tel:+1', '#top', '', ' https://x.example.com ', 'data:text/html,<b>'].map((link) => ({ link })));
  });

  it('keeps Handlebars whitespace control and standalone block lines', () => {
    expectSame('a\n  {{#if x}}\n  in\n  {{/if}}\nb {{~x~}} c\n{{! comment }}\nd', [{ x: 'X' }, { x: '' }]);
  });

  it('leaves what it does not cover to Handlebars', () => {
    for (const source of ['{{> partial}}', '{{@root.a}}', '{{#each a}}{{../b}}{{/each}}', '{{#with a}}{{b}}{{/with}}', '{{lookup a "b"}}', '{{default a}}', '{{upper}}', '{{a x=1}}', '{{#if a includeZero=true}}y{{/if}}', '{{#each a as |item|}}{{item}}{{/each}}', '{{default (upper a) "x"}}', '{{unknownHelper a}}']) {
      expect([source, compileFill(source, INLINE_HELPERS)]).toEqual([source, null]);
    }
  });
});

describe('every example template, filled both ways', () => {
  const dir = FIXTURE_CONTENT.templates;
  const leads = [
    { firstName: 'Ada', lastName: 'Lovelace', company: 'Analytical Engines', email: 'ada@example.com', traits: { plan: 'pro' }, tags: ['a'] },
    { firstName: '', company: null, email: 'blank@example.com', traits: {}, tags: [] },
    { firstName: '<b>Bold</b> & "quoted"', company: "O'Brien & Sons <script>", email: 'x@example.com', traits: { n: 0 }, tags: [] },
    { email: 'only@example.com' },
  ];
  const briefings = [undefined, {
    who: { name: 'Ada <L>', email: 'ada@example.com', company: 'AE', title: 'CTO', country: 'GB', fitGrade: 'A', fitFacts: ['CTO title', 'UK & EU'] },
    whyNow: { score: 72, engagement: 50, fit: 22, riseLast7Days: 30, topContributors: [{ label: 'Visited pricing', points: 20 }, { label: 'Clicked <demo>', points: 10 }] },
    engagement: [{ when: '2026-11-01', summary: 'Opened "Welcome"' }],
    topics: [{ label: 'Pricing', count: 3 }],
    sequences: [{ name: 'Nurture', status: 'active', emailsSent: 3, endReason: null }, { name: 'Old', status: 'exited', emailsSent: 0, endReason: 'handed <off>' }],
    talkingPoints: ['Ask about <budget>'],
    nextStep: 'Call & book a demo',
    rep: { name: 'Rita', email: 'rita@example.com' },
    links: { accept: 'https://baton.test/h/a', reject: 'https://baton.test/h/r', lead: 'https://baton.test/l/1' },
  }];

  it('renders the same HTML, text, subject and preheader for every lead, through the fast fill', async () => {
    const layouts = new Map<string, string>();
    const partials = new Map<string, string>();
    for (const [map, sub] of [[layouts, 'layouts'], [partials, 'partials']] as const) {
      for (const file of (await readdir(path.join(dir, sub))).filter((name) => name.endsWith('.mjml'))) map.set(file.slice(0, -5), await readFile(path.join(dir, sub, file), 'utf8'));
    }
    const files = (await readdir(dir)).filter((name) => name.endsWith('.mjml'));
    expect(files.length).toBeGreaterThanOrEqual(10);
    for (const file of files) {
      const parsed = parseTemplateSource(file.slice(0, -5), file, await readFile(path.join(dir, file), 'utf8'));
      if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
      const { html } = await mjml2html(composeMjml(parsed.source, { layouts, partials }).mjml, { validationLevel: 'skip', fonts: {} });
      const texts: Array<[string, boolean]> = [[guardDynamicHrefs(html), false], [convert(html, { wordwrap: false }), true], [parsed.source.meta.subject, true], [parsed.source.meta.preheader, true]];
      const contexts = leads.flatMap((lead) => briefings.map((briefing) => ({
        lead, briefing, preheader: 'Pre <header>',
        company: { name: 'Acme & Co', postalAddress: '1 Main St' },
        links: { ...parsed.source.meta.links, unsubscribe: 'https://baton.test/u/token?x=1&y=2' },
        sequence: { id: 's', name: 'Seq' }, step: { id: 'step' },
      })));
      for (const [text, noEscape] of texts) expectSame(text, contexts, noEscape);
    }
  });
});
