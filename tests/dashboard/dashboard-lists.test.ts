import { randomUUID } from 'node:crypto';
import request from 'supertest';
import { insertHandoff } from '../../src/handoff/handoff.repository.js';
import { sampleBriefing } from '../../src/handoff/sample-briefing.js';
import { REP_API_KEY, startRepDashboard, type RepDashboard } from '../helpers/rep-dashboard.js';
import { until } from '../helpers/until.js';

/*
 * The dashboard's lists past one page: leads (newest first and by score, with score, grade and
 * stage columns) and a rep's handoff inbox, 50 rows a page with keyset "Next page" links.
 */

let t: RepDashboard;
let admin = '';
const EXTRA = 60;

beforeAll(async () => {
  t = await startRepDashboard();
  const db = t.baton.database.db;
  // 60 more leads, scored 0..59 with a spread of grades; each with a handoff to Alex.
  for (let index = 0; index < EXTRA; index++) {
    const created = await t.api
      .post('/api/leads')
      .set(t.auth)
      .send({ email: `lead${String(index).padStart(2, '0')}@list.test`, firstName: `Lead${index}`, tags: ['no-nurture'] });
    const leadId: string = created.body.id;
    await db
      .insertInto('lead_scores')
      .values({ lead_id: leadId, total: index, engagement: index, fit: 0, grade: ['A', 'B', 'C', 'D'][index % 4] ?? 'D', stage: 'lead' })
      .onConflict((conflict) => conflict.column('lead_id').doUpdateSet({ total: index, grade: ['A', 'B', 'C', 'D'][index % 4] ?? 'D' }))
      .execute();
    const now = new Date(Date.now() - (EXTRA - index) * 1000);
    await insertHandoff(db, {
      id: randomUUID(),
      leadId,
      repId: 'alex',
      assignment: {},
      score: { total: index },
      briefing: { ...sampleBriefing({ now, publicUrl: 'http://localhost:0' }), leadId },
      now,
    });
  }
  // Creating a lead queues it for scoring; a worker that rescored one between two page loads
  // would move it across the pages. Set the scores again until the queue is drained and two
  // checks in a row find every score as set (a rescoring claimed just before is then written).
  const pool = t.baton.database.pool;
  let settledChecks = 0;
  await until(
    async () => {
      const pending = Number((await pool.query<{ count: string }>('select count(*) from score_queue')).rows[0]?.count ?? 0);
      const moved = await pool.query(
        `update lead_scores s set total = n, engagement = n, grade = (array['A','B','C','D'])[n % 4 + 1], stage = 'lead'
           from (select id, substring(email from 5 for 2)::int as n from leads where email like 'lead%@list.test') l
          where s.lead_id = l.id and (s.total <> n or s.stage <> 'lead')`,
      );
      settledChecks = pending === 0 && moved.rowCount === 0 ? settledChecks + 1 : 0;
      return settledChecks;
    },
    (checks) => checks >= 2,
    60_000,
  );
  const login = await request(t.url).post('/dashboard/login').type('form').send({ key: REP_API_KEY });
  admin = (login.headers['set-cookie'] as unknown as string[])[0]?.split(';')[0] ?? '';
}, 180_000);

afterAll(async () => {
  await t?.close();
});

const rowsOf = (html: string) =>
  [
    ...html.matchAll(
      /<tr><td><a href="\/dashboard\/leads\/[0-9a-f-]+">([^<]+)<\/a><\/td><td>[^<]*<\/td><td>[^<]*<\/td><td>([^<]+)<\/td><td>([^<]+)<\/td><td>([^<]+)<\/td>/g,
    ),
  ].map((match) => ({ email: match[1] ?? '', score: match[2] ?? '', grade: match[3] ?? '', stage: match[4] ?? '' }));
const nextOf = (html: string) =>
  /<a href="([^"]+)" rel="next">/
    .exec(html)?.[1]
    ?.replace(/&amp;/g, '&')
    .replace(/&#x3D;/g, '=') ?? null;

async function allPages(first: string, cookie: string) {
  const pages: string[] = [];
  let next: string | null = first;
  while (next) {
    const res = await request(t.url).get(next).set('Cookie', cookie);
    expect(res.status).toBe(200);
    pages.push(res.text);
    next = nextOf(res.text);
    expect(pages.length).toBeLessThan(5);
  }
  return pages;
}

describe('the dashboard lists past 50 rows', () => {
  it('pages the leads by score, highest first, with score, grade and stage, and no row twice', async () => {
    const pages = await allPages('/dashboard/leads?sort=score', admin);
    expect(pages).toHaveLength(2);
    const rows = pages.flatMap(rowsOf);
    expect(rowsOf(pages[0] ?? '')).toHaveLength(50);
    expect(rows).toHaveLength(EXTRA + 2);
    expect(new Set(rows.map((row) => row.email)).size).toBe(rows.length);
    const scores = rows.map((row) => Number(row.score));
    expect(scores).toEqual([...scores].sort((a, b) => b - a));
    expect(rows[0]).toEqual({ email: expect.stringMatching(/@(navy|sorbonne)\.test$/), score: '60', grade: 'D', stage: 'mql' });
    expect(rows.find((row) => row.email === 'lead57@list.test')).toEqual({ email: 'lead57@list.test', score: '57', grade: 'B', stage: 'lead' });
  });

  it('pages the leads newest first by default', async () => {
    const rows = (await allPages('/dashboard/leads', admin)).flatMap(rowsOf);
    expect(rows).toHaveLength(EXTRA + 2);
    expect(rows[0]?.email).toBe('lead59@list.test');
    expect(rows.at(-1)?.email).toBe('grace@navy.test');
  });

  it("pages a rep's handoff inbox, only theirs", async () => {
    // Alex signs in with a link from his mail.
    await request(t.url).post('/dashboard/login/link').type('form').send({ email: 'alex@sales.test' });
    const mail = await t.waitForMails('alex@sales.test', 2, 40_000).then((mails) => mails.find((message) => /sign-in link/i.test(message.subject ?? '')));
    const link = new URL(/https?:\/\/\S+\/dashboard\/sign-in\/\S+/.exec(mail?.text ?? '')?.[0] ?? '').pathname;
    const signedIn = await request(t.url).post(link);
    const rep = (signedIn.headers['set-cookie'] as unknown as string[])[0]?.split(';')[0] ?? '';
    const pages = await allPages('/dashboard/handoffs', rep);
    const count = (html: string) => (html.match(/<article class="card handoff">/g) ?? []).length;
    expect(pages.map(count)).toEqual([50, EXTRA + 1 - 50]);
    expect(pages.join('')).not.toContain('Marie Curie');
  });

  it('refuses a cursor it did not write with a clear page', async () => {
    for (const path of ['/dashboard/leads?sort=score&cursor=bm9wZQ', '/dashboard/handoffs?cursor=bm9wZQ']) {
      const res = await request(t.url).get(path).set('Cookie', admin);
      expect([path, res.status]).toEqual([path, 400]);
      expect(res.text).toContain('not valid');
    }
  });
});
