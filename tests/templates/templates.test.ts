import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { loadTemplates, type TemplateContext, type TemplateStore } from '../../src/templates/template-store.js';
import { FIXTURE_CONTENT } from '../helpers/fixture-content.js';

const EXAMPLES = FIXTURE_CONTENT.templates;

const FOOTER = '<mj-section><mj-column><mj-text>{{company.postalAddress}} <a href="{{links.unsubscribe}}">Unsubscribe</a></mj-text></mj-column></mj-section>';
const wrap = (body: string) => `<mjml><mj-body>${body}${FOOTER}</mj-body></mjml>`;
const file = (frontMatter: string, body: string) => `---\n${frontMatter}\n---\n${body}\n`;

const context = (lead: Record<string, unknown> = {}): TemplateContext => ({
  lead: { firstName: 'Ada', traits: {}, ...lead },
  company: { name: 'Acme', postalAddress: '1 Main Street, Springfield' },
  links: { unsubscribe: 'https://baton.example.com/u/tok' },
});

let dir: string;
async function writeTemplates(files: Record<string, string>): Promise<void> {
  await rm(dir, { recursive: true, force: true });
  for (const [name, text] of Object.entries(files)) {
    await mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await writeFile(path.join(dir, name), text);
  }
}
async function load(files: Record<string, string>): Promise<TemplateStore> {
  await writeTemplates(files);
  const result = await loadTemplates(dir);
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.store;
}
async function problems(files: Record<string, string>): Promise<string[]> {
  await writeTemplates(files);
  const result = await loadTemplates(dir);
  if (result.ok) return [];
  return result.problems.map((problem) => `${path.basename(problem.file)}:${problem.line ?? '-'} ${problem.message}`);
}

