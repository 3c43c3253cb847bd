import request from 'supertest';
import { createApp } from '../../src/app.js';
import { createHandoffService, type HandoffService } from '../../src/handoff/handoff.service.js';
import { parseSalesTeam } from '../../src/handoff/sales-team.js';
import { createLogger } from '../../src/platform/logger.js';
import { createTokenSigner } from '../../src/platform/signing.js';
import { parseScoringConfig } from '../../src/scoring/scoring-config.js';
import { createScoringService, type ScoringService } from '../../src/scoring/scoring.service.js';
import { createServices, type Services } from '../../src/services.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/*
 * A convert with the deal's value and currency, through the API and through the signed link in the
 * rep's email, on a lead handed off by the real scoring and handoff services: the stage history
 * the triggers record, the value the report sums, and 400s naming the field for a bad deal.
 */

const SECRET = 'convert-deal-secret-0123456789abcdef';
const API_KEY = 'convert-deal-api-key-0123456789abcdef';
const scoringFile = parseScoringConfig(`behaviour:
  - { id: demo, event: form_submit, where: { form: demo }, points: 60 }
lifecycle:
  mql: { engagement: 50 }
`);
const team = parseSalesTeam(`fallback_owner: alex
reps:
  - { id: alex, name: Alex, email: alex@sales.test }
`);

let database: TestDatabase;
let services: Services;
let scoring: ScoringService;
let handoffs: HandoffService;
let api: ReturnType<typeof request>;
const auth = { Authorization: `Bearer ${API_KEY}` };

beforeAll(async () => {
  if (!scoringFile.ok || !team.ok) throw new Error('fixture files do not parse');
  database = await createTestDatabase();
  const logger = createLogger('silent');
  services = await createServices(database.db, { secret: SECRET, publicUrl: 'https://baton.test', logger });
  const config = scoringFile.config;
  handoffs = createHandoffService({
    db: database.db,
    leads: services.leads,
    team: team.team,
    scoring: () => scoring,
    config,
    sequenceName: (id) => id,
    enroll: () => Promise.resolve({ kind: 'unknown_sequence' }),
    notifier: { send: () => Promise.reject(new Error('this test sends nothing')) },
    webhooks: [],
    linkSigner: createTokenSigner(SECRET, 'handoff'),
    publicUrl: 'https://baton.test',
    logger,
  });
  scoring = createScoringService({
    db: database.db,
    leads: services.leads,
    config,
    logger,
    onMarketingQualified: (leadId, score, from, now, cause, known) => handoffs.handOff(leadId, score, from, now, cause, known),
  });
  api = request(createApp({ apiKey: API_KEY, companyName: 'Acme', logger, services, pingDatabase: database.ping, scoring: { scoring, handoffs } }));
});

afterAll(async () => {
  await services.tracking.close();
  await database.drop();
});

/** A lead that asks for a demo, rescored as the worker would: handed off to alex. Returns the handoff id. */
async function handedOffLead(email: string): Promise<{ leadId: string; handoffId: string }> {
  const lead = (await api.post('/api/leads').set(auth).send({ email, source: 'webinar' }).expect(201)).body as { id: string };
  await api
    .post('/api/events')
    .set(auth)
    .send({ leadId: lead.id, type: 'form_submit', properties: { form: 'demo' } })
    .expect(202);
  await scoring.rescore(lead.id, new Date(), 'event');
  const list = (await api.get('/api/handoffs').query({ leadId: lead.id }).set(auth).expect(200)).body as { items: Array<{ id: string }> };
  const handoffId = list.items[0]?.id;
  if (!handoffId) throw new Error('the lead was not handed off');
  return { leadId: lead.id, handoffId };
}

