import { parse } from 'csv-parse/sync';
import { createTestApp, type TestApp } from './helpers/test-app.js';

let t: TestApp;
beforeAll(async () => {
  t = await createTestApp();
});
afterAll(async () => {
  await t.close();
});

const importCsv = (csv: string) => t.api.post('/api/leads/import').set(t.auth).set('Content-Type', 'text/csv').send(csv);

describe('POST /api/leads/import', () => {
  it('creates and updates leads and reports each rejected row with its line and reason', async () => {
    await t.api.post('/api/leads').set(t.auth).send({ email: 'existing@example.com', company: 'Kept Inc', unsubscribed: true }).expect(201);
    const csv = [
      'Email,First Name,last_name,Company,Time Zone,Country,Tags,Plan,unsubscribed',
      'ada@example.com,Ada,Lovelace,Analytical,Europe/London,gb,math;engines,pro,',
      'EXISTING@example.com,Ex,,,,,imported,,no',
      'broken-email,Bad,,,,,,,',
      'tz@example.com,T,,,Moon/Base,,,,',
      'extra@example.com,E,,,,,,,,,too,many',
      '',
      'ada@EXAMPLE.com,Augusta,,,,,,enterprise,',
    ].join('\n');
    const res = await importCsv(csv);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ rows: 6, created: 1, updated: 2, rejected: 3, rejectionsTruncated: false });
    expect(res.body.rejections).toEqual([
      { line: 4, email: 'broken-email', reason: 'email must be a valid email' },
      { line: 5, email: 'tz@example.com', reason: expect.stringContaining('timezone must be an IANA time zone') },
      { line: 6, email: null, reason: 'row has 12 cells but the header has 9 columns' },
    ]);

    const ada = (await t.api.get('/api/leads').query({ email: 'ada@example.com' }).set(t.auth)).body.items[0];
    expect(ada).toMatchObject({ firstName: 'Augusta', lastName: 'Lovelace', country: 'GB', tags: ['math', 'engines'], traits: { Plan: 'enterprise' } });
    const existing = (await t.api.get('/api/leads').query({ email: 'existing@example.com' }).set(t.auth)).body.items[0];
    expect(existing.company).toBe('Kept Inc');
    expect(existing.tags).toEqual(['imported']);
    expect(existing.unsubscribedAt).not.toBeNull();
  });

  it('never imports an erased address', async () => {
    const created = await t.api.post('/api/leads').set(t.auth).send({ email: 'gone@example.com' });
    await t.api.delete(`/api/leads/${created.body.id}`).set(t.auth).expect(204);
    const res = await importCsv('email\nGone@Example.com\nstill-here@example.com\n');
    expect(res.body).toMatchObject({ created: 1, rejected: 1 });
    expect(res.body.rejections[0]).toMatchObject({ line: 2, reason: expect.stringContaining('suppressed') });
  });

  it('accepts a multipart/form-data file upload', async () => {
    const res = await t.api.post('/api/leads/import').set(t.auth).attach('file', Buffer.from('email,company\nform@example.com,Upload Co\n'), 'leads.csv');
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ created: 1, rejected: 0 });
  });

  it('imports columns named after Object.prototype members as traits, and ignores __proto__ (issue 16)', async () => {
    const csv = ['email,constructor,__proto__,toString,hasOwnProperty,traits', 'proto@example.com,c,p,t,h,"{""valueOf"":1,""__proto__"":{""x"":1}}"'].join(
      '\n',
    );
    const res = await importCsv(csv);
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ rows: 1, created: 1, rejected: 0 });
    const lead = (await t.api.get('/api/leads').query({ email: 'proto@example.com' }).set(t.auth)).body.items[0];
    expect(lead.traits).toEqual({ constructor: 'c', toString: 't', hasOwnProperty: 'h', valueOf: 1 });
    expect(Object.keys(lead.traits)).not.toContain('__proto__');
  });

  it('answers a truncated multipart upload with 400 naming the problem (issue 16)', async () => {
    const boundary = 'baton-test-boundary';
    const rows = Array.from({ length: 50 }, (_, i) => `cut${i}@example.com,Cut Co`).join('\r\n');
    const whole = `--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="leads.csv"\r\nContent-Type: text/csv\r\n\r\nemail,company\r\n${rows}\r\n--${boundary}--\r\n`;
    const cut = whole.slice(0, whole.indexOf('cut30@'));
    const res = await t.api.post('/api/leads/import').set(t.auth).set('Content-Type', `multipart/form-data; boundary=${boundary}`).send(cut);
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({
      code: 'validation_failed',
      details: [{ field: 'file', location: 'body', message: expect.stringContaining('ended before the multipart body was complete') }],
    });
    expect(res.body.error.message).toMatch(
      /^Invalid upload: the upload ended before the multipart body was complete; rows before the cut were imported \(\d+ created, 0 updated\)$/,
    );
  });

  it('refuses a header without an email column', async () => {
    const res = await importCsv('name,company\nx,y\n');
    expect(res.status).toBe(400);
    expect(res.body.error).toMatchObject({ code: 'csv_malformed', message: expect.stringContaining('no email column') });
  });

  it('keeps the rows before a fault and says where the file broke', async () => {
    const rows = Array.from({ length: 5 }, (_, i) => `before${i}@example.com,ok`);
    const res = await importCsv(['email,company', ...rows, 'after@example.com,"unclosed', 'later@example.com,x'].join('\n'));
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('csv_malformed');
    expect(res.body.error.details).toMatchObject({ created: 5 });
    const kept = await t.api.get('/api/leads').query({ q: 'before' }).set(t.auth);
    expect(kept.body.items).toHaveLength(5);
  });

  it('refuses other media types', async () => {
    const res = await t.api.post('/api/leads/import').set(t.auth).set('Content-Type', 'application/json').send('{"email":"x@example.com"}');
    expect(res.status).toBe(415);
    expect(res.body.error.details[0].field).toBe('Content-Type');
  });

  it('reports an empty upload', async () => {
    const res = await importCsv('');
    expect(res.status).toBe(400);
    expect(res.body.error.message).toContain('empty');
  });
});