beforeEach(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-templates-'));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('rendering', () => {
  it('personalises subject, HTML and a plain-text part, escaping HTML but not the text part', async () => {
    const store = await load({
      'hello.mjml': file('subject: "Hi {{lead.firstName}} & co"\npreheader: "For {{lead.company}}"', wrap('<mj-section><mj-column><mj-text>Hello {{lead.firstName}} from {{lead.company}}</mj-text></mj-column></mj-section>')),
    });
    const email = store.render('hello', context({ company: '<b>Evil</b> Corp' }));
    expect(email.subject).toBe('Hi Ada & co');
    expect(email.preheader).toBe('For <b>Evil</b> Corp');
    expect(email.html).toContain('Hello Ada from &lt;b&gt;Evil&lt;/b&gt; Corp');
    expect(email.html).not.toContain('<b>Evil</b>');
    expect(email.text).toContain('Hello Ada from <b>Evil</b> Corp');
    expect(email.text).toContain('Unsubscribe [https://baton.example.com/u/tok]');
  });

  it('keeps a lead-controlled subject on one line (no header injection)', async () => {
    const store = await load({ 't.mjml': file('subject: "Hi {{lead.firstName}}"', wrap('')) });
    expect(store.render('t', context({ firstName: 'Ada\r\nBcc: victim@example.com' })).subject).toBe('Hi Ada Bcc: victim@example.com');
  });

  it('never links to javascript: URLs, whatever the lead data holds', async () => {
    const store = await load({
      't.mjml': file('subject: s', wrap('<mj-section><mj-column><mj-button href="{{lead.website}}">Site</mj-button><mj-text><a href="{{url lead.website}}">again</a></mj-text></mj-column></mj-section>')),
    });
    const html = store.render('t', context({ website: 'javascript:alert(1)' })).html;
    expect(html).not.toMatch(/javascript:/i);
    const safe = store.render('t', context({ website: 'https://ada.example.com/' })).html;
    expect(safe.match(/href="https:\/\/ada\.example\.com\/"/g)).toHaveLength(2);
  });

  it('guards hrefs in any case or quoting, and image sources, against javascript: URLs', async () => {
    const store = await load({
      't.mjml': file('subject: s', wrap(`<mj-section><mj-column><mj-text><a HREF='{{lead.website}}'>one</a> <a href = "{{lead.website}}">two</a> <a href={{lead.website}}>three</a></mj-text><mj-image src="{{lead.website}}" /></mj-column></mj-section>`)),
    });
    const html = store.render('t', context({ website: 'javascript:alert(1)' })).html;
    expect(html).not.toMatch(/javascript:/i);
  });

  it('refuses placeholders in style attributes and triple braces', async () => {
    expect(await problems({
      's.mjml': file('subject: s', wrap('<mj-section background-url="{{lead.website}}"><mj-column><mj-text>x</mj-text></mj-column></mj-section>')),
      't.mjml': file('subject: "{{{lead.firstName}}}"', wrap('')),
    })).toEqual([
      's.mjml:- a placeholder in a style attribute could inject CSS or script; keep lead data out of style',
      expect.stringMatching(/^t\.mjml:- Handlebars in subject: triple braces/),
    ]);
  });

  it('refuses a misspelt helper when the template loads, not when it is sent', async () => {
    expect(await problems({ 't.mjml': file('subject: "{{defualt lead.firstName \'x\'}}"\ncategory: transactional', '<mjml><mj-body></mj-body></mjml>') })).toEqual([
      't.mjml:- subject: {{defualt}}: there is no helper "defualt"; the helpers are url, default, upper, lower, eq, if, unless, each, with',
    ]);
  });

  it('keeps placeholders in headings intact in the text part', async () => {
    const store = await load({ 't.mjml': file('subject: s', wrap('<mj-section><mj-column><mj-text><h1>Hello {{lead.firstName}}</h1></mj-text></mj-column></mj-section>')) });
    expect(store.render('t', context()).text).toContain('Hello Ada');
  });

  it('does not expose prototype properties', async () => {
    const store = await load({ 't.mjml': file('subject: "[{{lead.constructor}}][{{lead.__proto__}}]"', wrap('')) });
    expect(store.render('t', context()).subject).toBe('[][]');
  });

  it('adds the template\'s named links to the context', async () => {
    const store = await load({
      't.mjml': file('subject: s\nlinks:\n  guide: https://example.com/guide', wrap('<mj-section><mj-column><mj-button href="{{links.guide}}">Guide</mj-button></mj-column></mj-section>')),
    });
    expect(store.render('t', context()).html).toContain('href="https://example.com/guide"');
  });

  it('composes layouts and partials', async () => {
    const store = await load({
      'layouts/base.mjml': '<mjml><mj-body><!-- content -->{{> footer}}</mj-body></mjml>',
      'partials/footer.mjml': FOOTER,
      't.mjml': file('subject: s\nlayout: base', '<mj-section><mj-column><mj-text>Body</mj-text></mj-column></mj-section>'),
    });
    const html = store.render('t', context()).html;
    expect(html).toContain('Body');
    expect(html).toContain('1 Main Street, Springfield');
  });

  it('compiles once: the version is stable and changes with the source', async () => {
    const first = await load({ 't.mjml': file('subject: a', wrap('')) });
    const again = await load({ 't.mjml': file('subject: a', wrap('')) });
    const changed = await load({ 't.mjml': file('subject: b', wrap('')) });
    expect(first.get('t')?.version).toBe(again.get('t')?.version);
    expect(first.get('t')?.version).not.toBe(changed.get('t')?.version);
  });
});