describe('POST /api/handoffs/:id/convert with a deal', () => {
  it('stores the value and currency, and the history shows subscriber → MQL → customer with causes and rep', async () => {
    const { leadId, handoffId } = await handedOffLead('deal@acme.test');
    const res = await api.post(`/api/handoffs/${handoffId}/convert`).set(auth).send({ value: 1200.5, currency: 'eur' });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ status: 'converted', deal: { value: 1200.5, currency: 'EUR' } });
    const { rows } = await database.pool.query(
      'select from_stage, to_stage, cause, rep_id, handoff_id from lifecycle_changes where lead_id = $1 order by at, id',
      [leadId],
    );
    expect(rows).toEqual([
      { from_stage: null, to_stage: 'subscriber', cause: 'created', rep_id: null, handoff_id: null },
      { from_stage: 'subscriber', to_stage: 'mql', cause: 'handoff', rep_id: 'alex', handoff_id: handoffId },
      { from_stage: 'mql', to_stage: 'customer', cause: 'converted', rep_id: 'alex', handoff_id: handoffId },
    ]);
  });

  it.each([
    [{ value: 10 }, 'currency'],
    [{ currency: 'EUR' }, 'value'],
    [{ value: 10, currency: 'EURO' }, 'currency'],
    [{ value: 10, currency: 'XYZ' }, 'currency'],
    [{ value: 1.5, currency: 'JPY' }, 'value'],
    [{ value: 12.345, currency: 'EUR' }, 'value'],
    [{ value: -3, currency: 'EUR' }, 'value'],
    [{ value: 'lots', currency: 'EUR' }, 'value'],
  ])('refuses %j with 400 naming %s, and changes nothing', async (body, field) => {
    const { handoffId } = await handedOffLead(`bad-${field}-${JSON.stringify(body).length}-${Math.random().toString(36).slice(2, 8)}@acme.test`);
    const res = await api.post(`/api/handoffs/${handoffId}/convert`).set(auth).send(body);
    expect(res.status).toBe(400);
    expect(res.body.error.details).toEqual([expect.objectContaining({ field, location: 'body' })]);
    expect(res.body.error.message).toContain(field);
    expect((await api.get(`/api/handoffs/${handoffId}`).set(auth)).body).toMatchObject({ status: 'pending', deal: null });
  });

  it('takes the value later, once, when the first convert had none', async () => {
    const { handoffId } = await handedOffLead('later@acme.test');
    await api.post(`/api/handoffs/${handoffId}/convert`).set(auth).send({}).expect(200);
    expect((await api.post(`/api/handoffs/${handoffId}/convert`).set(auth).send({ value: 5000, currency: 'JPY' }).expect(200)).body.deal).toEqual({
      value: 5000,
      currency: 'JPY',
    });
    expect((await api.post(`/api/handoffs/${handoffId}/convert`).set(auth).send({ value: 1, currency: 'JPY' }).expect(200)).body.deal).toEqual({
      value: 5000,
      currency: 'JPY',
    });
  });
});

describe("the convert link in the rep's email", () => {
  it('asks for the deal, stores it, and refuses a bad currency with nothing changed', async () => {
    const { handoffId } = await handedOffLead('link@acme.test');
    const token = handoffs.actionLink(handoffId, 'convert', 'alex', new Date()).slice('https://baton.test'.length);
    const page = await api.get(token);
    expect(page.status).toBe(200);
    expect(page.text).toContain('name="value"');
    expect(page.text).toContain('name="currency"');
    const bad = await api.post(token).type('form').send({ value: '990', currency: 'XXQ' });
    expect(bad.status).toBe(400);
    expect(bad.text).toContain('currency');
    expect((await api.get(`/api/handoffs/${handoffId}`).set(auth)).body.status).toBe('pending');
    const done = await api.post(token).type('form').send({ value: '990', currency: 'usd' });
    expect(done.status).toBe(200);
    expect((await api.get(`/api/handoffs/${handoffId}`).set(auth)).body).toMatchObject({ status: 'converted', deal: { value: 990, currency: 'USD' } });
  });

  it('puts every converted value in the funnel report, per currency', async () => {
    const body = (await api.get('/api/reports/funnel').set(auth).expect(200)).body as {
      total: { value: Record<string, number>; stages: Record<string, number> };
    };
    expect(body.total.value).toEqual({ EUR: 1200.5, JPY: 5000, USD: 990 });
    expect(body.total.stages.customer).toBe(3);
  });
});
