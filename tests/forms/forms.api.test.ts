import { simpleParser } from 'mailparser';
import { findSendingStates } from '../../src/consent/consent.repository.js';
import { startFormsApp, type FormsApp } from '../helpers/forms-app.js';
import { until } from '../helpers/until.js';

/*
 * POST /forms/:id through HTTP over a real database and the embedded SMTP sink: the form page,
 * a submit from Baton's page, from the marketer's own site and as JSON, the bot defences, the
 * re-rendered errors, and double opt-in up to the confirmation.
 */

let f: FormsApp;
beforeAll(async () => {
  f = await startFormsApp();
});
afterAll(() => f.close());

let ip = 0;
/** Each test its own client address (the app trusts X-Forwarded-For from loopback), so rate limits stay apart. */
const client = () => `198.51.100.${++ip}`;
/** A fill-time token as the form page gave it ten seconds ago. */
const started = (formId: string) => f.forms.startedToken(formId, new Date(Date.now() - 10_000));
const post = (formId: string, from = client()) => f.api.post(`/forms/${formId}`).set('X-Forwarded-For', from);
const leadByEmail = async (email: string) =>
  (await f.t.api.get('/api/leads').query({ email }).set(f.t.auth)).body.items[0] as
    { id: string; tags: string[]; firstName: string | null; traits: Record<string, unknown>; consent: Record<string, unknown> | null } | undefined;
const timeline = async (leadId: string, type: string) =>
  (await f.t.api.get(`/api/leads/${leadId}/timeline`).query({ type }).set(f.t.auth)).body.items as Array<{ properties: Record<string, unknown> }>;

describe('GET /forms/:id', () => {
  it('serves an accessible form that works without scripts: labels, the consent wording, a fill-time token and a hidden honeypot', async () => {
    const res = await f.api.get('/forms/demo');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/html');
    expect(res.text).not.toContain('<script');
    expect(res.text).toContain('<form class="baton-form" method="post" action="/forms/demo" novalidate>');
    expect(res.text).toContain('<label for="field-email">Work email <span aria-hidden="true">*</span></label>');
    expect(res.text).toContain('id="field-email" name="email" required aria-required="true"');
    expect(res.text).toContain('Yes, Acme may also send me product news and guides by email.');
    expect(res.text).toMatch(/<input type="hidden" name="baton_started" value="[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+">/);
    expect(res.text).toContain('<div class="baton-trap" aria-hidden="true">');
  });

  it('answers 404 for a form there is not', async () => {
    expect((await f.api.get('/forms/nope')).status).toBe(404);
  });
});

