import { accountDomainOf, emailDomain, MAX_ACCOUNT_PEOPLE, WEBMAIL_DOMAINS } from '../../src/accounts/account.js';
import { accountAround } from '../../src/accounts/accounts.service.js';
import { toLead, type LeadRow } from '../../src/leads/lead.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

describe('accounts by company email domain', () => {
  it.each<[string, string, string | null]>([
    ['a company address', 'ada@globex.com', 'globex.com'],
    ['the same company whatever the case', 'Grace@GLOBEX.com', 'globex.com'],
    ['a subdomain as its own account', 'tim@eu.globex.com', 'eu.globex.com'],
    ['the part after the last @', '"odd@name"@initech.io', 'initech.io'],
    ['no account for gmail', 'ada@gmail.com', null],
    ['no account for webmail whatever the case', 'ada@Outlook.COM', null],
    ['no account for proton', 'ada@proton.me', null],
    ['no account for a regional webmail', 'ada@yahoo.co.uk', null],
    ['no account without a domain', 'ada@', null],
    ['no account without an @', 'ada', null],
  ])('%s', (_case, email, expected) => {
    expect(accountDomainOf(email)).toBe(expected);
  });

  it.each([
    'yahoo.co.jp',
    'yahoo.es',
    'yahoo.it',
    'yahoo.ca',
    'hotmail.it',
    'hotmail.es',
    'outlook.de',
    'outlook.it',
    'live.de',
    'live.nl',
    'protonmail.ch',
    'inbox.ru',
    'bk.ru',
    'list.ru',
    'ya.ru',
    'naver.com',
    'hanmail.net',
    'daum.net',
    'rediffmail.com',
    'seznam.cz',
    'wp.pl',
    'o2.pl',
    'onet.pl',
    'interia.pl',
    'bigpond.com',
    'shaw.ca',
    'rogers.com',
    'sympatico.ca',
    'cox.net',
    'charter.net',
    'foxmail.com',
    'sina.com',
    'posteo.de',
    'mailbox.org',
    'gmx.at',
    'gmx.ch',
    'freenet.de',
    'virgilio.it',
    'tiscali.it',
    'sky.com',
    'virginmedia.com',
    'ntlworld.com',
  ])('no account for the regional or ISP mailbox %s', (domain) => {
    expect(accountDomainOf(`someone@${domain}`)).toBeNull();
  });

  it('keeps the webmail list lower case, so that lookups by lower-cased domain find every entry', () => {
    expect([...WEBMAIL_DOMAINS].filter((domain) => domain !== domain.toLowerCase() || emailDomain(`x@${domain}`) !== domain)).toEqual([]);
  });

  it('covers the free-webmail domains of the shipped scoring.yaml', async () => {
    const { readFile } = await import('node:fs/promises');
    const scoring = await readFile(new URL('../../scoring.yaml', import.meta.url), 'utf8');
    const listed =
      /id: free-webmail,[^\n]*email_domain_in: \[([^\]]+)\]/
        .exec(scoring)?.[1]
        ?.split(',')
        .map((domain) => domain.trim()) ?? [];
    expect(listed.length).toBeGreaterThan(3);
    expect(listed.filter((domain) => !WEBMAIL_DOMAINS.has(domain))).toEqual([]);
  });
});

describe('the account around a lead, from the database', () => {
  const NOW = new Date();
  const recently = new Date(NOW.getTime() - 2 * 86_400_000);
  let database: TestDatabase;
  beforeAll(async () => {
    database = await createTestDatabase();
  }, 300_000);
  afterAll(async () => {
    await database?.drop();
  });

  const query = async <Row extends Record<string, unknown>>(text: string, values: unknown[] = []) => (await database.pool.query<Row>(text, values)).rows;
  /** A lead at `email`, scored lately with `engagement` points at `stage`, with one recent page view. */
  async function person(email: string, engagement: number, options: { stage?: string; unsubscribed?: boolean } = {}): Promise<LeadRow> {
    const [row] = await query<LeadRow>(`insert into leads (email, unsubscribed_at) values ($1, $2) returning *`, [
      email,
      options.unsubscribed ? recently : null,
    ]);
    if (!row) throw new Error('no lead');
    await query(`insert into lead_scores (lead_id, stage, engagement, total, scored_at) values ($1, $2, $3, $3, $4)`, [
      row.id,
      options.stage ?? 'lead',
      engagement,
      recently,
    ]);
    await query(`insert into events (lead_id, type, properties, occurred_at) values ($1, 'page_view', '{"path":"/pricing"}', $2)`, [row.id, recently]);
    return row;
  }

  it('leaves out of the buying group and the counts the people who unsubscribed and those sales disqualified', async () => {
    const lead = await person('lead@acme.test', 5);
    await person('active@acme.test', 10);
    await person('unsubscribed@acme.test', 20, { unsubscribed: true });
    await person('disqualified@acme.test', 40, { stage: 'disqualified' });
    const account = await accountAround(database.db, toLead(lead), NOW, 3);
    expect(account).toMatchObject({ domain: 'acme.test', otherPeople: 1, otherEngagement: 10 });
    expect(account?.people.map((buyer) => buyer.email)).toEqual(['active@acme.test']);
  });

  it(`treats a domain with more than MAX_ACCOUNT_PEOPLE (${MAX_ACCOUNT_PEOPLE}) leads as webmail`, async () => {
    const lead = await person('one@bigmail.test', 5);
    await person('two@bigmail.test', 10);
    await person('three@bigmail.test', 10);
    expect(await accountAround(database.db, toLead(lead), NOW, 3, 2)).toBeNull();
    expect(await accountAround(database.db, toLead(lead), NOW, 3, 3)).toMatchObject({ domain: 'bigmail.test', otherPeople: 2 });
  });
});
