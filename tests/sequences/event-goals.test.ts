import { eventsHappened, replaceSequenceGoals } from '../../src/enrollments/enrollments.repository.js';
import { goalInterests } from '../../src/sequences/triggers.js';
import { parseSequence } from '../../src/sequences/sequence-loader.js';
import type { TemplateCatalogue } from '../../src/sequences/sequence-checks.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';

/*
 * Goals reached by the event itself (migration 0009): the statement trigger on events ends the
 * active enrollments whose goal an inserted event matches, in the event's own transaction.
 */

let database: TestDatabase;
const templates: TemplateCatalogue = { has: (name) => name === 'welcome', names: () => ['welcome'] };

const nurture = `id: nurture
name: Nurture
version: 1
entry:
  trigger: { type: manual }
goals:
  - { event: form_submit, where: { form: demo } }
  - { event: email_clicked }
steps:
  - id: welcome
    email: welcome
  - id: wait-for-webinar
    goal: { event: webinar_attended, within: 5d }
  - id: later
    wait: 1d
`;

const other = `id: other
name: Other
version: 1
entry:
  trigger: { type: manual }
steps:
  - id: only
    wait: 1d
`;

beforeAll(async () => {
  database = await createTestDatabase();
  const sequences = [nurture, other].map((text, index) => {
    const parsed = parseSequence(text, `s${index}.yaml`, templates);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed));
    return parsed.sequence;
  });
  await replaceSequenceGoals(database.db, goalInterests(sequences));
}, 300_000);

afterAll(async () => {
  await database.drop();
});

const query = async <Row extends Record<string, unknown>>(text: string, values: unknown[] = []) => (await database.pool.query<Row>(text, values)).rows;

let counter = 0;
/** A lead with an active enrollment in `sequenceId` at `step`, entered and at the step since the given minutes ago. */
async function enrolled(sequenceId: string, step: string, enteredMinutesAgo: number, atStepMinutesAgo = enteredMinutesAgo): Promise<{ leadId: string; enrollmentId: string }> {
  const [lead] = await query<{ id: string }>('insert into leads (email) values ($1) returning id', [`goal${++counter}@example.com`]);
  const [enrollment] = await query<{ id: string }>(
    `insert into enrollments (lead_id, sequence_id, sequence_version, current_step, entered_at, step_entered_at)
     values ($1, $2, 1, $3, now() - make_interval(mins => $4), now() - make_interval(mins => $5)) returning id`,
    [lead?.id, sequenceId, step, enteredMinutesAgo, atStepMinutesAgo],
  );
  return { leadId: lead?.id ?? '', enrollmentId: enrollment?.id ?? '' };
}

async function statusOf(enrollmentId: string) {
  const [row] = await query<{ status: string; exit_reason: string | null }>('select status, exit_reason from enrollments where id = $1', [enrollmentId]);
  return row;
}