describe('POST /forms/:id', () => {
  it('creates the lead from the demo form, with its tags and traits, and records form_submit with the form id', async () => {
    const res = await post('demo')
      .type('form')
      .send({
        baton_started: started('demo'),
        email: 'Zoe.Muller@Example.com',
        first_name: 'Zoë',
        company: 'Müller & Söhne',
        team_size: '11-50',
        message: 'Pricing for 20 reps?',
        consent: 'on',
        homepage: '',
      });
    expect(res.status).toBe(200);
    expect(res.text).toContain('A member of our team will contact you');
    expect(res.text.toLowerCase()).not.toContain('zoe.muller');
    const lead = await leadByEmail('zoe.muller@example.com');
    expect(lead).toMatchObject({
      firstName: 'Zoë',
      tags: ['demo-request'],
      traits: { team_size: '11-50', message: 'Pricing for 20 reps?' },
      consent: { status: 'granted', source: 'form:demo', text: 'demo-2026-12' },
    });
    expect(await timeline(lead?.id ?? '', 'form_submit')).toEqual([
      expect.objectContaining({ properties: { form: 'demo', consent: true, consentVersion: 'demo-2026-12' } }),
    ]);
  });

  it('re-renders the form with each error tied to its field and the values just typed, and stores nothing', async () => {
    const res = await post('demo')
      .type('form')
      .send({ baton_started: started('demo'), email: 'not-an-address', first_name: '', company: 'Globex', team_size: '9000' });
    expect(res.status).toBe(400);
    expect(res.text).toContain('role="alert"');
    expect(res.text).toContain('id="field-email" name="email" required aria-required="true" aria-invalid="true" aria-describedby="field-email-error"');
    expect(res.text).toContain('<p class="error" id="field-email-error">Work email: enter an email address such as name@example.com</p>');
    expect(res.text).toContain('<p class="error" id="field-first_name-error">First name is required</p>');
    expect(res.text).toContain('<p class="error" id="field-team_size-error">Sales team size: choose one of the options</p>');
    expect(res.text).toContain('value="not-an-address"');
    expect(res.text).toContain('value="Globex"');
    expect(await f.t.database.db.selectFrom('leads').select('id').where('company', '=', 'Globex').execute()).toEqual([]);
  });

  it('thanks a bot that filled the honeypot and stores nothing', async () => {
    const res = await post('demo')
      .type('form')
      .send({ baton_started: started('demo'), email: 'bot@example.com', first_name: 'Bot', company: 'Spam', homepage: 'http://spam.example' });
    expect(res.status).toBe(200);
    expect(res.text).toContain('Thank you');
    expect(await leadByEmail('bot@example.com')).toBeUndefined();
  });

  it('asks again, with a fresh token, when the form comes back sooner than its minimum fill time or without a token', async () => {
    const fast = await post('demo')
      .type('form')
      .send({ baton_started: f.forms.startedToken('demo', new Date()), email: 'fast@example.com', first_name: 'Fay', company: 'Quick' });
    expect(fast.status).toBe(400);
    expect(fast.text).toContain('That was quick!');
    expect(fast.text).toContain('value="fast@example.com"');
    const forged = await post('demo')
      .type('form')
      .send({
        baton_started: f.forms.startedToken('newsletter', new Date(Date.now() - 60_000)),
        email: 'fast@example.com',
        first_name: 'Fay',
        company: 'Quick',
      });
    expect(forged.status).toBe(400);
    const none = await post('demo').type('form').send({ email: 'fast@example.com', first_name: 'Fay', company: 'Quick' });
    expect(none.status).toBe(400);
    expect(await leadByEmail('fast@example.com')).toBeUndefined();
  });

  it("takes the marketer's own HTML form from an allowed origin (no token), redirects to its thank-you page and enrolls at once", async () => {
    const res = await post('contact-sales')
      .set('Origin', 'https://www.acme.example')
      .type('form')
      .send('email=ines%40globex.example&company=Globex&phone=%2B33+1+23+45+67+89+x12&country=fr&seats=25&call_me=on&utm_source=linkedin');
    expect(res.status).toBe(303);
    expect(res.headers.location).toBe('https://www.acme.example/thanks');
    expect(res.headers['access-control-allow-origin']).toBe('https://www.acme.example');
    const lead = await leadByEmail('ines@globex.example');
    expect(lead).toMatchObject({ tags: ['contact-sales'], traits: { seats: '25', call_me: true } });
    expect(f.enrolled).toContainEqual({ sequenceId: 're-engagement', leadId: lead?.id });
  });

  it('refuses a submit from a site that is not allowed (403), and answers its preflight without CORS headers', async () => {
    const res = await post('contact-sales').set('Origin', 'https://evil.example').type('form').send({ email: 'x@example.com' });
    expect(res.status).toBe(403);
    const preflight = await f.api.options('/forms/contact-sales').set('Origin', 'https://evil.example');
    expect(preflight.headers['access-control-allow-origin']).toBeUndefined();
    const allowed = await f.api.options('/forms/contact-sales').set('Origin', 'https://www.acme.example');
    expect(allowed.headers['access-control-allow-origin']).toBe('https://www.acme.example');
  });

  it('takes JSON and answers JSON: the thank-you, or every bad field named', async () => {
    const ok = await post('contact-sales').set('Origin', 'https://www.acme.example').send({ email: 'json@example.com', seats: 3 });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ ok: true, redirect: 'https://www.acme.example/thanks' });
    const bad = await post('contact-sales')
      .set('Origin', 'https://www.acme.example')
      .send({ email: ['a@example.com'], seats: 'many', country: 'France' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('validation_failed');
    expect(bad.body.error.details.map((detail: { field: string }) => detail.field).sort()).toEqual(['country', 'email', 'seats']);
  });

  it('gives a suppressed address the same thank-you as any other, and stores nothing', async () => {
    const lead = await f.t.api.post('/api/leads').set(f.t.auth).send({ email: 'erased@example.com' });
    await f.t.api.delete(`/api/leads/${lead.body.id}`).set(f.t.auth).expect(204);
    const res = await post('demo')
      .type('form')
      .send({ baton_started: started('demo'), email: 'erased@example.com', first_name: 'Eve', company: 'Gone' });
    expect(res.status).toBe(200);
    expect(res.text).toContain('A member of our team will contact you');
    expect(await leadByEmail('erased@example.com')).toBeUndefined();
  });

  it('answers 429 with Retry-After past ten submits from one address in ten minutes', async () => {
    const from = client();
    const statuses: number[] = [];
    for (let i = 0; i < 12; i++) statuses.push((await post('demo', from).type('form').send({ email: 'bad' })).status);
    expect(statuses.slice(0, 10)).toEqual(new Array(10).fill(400));
    expect(statuses.slice(10)).toEqual([429, 429]);
    const limited = await post('demo', from).send({ email: 'x@example.com' });
    expect(limited.status).toBe(429);
    expect(limited.body.error.code).toBe('form_rate_limited');
    expect(Number(limited.headers['retry-after'])).toBeGreaterThan(0);
    expect((await post('demo').type('form').send({ email: 'bad' })).status).toBe(400);
  });
});