describe('validation', () => {
  it('requires an unsubscribe link and the postal address in marketing templates', async () => {
    expect(await problems({ 'm.mjml': file('subject: s', '<mjml><mj-body><mj-section><mj-column><mj-text>Buy</mj-text></mj-column></mj-section></mj-body></mjml>') })).toEqual([
      'm.mjml:- a marketing template needs a visible unsubscribe link: <a href="{{links.unsubscribe}}">Unsubscribe</a>',
      'm.mjml:- a marketing template must show the postal address: {{company.postalAddress}}',
    ]);
  });

  it('refuses an unsubscribe link with no visible text', async () => {
    const body = '<mjml><mj-body><mj-section><mj-column><mj-text>{{company.postalAddress}}<a href="{{links.unsubscribe}}"></a></mj-text></mj-column></mj-section></mj-body></mjml>';
    expect(await problems({ 'm.mjml': file('subject: s', body) })).toEqual([expect.stringContaining('visible unsubscribe link')]);
  });

  it('lets transactional templates go without an unsubscribe link', async () => {
    expect(await problems({ 't.mjml': file('subject: s\ncategory: transactional', '<mjml><mj-body></mj-body></mjml>') })).toEqual([]);
  });

  it('reports front matter problems with their line, and every file at once', async () => {
    expect(await problems({
      'a.mjml': file('subject: s\ncategory: spam\nlinks:\n  bad: "javascript:alert(1)"', wrap('')),
      'b.mjml': wrap(''),
      'c.mjml': file('preheader: p', wrap('')),
    })).toEqual([
      'a.mjml:3 front matter: category must be one of [marketing, transactional]',
      'a.mjml:5 front matter: links.bad must be an http(s) URL without spaces, e.g. https://example.com/pricing?utm_source=newsletter',
      'b.mjml:1 a template starts with YAML front matter between --- lines (at least a subject)',
      'c.mjml:2 front matter: subject is required',
    ]);
  });

  it('reports an MJML error in a template with a layout on the line of the template file, past included partials', async () => {
    expect(await problems({
      'layouts/page.mjml': '<mjml>\n  <mj-body>\n    {{> header}}\n    <!-- content -->\n    {{> footer}}\n  </mj-body>\n</mjml>',
      'partials/header.mjml': '<mj-section>\n  <mj-column><mj-text>Head</mj-text></mj-column>\n</mj-section>',
      'partials/footer.mjml': FOOTER,
      'offer.mjml': file('subject: s\nlayout: page', '{{> header}}\n<mj-section>\n  <mj-column><mj-text padding="lots">x</mj-text></mj-column>\n</mj-section>'),
    })).toEqual([expect.stringMatching(/^offer\.mjml:7 MJML: Attribute padding has invalid value: lots/)]);
  });

  it('reports MJML and Handlebars errors, and unknown layouts and partials', async () => {
    expect(await problems({
      'a.mjml': file('subject: s', '<mjml><mj-body>\n<mj-section><mj-column><mj-text padding="lots">x</mj-text></mj-column></mj-section>\n</mj-body></mjml>'),
      'b.mjml': file('subject: "{{#if x}}unclosed"', wrap('')),
      'c.mjml': file('subject: s\nlayout: nope', '<mj-section></mj-section>'),
      'd.mjml': file('subject: s', '<mjml><mj-body>{{> missing}}</mj-body></mjml>'),
    })).toEqual([
      expect.stringMatching(/^a\.mjml:5 MJML: Attribute padding has invalid value: lots/),
      'b.mjml:- subject: {{#if}} is never closed: end the block with {{/if}}',
      'c.mjml:- layout "nope" does not exist (known: none)',
      'd.mjml:- partial "missing" does not exist (known: none)',
    ]);
  });
});

describe('example templates', () => {
  it('all compile, pass the marketing checks and render for a lead', async () => {
    const result = await loadTemplates(EXAMPLES);
    if (!result.ok) throw new Error(JSON.stringify(result.problems, null, 2));
    expect(result.store.names().length).toBeGreaterThanOrEqual(6);
    for (const name of result.store.names()) {
      const email = result.store.render(name, context({ company: 'Initech' }));
      expect(email.subject.length).toBeGreaterThan(5);
      if (email.category === 'transactional') continue; // e.g. handoff-briefing, to a rep: no unsubscribe or postal address
      expect(email.html).toContain('https://baton.example.com/u/tok');
      expect(email.text).toContain('1 Main Street, Springfield');
    }
  });
});
