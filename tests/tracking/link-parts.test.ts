import { findHtmlLinks, findTextLinks } from '../../src/tracking/email-links.js';
import { redirectLocation } from '../../src/tracking/redirect-location.js';
import { withUtmTags } from '../../src/tracking/utm.js';
import { parseSequence } from '../../src/sequences/sequence-loader.js';

/* The pure parts behind exact links (issue 12 §6); the whole path is tests/tracking/exact-links.test.ts. */

const TAGS = { source: 'newsletter', medium: 'email', campaign: 'b2b-nurture', content: 'welcome' };
const ALL = 'utm_source=newsletter&utm_medium=email&utm_campaign=b2b-nurture&utm_content=welcome';

describe('UTM tags', () => {
  it.each([
    ['https://example.com/pricing', `https://example.com/pricing?${ALL}`],
    ['https://example.com/?a=1', `https://example.com/?a=1&${ALL}`],
    ['https://example.com/?a=1&', `https://example.com/?a=1&${ALL}`],
    ['https://example.com/?', `https://example.com/?${ALL}`],
    ['https://example.com/app#/route?x=1', `https://example.com/app?${ALL}#/route?x=1`],
    [
      'https://example.com/?utm_source=partner&utm_content=hero',
      'https://example.com/?utm_source=partner&utm_content=hero&utm_medium=email&utm_campaign=b2b-nurture',
    ],
    ['https://example.com/?utm%5Fsource=encoded', 'https://example.com/?utm%5Fsource=encoded&utm_medium=email&utm_campaign=b2b-nurture&utm_content=welcome'],
    [`https://example.com/?${ALL}`, `https://example.com/?${ALL}`],
    ['https://example.com/?q=%2F&x=%zz', `https://example.com/?q=%2F&x=%zz&${ALL}`],
  ])('%s → %s', (url, tagged) => {
    expect(withUtmTags(url, TAGS)).toBe(tagged);
  });

  it('encodes the values it adds', () => {
    expect(withUtmTags('https://example.com/', { ...TAGS, source: 'spring sale & co', medium: 'e-mail/ü' })).toBe(
      'https://example.com/?utm_source=spring%20sale%20%26%20co&utm_medium=e-mail%2F%C3%BC&utm_campaign=b2b-nurture&utm_content=welcome',
    );
  });
});

describe('the Location of a redirect', () => {
  it.each([
    ['https://example.com/a%2Fb?x=%c3%a9&y=a+b#f', 'https://example.com/a%2Fb?x=%c3%a9&y=a+b#f'],
    ['https://münchen.example/straße?x=ü#ä', 'https://xn--mnchen-3ya.example/stra%C3%9Fe?x=%C3%BC#%C3%A4'],
    ['https://user:pä@例え.jp:8443/パス', 'https://user:p%C3%A4@xn--r8jz45g.jp:8443/%E3%83%91%E3%82%B9'],
    ['https://example.com/a b', 'https://example.com/a%20b'],
    ['https://example.com/🎉', 'https://example.com/%F0%9F%8E%89'],
  ])('%s → %s', (url, location) => {
    expect(redirectLocation(url)).toBe(location);
    expect(new URL(location).href).toBe(new URL(url).href);
  });
});

describe('finding links', () => {
  it('reads hrefs of <a> and <area> as a browser decodes attributes, and leaves <link> alone', () => {
    const html = `<link href="https://fonts.example/css?family=A&amp;b=1" rel="stylesheet">
<a class="x" href="https://example.com/?a&#x3D;1&amp;b&#x3D;2&#x27;">one</a><A HREF = 'https://example.com/?x=1&copy=2'>two</A>
<area shape="rect" href=https://example.com/bare?x=1><a href="mailto:a@example.com">m</a><a href="  https://example.com/spaced  ">s</a>`;
    expect(findHtmlLinks(html).map((link) => link.url)).toEqual([
      "https://example.com/?a=1&b=2'",
      'https://example.com/?x=1&copy=2',
      'https://example.com/bare?x=1',
      'https://example.com/spaced',
    ]);
  });

  it('matches URLs known from the HTML whole in the text part, and trims punctuation from others', () => {
    const known = ['https://example.com/wiki/Foo_(bar)', 'https://example.com/?q="x"&y=[1]', 'https://example.com/a'];
    const text =
      'Read [https://example.com/wiki/Foo_(bar)] and [https://example.com/?q="x"&y=[1]].\nAlso https://example.com/a, (see https://other.example/path).\nhttps://example.com/ab!';
    expect(findTextLinks(text, known).map((link) => link.url)).toEqual([
      'https://example.com/wiki/Foo_(bar)',
      'https://example.com/?q="x"&y=[1]',
      'https://example.com/a',
      'https://other.example/path',
      'https://example.com/ab',
    ]);
  });
});

describe('utm: in a sequence file', () => {
  const templates = { has: (name: string) => name === 'welcome', names: () => ['welcome'] };
  const sequence = (utm: string) =>
    parseSequence(
      `id: tagged\nname: Tagged\nversion: 1\n${utm}entry:\n  trigger: { type: manual }\nsteps:\n  - id: hello\n    email: welcome\n`,
      'tagged.yaml',
      templates,
    );

  it.each([
    ['', null],
    ['utm: false\n', null],
    ['utm: { source: newsletter, medium: email }\n', { source: 'newsletter', medium: 'email' }],
    ['utm: {}\n', { source: 'baton', medium: 'email' }],
  ])('%j reads as %j', (line, utm) => {
    const result = sequence(line);
    expect(result.ok && result.sequence.utm).toEqual(utm);
  });

  it('refuses anything else, saying what is accepted', () => {
    const result = sequence('utm: yes please\n');
    expect(result.ok ? [] : result.problems.map((problem) => `${problem.line ?? '-'} ${problem.path}: ${problem.message}`)).toEqual([
      '4 utm: must be false, or source: and medium: (utm_campaign and utm_content are the sequence and step ids)',
    ]);
  });
});