describe('double opt-in', () => {
  it("mails a confirmation link whose GET confirms nothing; the button's POST confirms, grants consent, adds the tags and keeps the proof", async () => {
    const res = await post('newsletter', '203.0.113.9')
      .set('User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0')
      .type('form')
      .send({ baton_started: started('newsletter'), email: 'ana@example.com', first_name: 'Ana', consent: 'on' });
    expect(res.status).toBe(200);
    expect(res.text).toContain('press the button in it to confirm');
    const lead = await leadByEmail('ana@example.com');
    expect(lead).toMatchObject({ tags: [], consent: null });

    const mail = await until(
      async () =>
        (
          await f.t.database.db
            .selectFrom('dev_mail')
            .select('raw')
            .where((eb) => eb.fn('array_to_string', ['envelope_to', eb.val(',')]), '=', 'ana@example.com')
            .execute()
        )[0],
      (row) => row !== undefined,
    );
    const parsed = await simpleParser(mail?.raw ?? '');
    expect(parsed.subject).toBe('Please confirm your subscription to Acme Test');
    const link = /https:\/\/baton\.test(\/forms\/confirm\/[A-Za-z0-9_.-]+)/.exec(parsed.text ?? '')?.[1] ?? '';
    expect(link).not.toBe('');

    const page = await f.api.get(link);
    expect(page.status).toBe(200);
    expect(page.text).toContain('<form method="post"><button type="submit">Yes, confirm my subscription</button></form>');
    await f.api.get(link);
    const before = await f.t.database.db
      .selectFrom('opt_in_requests')
      .selectAll()
      .where('lead_id', '=', lead?.id ?? '')
      .execute();
    expect(before).toEqual([
      expect.objectContaining({
        form_id: 'newsletter',
        wording_version: 'newsletter-2026-12',
        requested_ip: '203.0.113.9',
        requested_user_agent: 'Mozilla/5.0 (X11; Linux x86_64) Firefox/133.0',
        confirmed_at: null,
      }),
    ]);

    const confirmed = await f.api.post(link).set('X-Forwarded-For', '203.0.113.10').set('User-Agent', 'Mobile Safari').type('form').send('');
    expect(confirmed.status).toBe(200);
    expect(confirmed.text).toContain('is confirmed');
    expect(await leadByEmail('ana@example.com')).toMatchObject({
      tags: ['newsletter'],
      consent: { status: 'granted', source: 'form:newsletter (double opt-in)', text: 'newsletter-2026-12' },
    });
    const exported = (await f.t.api.get(`/api/leads/${lead?.id}/export`).set(f.t.auth)).body;
    expect(exported.optIns).toEqual([
      expect.objectContaining({
        wording: "I want to receive Acme's monthly newsletter by email. I can unsubscribe at any time.",
        confirmed_ip: '203.0.113.10',
        confirmed_user_agent: 'Mobile Safari',
        confirmed_at: expect.any(String),
      }),
    ]);
    // A second press (or a scanner's replayed POST) changes nothing more.
    expect((await f.api.post(link).type('form').send('')).status).toBe(200);
    expect(await timeline(lead?.id ?? '', 'opt_in_confirmed')).toHaveLength(1);
  });

  it("holds back marketing email only for the lead the form created: an existing lead's email goes on until it confirms", async () => {
    const existing = (await f.t.api.post('/api/leads').set(f.t.auth).send({ email: 'customer@example.com', firstName: 'Cy' })).body as { id: string };
    for (const email of ['customer@example.com', 'newcomer@example.com']) {
      const res = await post('newsletter')
        .type('form')
        .send({ baton_started: started('newsletter'), email, first_name: 'X', consent: 'on' });
      expect(res.status).toBe(200);
    }
    const newcomer = await leadByEmail('newcomer@example.com');
    const states = await findSendingStates(f.t.database.db, [existing.id, String(newcomer?.id)]);
    // Anyone can type a customer's address into a form: that must not stop the customer's email.
    expect(states.get(existing.id)?.awaitingOptIn).toBe(false);
    expect(states.get(String(newcomer?.id))?.awaitingOptIn).toBe(true);
  });

  it('does not confirm with an altered link', async () => {
    const res = await f.api.get('/forms/confirm/eyJhIjoxfQ.AAAAAAAAAAAAAAAAAAAAAA');
    expect(res.status).toBe(404);
    expect((await f.api.post('/forms/confirm/eyJhIjoxfQ.AAAAAAAAAAAAAAAAAAAAAA').type('form').send('')).status).toBe(404);
  });
});