describe('goals reached when their event is recorded', () => {
  it.each<[string, string, string, number, number, string, Record<string, unknown>, number, { status: string; exit_reason: string | null }]>([
    ['a sequence goal', 'nurture', 'welcome', 60, 60, 'form_submit', { form: 'demo' }, 0, { status: 'converted', exit_reason: 'goal form_submit' }],
    ['a sequence goal whatever the step', 'nurture', 'later', 60, 5, 'form_submit', { form: 'demo', page: '/book' }, 0, { status: 'converted', exit_reason: 'goal form_submit' }],
    ['no sequence goal by an event from before the entry', 'nurture', 'welcome', 60, 60, 'form_submit', { form: 'demo' }, 61, { status: 'active', exit_reason: null }],
    ['no sequence goal by other properties', 'nurture', 'welcome', 60, 60, 'form_submit', { form: 'newsletter' }, 0, { status: 'active', exit_reason: null }],
    ['a goal step the enrollment is at', 'nurture', 'wait-for-webinar', 60, 30, 'webinar_attended', {}, 0, { status: 'converted', exit_reason: 'goal webinar_attended' }],
    ['no goal step by an event from before the step', 'nurture', 'wait-for-webinar', 60, 30, 'webinar_attended', {}, 31, { status: 'active', exit_reason: null }],
    ['no goal step the enrollment is not at', 'nurture', 'later', 60, 30, 'webinar_attended', {}, 0, { status: 'active', exit_reason: null }],
    ['nothing in a sequence without that goal', 'other', 'only', 60, 60, 'form_submit', { form: 'demo' }, 0, { status: 'active', exit_reason: null }],
  ])('%s', async (_case, sequenceId, step, entered, atStep, type, properties, eventMinutesAgo, expected) => {
    const { leadId, enrollmentId } = await enrolled(sequenceId, step, entered, atStep);
    await query('insert into events (lead_id, type, properties, occurred_at) values ($1, $2, $3, now() - make_interval(mins => $4))', [leadId, type, JSON.stringify(properties), eventMinutesAgo]);
    expect(await statusOf(enrollmentId)).toEqual(expected);
  });

  it('converts every enrollment a batch of events reaches, in one statement, and leaves ended ones alone', async () => {
    const first = await enrolled('nurture', 'welcome', 10);
    const second = await enrolled('nurture', 'later', 10);
    const ended = await enrolled('nurture', 'welcome', 10);
    await query(`update enrollments set status = 'exited', exit_reason = 'the lead unsubscribed', ended_at = now() where id = $1`, [ended.enrollmentId]);
    await query(
      `insert into events (lead_id, type, properties, occurred_at)
       select lead_id, 'form_submit', '{"form":"demo"}'::jsonb, now() from unnest($1::uuid[]) as lead_id`,
      [[first.leadId, second.leadId, ended.leadId, first.leadId]],
    );
    expect(await statusOf(first.enrollmentId)).toEqual({ status: 'converted', exit_reason: 'goal form_submit' });
    expect(await statusOf(second.enrollmentId)).toEqual({ status: 'converted', exit_reason: 'goal form_submit' });
    expect(await statusOf(ended.enrollmentId)).toEqual({ status: 'exited', exit_reason: 'the lead unsubscribed' });
  });

  it('does not convert by a machine event (a mail scanner\'s click), in the trigger nor in the poll', async () => {
    const { leadId, enrollmentId } = await enrolled('nurture', 'welcome', 10);
    await query(`insert into events (lead_id, type, properties, occurred_at) values ($1, 'email_clicked', '{"url":"https://example.com","machine":true}', now())`, [leadId]);
    expect(await statusOf(enrollmentId)).toEqual({ status: 'active', exit_reason: null });
    const since = new Date(Date.now() - 60 * 60_000);
    expect(await eventsHappened(database.db, [{ leadId, type: 'email_clicked', where: undefined, since }])).toEqual(new Set());

    await query(`insert into events (lead_id, type, properties, occurred_at) values ($1, 'email_clicked', '{"url":"https://example.com","machine":false}', now())`, [leadId]);
    expect(await statusOf(enrollmentId)).toEqual({ status: 'converted', exit_reason: 'goal email_clicked' });
    expect(await eventsHappened(database.db, [{ leadId, type: 'email_clicked', where: undefined, since }])).toEqual(new Set([0]));
  });

  it('rolls the conversion back with the event', async () => {
    const { leadId, enrollmentId } = await enrolled('nurture', 'welcome', 10);
    const client = await database.pool.connect();
    try {
      await client.query('begin');
      await client.query(`insert into events (lead_id, type, properties, occurred_at) values ($1, 'form_submit', '{"form":"demo"}', now())`, [leadId]);
      await client.query('rollback');
    } finally {
      client.release();
    }
    expect(await statusOf(enrollmentId)).toEqual({ status: 'active', exit_reason: null });
  });
});
