import { createLogger } from '../../src/platform/logger.js';
import { createServices, type Services } from '../../src/services.js';
import { createHandoffService, type HandoffService } from '../../src/handoff/handoff.service.js';
import { parseSalesTeam } from '../../src/handoff/sales-team.js';
import { createTokenSigner } from '../../src/platform/signing.js';
import { parseScoringConfig, type ScoringConfig } from '../../src/scoring/scoring-config.js';
import { createScoringService, type ScoringService } from '../../src/scoring/scoring.service.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/*
 * Exactly one handoff per MQL when many rescorings race for one lead, against real Postgres (on the
 * server, truly concurrent transactions): the stage compare-and-set and the unique index on open
 * handoffs decide, not the queue that usually serialises them.
 */

const scoringFile = parseScoringConfig(`behaviour:
  - { id: demo, event: form_submit, where: { form: demo }, points: 60 }
lifecycle:
  mql: { engagement: 50 }
`);
const team = parseSalesTeam(`fallback_owner: alex
reps:
  - { id: alex, name: Alex, email: alex@sales.test, territories: [{ countries: [US] }] }
  - { id: sam, name: Sam, email: sam@sales.test, territories: [{ countries: [US] }] }
`);

let database: TestDatabase;
let services: Services;
let scoring: ScoringService;
let handoffs: HandoffService;

beforeAll(async () => {
  if (!scoringFile.ok || !team.ok) throw new Error('fixture files do not parse');
  database = await createTestDatabase({ poolSize: 20 });
  const logger = createLogger('silent');
  services = await createServices(database.db, { secret: 'exactly-once-secret-0123456789abcdef', publicUrl: 'https://baton.test', logger });
  const config: ScoringConfig = scoringFile.config;
  handoffs = createHandoffService({
    db: database.db,
    leads: services.leads,
    team: team.team,
    scoring: () => scoring,
    config,
    sequenceName: (id) => id,
    enroll: () => Promise.resolve({ kind: 'unknown_sequence' }),
    // Notifications are only queued here (the outbox); sending is tested end to end elsewhere.
    notifier: { send: () => Promise.reject(new Error('this test sends nothing')) },
    webhooks: [],
    linkSigner: createTokenSigner('exactly-once-secret-0123456789abcdef', 'handoff'),
    publicUrl: 'https://baton.test',
    logger,
  });
  scoring = createScoringService({ db: database.db, leads: services.leads, config, logger, onMarketingQualified: (leadId, score, from, now) => handoffs.handOff(leadId, score, from, now) });
});

afterAll(async () => {
  await services.tracking.close();
  await database.drop();
});

describe('a lead crossing the threshold', () => {
  it('is handed off once when 50 rescorings race', async () => {
    const created = await services.leads.upsert({ email: 'race@initech.test', country: 'US' });
    if (created.kind !== 'created') throw new Error(`lead not created: ${created.kind}`);
    const leadId = created.lead.id;
    await services.events.record(Array.from({ length: 50 }, () => ({ leadId, type: 'form_submit', properties: { form: 'demo' }, occurredAt: new Date() })));
    const now = new Date();
    const results = await Promise.all(Array.from({ length: 50 }, () => scoring.rescore(leadId, now, 'event')));
    expect(results.every((result) => result?.stage === 'mql')).toBe(true);
    const rows = await database.pool.query<{ rep_id: string }>('select rep_id from handoffs where lead_id = $1', [leadId]);
    expect(rows.rows).toEqual([{ rep_id: 'alex' }]);
    const notes = await database.pool.query('select channel, target from handoff_notifications');
    expect(notes.rows).toEqual([{ channel: 'email', target: 'alex@sales.test' }]);
  });

  it('round robins the next lead of the same pool to the other rep', async () => {
    const created = await services.leads.upsert({ email: 'next@initech.test', country: 'US' });
    if (created.kind !== 'created') throw new Error(`lead not created: ${created.kind}`);
    await services.events.record([{ leadId: created.lead.id, type: 'form_submit', properties: { form: 'demo' }, occurredAt: new Date() }]);
    await scoring.rescore(created.lead.id, new Date(), 'event');
    const rows = await database.pool.query<{ rep_id: string }>('select rep_id from handoffs where lead_id = $1', [created.lead.id]);
    expect(rows.rows).toEqual([{ rep_id: 'sam' }]);
  });
});
