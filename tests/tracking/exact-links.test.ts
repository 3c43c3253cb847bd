import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { simpleParser, type ParsedMail } from 'mailparser';
import { startMailSink, type MailSink } from '../../src/mail/mail-sink.js';
import { createMailTransport, type MailTransport } from '../../src/mail/mail-transport.js';
import { createLogger } from '../../src/platform/logger.js';
import { createEmailDelivery, type EmailDelivery } from '../../src/sends/email-delivery.js';
import { loadTemplates } from '../../src/templates/template-store.js';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/*
 * Issue 12 §6: a tracked link redirects to exactly the URL in the template. Each URL of the corpus
 * is written twice in one template, literally in the MJML (HTML-escaped as an author writes it)
 * and as a front-matter link filled by Handlebars ({{links.x}}, which escapes `=`, `'` and `` ` ``).
 * The email is rendered by the template pipeline, sent by the email delivery over SMTP to the
 * embedded sink, parsed from the caught message; every tracked link of its HTML and text parts is
 * then followed through the click route.
 */

const CORPUS: string[] = [
  'https://example.com/app?utm_source=baton&utm_campaign=trial',
  'https://example.com/path?a=1&b=2&c=3#frag',
  'https://example.com/#/route?x=1&y=2',
  'https://example.com/search?q=caf%C3%A9&lang=fr',
  'https://example.com/a%2Fb%20c?x=%25&y=%26',
  'https://example.com/lower%c3%a9case',
  'https://example.com/?q=a+b&plus=%2B',
  'https://example.com/?empty=&flag&x==y',
  'https://example.com/?redirect=https%3A%2F%2Fother.example%2Fx%3Fa%3D1%26b%3D2',
  'https://example.com/?redirect=https://other.example/x?a=1&b=2',
  'https://example.com/p;params;x=1?q=1',
  'https://example.com:8443/port?x=1',
  'https://user:pa%40ss@example.com/userinfo',
  'http://example.com/plain-http',
  'HTTPS://EXAMPLE.COM/Upper?Case=Yes',
  'https://example.com/?filter[tag]=x&filter[sort]=-date',
  'https://example.com/wiki/Foo_(bar)',
  "https://example.com/?q=it's",
  'https://example.com/?q=%22quoted%22&back=`tick`',
  'https://example.com/?a=1&amp=2',
  'https://example.com/?a=1&copy=2&reg=3',
  'https://example.com/?x=1&lt=2&gt=3',
  'https://example.com/ünïcödé/päth?q=ß',
  'https://münchen.example/straße?x=ü',
  'https://例え.jp/パス?キー=値#フラグメント',
  'https://example.com/emoji/🎉?e=😀',
  'https://xn--mnchen-3ya.example/already-punycode',
  'https://example.com/tilde/~user/%7Euser',
  'https://example.com/?json=%7B%22a%22%3A1%7D',
  'https://example.com/?a=1;b=2',
  'https://example.com/trailing?',
  'https://example.com/trailing#',
  'https://example.com/?eq=a=b=c',
  'https://example.com/path/./../dots',
  'https://example.com/?q=%E2%82%AC&raw=€',
  'https://sub.domain.example.co.uk/deep/path/?a[]=1&a[]=2',
  'https://example.com/?x=1#section-2?not=query&a=b',
  'https://example.com/?q=<tag>',
  'https://example.com/app',
  'https://example.com/app?x=1',
];

/** How an author writes the URL in an HTML attribute: `&` and `"` escaped, the rest as is. */
const htmlEscaped = (url: string) => url.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
// Written raw, as authors do: `&copy=` and `&lt=` stay text in an attribute (legacy references
// followed by `=` are not decoded there), so a browser follows them as written.
const RAW_IN_HTML = new Set(['https://example.com/?a=1&copy=2&reg=3', 'https://example.com/?x=1&lt=2&gt=3']);

function corpusTemplate(): string {
  const links = CORPUS.map((url, index) => `  u${index}: ${JSON.stringify(url)}`).join('\n');
  const literal = CORPUS.map((url, index) => `<p><a href="${RAW_IN_HTML.has(url) ? url : htmlEscaped(url)}">L${index}</a></p>`).join('\n');
  const filled = CORPUS.map((_url, index) => `<p><a href="{{links.u${index}}}">F${index}</a></p>`).join('\n');
  return `---\nsubject: Links\nlinks:\n${links}\n---\n<mjml><mj-body><mj-section><mj-column>\n<mj-text>\n${literal}\n${filled}\n<p>{{company.postalAddress}} <a href="{{links.unsubscribe}}">Unsubscribe</a></p>\n</mj-text>\n<mj-button href="{{links.u0}}">B0</mj-button>\n</mj-column></mj-section></mj-body></mjml>\n`;
}

let t: TestApp;
let sink: MailSink;
let transport: MailTransport;
let delivery: EmailDelivery;
let dir: string;
let utm: { source: string; medium: string } | null = null;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'baton-links-'));
  await mkdir(path.join(dir, 'templates'));
  await writeFile(path.join(dir, 'templates', 'links.mjml'), corpusTemplate());
  const loaded = await loadTemplates(path.join(dir, 'templates'));
  if (!loaded.ok) throw new Error(JSON.stringify(loaded.problems));
  t = await createTestApp();
  sink = await startMailSink(t.database.db, createLogger('silent'));
  transport = createMailTransport(sink.url, null);
  const { leads, events, suppression, tracking, unsubscribeSigner } = t.services;
  delivery = createEmailDelivery({
    db: t.database.db,
    leads,
    events,
    suppression,
    templates: loaded.store,
    tracking,
    transport,
    unsubscribeSigner,
    worker: 'links-test',
    settings: { publicUrl: 'https://baton.test', mailFrom: 'Acme <hello@acme.example>', company: { name: 'Acme', postalAddress: '1 Main Street' } },
    utmFor: () => utm,
  });
});
afterAll(async () => {
  transport.close();
  await sink.close();
  await t.close();
  await rm(dir, { recursive: true, force: true });
});