describe('GET /api/leads/export.csv', () => {
  it('escapes cells that a spreadsheet would run as formulas, and imports back unchanged', async () => {
    await t.api
      .post('/api/leads')
      .set(t.auth)
      .send({ email: 'formula@example.com', firstName: '=HYPERLINK("http://evil")', company: '@SUM(A1)', phone: '+1 555 0100', tags: ['export'] })
      .expect(201);
    const res = await t.api.get('/api/leads/export.csv').query({ tag: 'export' }).set(t.auth);
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/csv');
    const rows: Array<Record<string, string>> = parse(res.text, { columns: true });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({
      email: 'formula@example.com',
      first_name: `'=HYPERLINK("http://evil")`,
      company: "'@SUM(A1)",
      phone: "'+1 555 0100",
      tags: 'export',
    });

    const reimport = await importCsv(res.text);
    expect(reimport.body).toMatchObject({ updated: 1, rejected: 0 });
    const lead = (await t.api.get('/api/leads').query({ email: 'formula@example.com' }).set(t.auth)).body.items[0];
    expect(lead).toMatchObject({ firstName: '=HYPERLINK("http://evil")', company: '@SUM(A1)', phone: '+1 555 0100' });
  });

  it('exports every lead across internal pages', async () => {
    const csv = ['email', ...Array.from({ length: 2100 }, (_, i) => `bulk${i}@export.example.com`)].join('\n');
    expect((await importCsv(csv)).body.created).toBe(2100);
    const res = await t.api.get('/api/leads/export.csv').query({ q: 'export.example.com' }).set(t.auth);
    const rows: Array<Record<string, string>> = parse(res.text, { columns: true });
    expect(new Set(rows.map((row) => row.email)).size).toBe(2100);
  });
});
