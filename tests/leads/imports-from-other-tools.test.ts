import { readFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { parse } from 'csv-parse/sync';
import { createTestApp, type TestApp } from '../helpers/test-app.js';

/*
 * Files as HubSpot, Mailchimp and Excel write them (tests/fixtures/csv), through
 * POST /api/leads/import, and an export Excel reads as UTF-8.
 */

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const fixture = (name: string) => readFile(fileURLToPath(new URL(`../fixtures/csv/${name}`, import.meta.url)));
const importFile = async (name: string) =>
  t.api
    .post('/api/leads/import')
    .set(t.auth)
    .set('Content-Type', 'text/csv')
    .send(await fixture(name));
const lead = async (email: string) => (await t.api.get('/api/leads').query({ email }).set(t.auth)).body.items[0];

describe('importing exports of other tools', () => {
  it('maps a HubSpot contacts export: its headers, country names, phone extensions kept as given', async () => {
    const res = await importFile('hubspot-contacts.csv');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ rows: 5, created: 4, rejected: 1 });
    expect(res.body.rejections).toEqual([{ line: 6, email: 'kenji.sato@example.jp', reason: expect.stringContaining('country') }]);
    expect(await lead('juergen.mueller@example.de')).toMatchObject({
      firstName: 'Jürgen',
      lastName: 'Müller',
      company: 'Müller & Söhne GmbH',
      title: 'Head of Sales',
      phone: '+49 30 1234567 ext. 12',
      country: 'DE',
      traits: {
        lifecycle_stage: 'Marketing Qualified Lead',
        lead_status: 'Open',
        owner: 'Sam Ortiz',
        city: 'Berlin',
        region: 'Berlin',
        company_size: '250',
        hubspot_id: '51234501',
        'Create Date': '2025-01-15 09:30',
      },
    });
    expect(await lead('chloe.dubois@example.fr')).toMatchObject({ phone: '01 42 68 53 00 x204', country: 'FR', traits: { region: 'Île-de-France' } });
    expect(await lead('pat.oneil@example.com')).toMatchObject({ phone: '(555) 010-7788 #3', country: 'US', company: 'Acme, Inc.' });
  });

  it('maps a Mailchimp audience export: quoted TAGS become tags, so a tag trigger fires', async () => {
    const res = await importFile('mailchimp-subscribed.csv');
    expect(res.body).toMatchObject({ rows: 3, created: 3, rejected: 0 });
    expect(await lead('ada@globex.test')).toMatchObject({
      firstName: 'Ada',
      lastName: 'Lovelace',
      company: 'Globex',
      phone: '+1 (555) 010-2030 ext. 42',
      timezone: 'America/Chicago',
      country: 'US',
      tags: ['webinar', 'trial'],
      traits: { member_rating: '4', optin_time: '2025-03-01 10:00:00', region: 'IL', LEID: '123456789' },
    });
    expect((await lead('grace@initech.test')).tags).toEqual(['newsletter']);
    expect(await lead('linus@example.org')).toMatchObject({ tags: [], country: 'FI', traits: { NOTES: 'met at FOSDEM' } });
  });

  it("records the opt-out of Mailchimp's unsubscribed export (UNSUB_TIME), never the reverse", async () => {
    const res = await importFile('mailchimp-unsubscribed.csv');
    expect(res.body).toMatchObject({ created: 1, rejected: 0 });
    expect((await lead('bob@globex.test')).unsubscribedAt).not.toBeNull();
  });

  it('detects a semicolon-separated file from Excel (BOM, CRLF, a quoted semicolon, commas in the tags cell)', async () => {
    const res = await importFile('excel-semicolon.csv');
    expect(res.body).toMatchObject({ rows: 2, created: 2, rejected: 0 });
    expect(await lead('lena.schmidt@example.de')).toMatchObject({
      firstName: 'Lena',
      company: 'Schmidt; Partner KG',
      phone: '+49 89 123456-0',
      tags: ['webinar', 'trial'],
    });
    expect(await lead('marc.weber@example.ch')).toMatchObject({ phone: '+41 44 668 18 00 ext 5', country: 'CH' });
  });

  it("follows Excel's sep=; hint line", async () => {
    const res = await importFile('excel-sep-hint.csv');
    expect(res.body).toMatchObject({ rows: 1, created: 1, rejected: 0 });
    expect(await lead('noemie@example.be')).toMatchObject({ firstName: 'Noémie', company: 'Brasserie Dupont' });
  });
});

describe('GET /api/leads/export.csv?bom=true', () => {
  it('starts with a UTF-8 byte order mark so Excel shows "Müller", and only when asked', async () => {
    const withBom = await t.api
      .get('/api/leads/export.csv')
      .query({ bom: 'true', q: 'juergen' })
      .set(t.auth)
      .buffer(true)
      .parse((response, done) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => done(null, Buffer.concat(chunks)));
      });
    expect(withBom.status).toBe(200);
    const bytes = withBom.body as Buffer;
    expect([...bytes.subarray(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const rows = parse(bytes, { bom: true, columns: true }) as Array<Record<string, string>>;
    expect(rows).toHaveLength(1);
    expect(rows[0]?.last_name).toBe('Müller');

    const plain = await t.api.get('/api/leads/export.csv').query({ q: 'juergen' }).set(t.auth);
    expect(plain.text.startsWith('id,email')).toBe(true);
    expect((await t.api.get('/api/leads/export.csv').query({ bom: 'maybe' }).set(t.auth)).body.error.details[0]).toMatchObject({ field: 'bom' });
  });
});