async function sendCorpus(email: string, stepId = 'links'): Promise<ParsedMail> {
  const lead = await t.api.post('/api/leads').set(t.auth).send({ email });
  const row = await t.database.db
    .insertInto('enrollments')
    .values({ lead_id: lead.body.id, sequence_id: 'links-seq', sequence_version: 1 })
    .returning('id')
    .executeTakeFirstOrThrow();
  const [outcome] = await delivery.deliverMany([
    { enrollmentId: row.id, leadId: lead.body.id, sequence: { id: 'links-seq', name: 'Links' }, stepId, template: 'links' },
  ]);
  expect(outcome?.kind).toBe('sent');
  const caught = await t.database.db
    .selectFrom('dev_mail')
    .select('raw')
    .where((eb) => eb.fn('array_to_string', ['envelope_to', eb.val(',')]), '=', email)
    .executeTakeFirstOrThrow();
  return simpleParser(caught.raw);
}

/** label → the click path of its tracked link, from `<a href="…/c/…">label</a>` or `label [ …/c/… ]`. */
function trackedByLabel(mail: ParsedMail): { html: Map<string, string>; text: Map<string, string> } {
  const html = new Map<string, string>();
  for (const match of String(mail.html).matchAll(/<a\b[^>]*?\shref="https:\/\/baton\.test(\/c\/[^"]+)"[^>]*>([\s\S]*?)<\/a>/g)) {
    html.set((match[2] ?? '').replace(/<[^>]*>/g, '').trim(), match[1] ?? '');
  }
  const text = new Map<string, string>();
  for (const match of (mail.text ?? '').matchAll(/([LFB]\d+) \[https:\/\/baton\.test(\/c\/[^\]]+)\]/g)) text.set(match[1] ?? '', match[2] ?? '');
  return { html, text };
}

/** Follows a tracked link through the click route: the Location it answers. */
async function follow(clickPath: string): Promise<string> {
  const res = await t.api.get(clickPath);
  expect(res.status).toBe(302);
  return String(res.headers.location);
}

const ASCII = /^[\x21-\x7e]*$/;

/**
 * The redirect must be the template's URL. An HTTP header holds ASCII only: an ASCII URL must come
 * back byte for byte; a unicode one in its ASCII spelling (punycode host, UTF-8 percent-escapes),
 * which the WHATWG URL parser reads as the very same URL.
 */
function expectSameUrl(location: string, url: string, label: string): void {
  if (ASCII.test(url)) {
    expect({ label, location }).toEqual({ label, location: url });
  } else {
    expect({ label, ascii: ASCII.test(location), parsed: new URL(location).href }).toEqual({ label, ascii: true, parsed: new URL(url).href });
  }
}

describe('tracked links keep the template URL exactly', () => {
  it(`redirects each of ${CORPUS.length} awkward URLs, literal and filled in, from the HTML and the text part`, async () => {
    const mail = await sendCorpus('corpus@example.com');
    const { html, text } = trackedByLabel(mail);
    const labels = CORPUS.flatMap((_url, index) => [`L${index}`, `F${index}`]);
    expect([...html.keys()].sort()).toEqual([...labels, 'B0'].sort());
    expect([...text.keys()].sort()).toEqual([...labels, 'B0'].sort());
    for (const label of [...labels, 'B0']) {
      const url = CORPUS[Number(label.slice(1))] ?? '';
      expectSameUrl(await follow(html.get(label) ?? ''), url, `html ${label}`);
      expectSameUrl(await follow(text.get(label) ?? ''), url, `text ${label}`);
    }
    // What the click records (and reports show) is the template's text itself, unicode included.
    await t.services.tracking.close();
    const stored = await t.database.db.selectFrom('tracked_links').select('url').distinct().execute();
    expect(new Set(stored.map((row) => row.url))).toEqual(new Set(CORPUS));
    // The unsubscribe link is left alone in both parts.
    expect(String(mail.html)).toMatch(/href="https:\/\/baton\.test\/u\/[^"]+">Unsubscribe/);
    expect(mail.text).toMatch(/Unsubscribe \[https:\/\/baton\.test\/u\/[^\]]+\]/);
  });

  it("adds the sequence's UTM tags without replacing a parameter a link already has", async () => {
    utm = { source: 'newsletter', medium: 'email' };
    try {
      const mail = await sendCorpus('utm@example.com', 'step-two');
      const { html, text } = trackedByLabel(mail);
      const tags = 'utm_source=newsletter&utm_medium=email&utm_campaign=links-seq&utm_content=step-two';
      expect(await follow(html.get('L38') ?? '')).toBe(`https://example.com/app?${tags}`);
      expect(await follow(text.get('F39') ?? '')).toBe(`https://example.com/app?x=1&${tags}`);
      // Already tagged: utm_source and utm_campaign stay, the two missing ones are added.
      expect(await follow(html.get('F0') ?? '')).toBe('https://example.com/app?utm_source=baton&utm_campaign=trial&utm_medium=email&utm_content=step-two');
      // Before the fragment; an empty query gets no extra separator.
      expect(await follow(html.get('L1') ?? '')).toBe(`https://example.com/path?a=1&b=2&c=3&${tags}#frag`);
      expect(await follow(text.get('L30') ?? '')).toBe(`https://example.com/trailing?${tags}`);
      expect(await follow(text.get('L2') ?? '')).toBe(`https://example.com/?${tags}#/route?x=1&y=2`);
    } finally {
      utm = null;
    }
  });
});
