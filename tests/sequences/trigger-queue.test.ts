import { createSequenceRunner, STEP_JOB, type JobQueue, type SequenceRunner } from '../../src/enrollments/sequence-runner.js';
import { drainTriggerQueue } from '../../src/enrollments/enrollments.repository.js';
import { createLogger } from '../../src/platform/logger.js';
import { insertJobs } from '../../src/platform/scheduler.js';
import { parseSequence } from '../../src/sequences/sequence-loader.js';
import type { Sequence } from '../../src/sequences/sequence.js';
import { startDeliverySetup, type DeliverySetup } from '../helpers/delivery-setup.js';
import type { TestApp } from '../helpers/test-app.js';

/*
 * The trigger queue between processes whose content differs, the way an api and workers of two
 * versions share one database during a rolling deploy: every process makes the database queue
 * what its content listens to, a worker leaves alone the changes only newer content wants, and a
 * trigger new to the database gets the changes of the last hour. And a killed worker's leased
 * changes go to another worker within seconds, while a live worker's lease holds.
 */

let setup: DeliverySetup;
let t: TestApp;

const sequenceFile = (id: string, trigger: string) => `id: ${id}
name: ${id}
version: 1
entry: { trigger: ${trigger} }
steps:
  - id: pause
    wait: 2d
  - id: done
    end: true
`;

function runnerFor(files: string[]): SequenceRunner {
  const sequences: Sequence[] = files.map((text) => {
    const parsed = parseSequence(text, 'test.yaml', setup.templates);
    if (!parsed.ok) throw new Error(JSON.stringify(parsed.problems));
    return parsed.sequence;
  });
  // Step jobs go into Agenda's table as Agenda's own schedule() would put them; no scheduler runs here.
  const queue: JobQueue = { schedule: (at, job) => insertJobs(t.database.db, STEP_JOB, [{ at, data: job }]) };
  return createSequenceRunner({
    db: t.database.db, leads: t.services.leads, delivery: setup.deliveryWith(), queue, logger: createLogger('silent'), sequences,
    isMarketing: () => true, frequencyCap: null,
    webhooks: { sender: { send: async () => ({ kind: 'refused', reason: 'no webhooks here' }) }, secrets: {}, retryDelayMs: () => null },
  });
}

const OLD = [sequenceFile('welcome', '{ type: lead_created }')];
const NEW = [...OLD, sequenceFile('vip', '{ type: tag_added, tag: vip }'), sequenceFile('demo', '{ type: event, event: demo_requested }')];

beforeAll(async () => {
  setup = await startDeliverySetup();
  t = setup.t;
});
afterAll(() => setup.close());
beforeEach(async () => {
  await t.database.pool.query('truncate trigger_interests, trigger_queue, leads cascade');
});

const query = async <Row>(text: string, values: unknown[] = []) => (await t.database.pool.query(text, values)).rows as Row[];
const createLead = async (email: string, tags: string[] = []) => (await t.api.post('/api/leads').set(t.auth).send({ email, tags }).expect(201)).body.id as string;
const enrollments = async () => (await query<{ sequence_id: string; email: string }>(
  'select e.sequence_id, l.email from enrollments e join leads l on l.id = e.lead_id order by 1, 2')).map((row) => `${row.sequence_id}:${row.email}`);
const queued = async () => (await query<{ kind: string; key: string; taken_by: string | null }>('select kind, key, taken_by from trigger_queue order by id'));
const drain = async (runner: SequenceRunner, worker: string) => {
  let handled = 0;
  for (let taken = -1; taken !== 0; handled += taken) taken = await runner.processTriggers(worker, new Date());
  return handled;
};

describe('triggers known from the start, in every role', () => {
  it('queues a lead tagged while only an api process with the trigger had run, and enrolls it once a worker runs', async () => {
    const api = runnerFor(NEW);
    await api.registerTriggers(new Date());
    await createLead('tagged-early@example.com', ['vip']);
    expect(await queued()).toEqual([{ kind: 'lead_created', key: '', taken_by: null }, { kind: 'tag_added', key: 'vip', taken_by: null }]);

    const worker = runnerFor(NEW);
    await worker.registerTriggers(new Date());
    expect(await drain(worker, 'worker-1')).toBe(2);
    expect(await enrollments()).toEqual(['vip:tagged-early@example.com', 'welcome:tagged-early@example.com']);
    expect(await queued()).toEqual([]);
  });

  it('leaves a change only newer content wants to a worker that has it, during a rolling deploy', async () => {
    const oldWorker = runnerFor(OLD);
    await oldWorker.registerTriggers(new Date());
    // The new version's api starts first and adds its triggers; the old worker keeps running.
    await runnerFor(NEW).registerTriggers(new Date());
    const leadId = await createLead('rolling@example.com');
    await t.api.post('/api/events').set(t.auth).send({ leadId, type: 'demo_requested' }).expect(202);
    expect(await drain(oldWorker, 'old-worker')).toBe(1);
    expect(await enrollments()).toEqual(['welcome:rolling@example.com']);
    expect(await queued()).toEqual([{ kind: 'event', key: 'demo_requested', taken_by: null }]);

    const newWorker = runnerFor(NEW);
    await newWorker.registerTriggers(new Date());
    expect(await drain(newWorker, 'new-worker')).toBe(1);
    expect(await enrollments()).toEqual(['demo:rolling@example.com', 'welcome:rolling@example.com']);
  });

  it('queues for a trigger new to the database the changes of the last hour that no process queued, each once', async () => {
    await runnerFor(OLD).registerTriggers(new Date());
    // Under the old content only: tags and events nobody listened to, one of each from two hours ago.
    const recent = await createLead('recent@example.com', ['vip']);
    await t.api.post('/api/events').set(t.auth).send({ leadId: recent, type: 'demo_requested' }).expect(202);
    const old = await createLead('long-ago@example.com', ['vip']);
    await t.api.post('/api/events').set(t.auth).send({ leadId: old, type: 'demo_requested' }).expect(202);
    await t.database.pool.query(`alter table events disable trigger user`);
    await t.database.pool.query(`update events set received_at = now() - interval '2 hours' where lead_id = $1`, [old]);
    await t.database.pool.query(`alter table events enable trigger user`);
    await t.database.pool.query(`update leads set updated_at = now() - interval '2 hours', created_at = now() - interval '2 hours' where id = $1`, [old]);
    await t.database.pool.query('delete from trigger_queue');

    const worker = runnerFor(NEW);
    await worker.registerTriggers(new Date());
    expect((await queued()).map((row) => `${row.kind}:${row.key}`).sort()).toEqual(['event:demo_requested', 'tag_added:vip']);
    // Known now: a second start replays nothing, and a new change is queued once, by the database.
    await runnerFor(NEW).registerTriggers(new Date());
    await t.api.post('/api/events').set(t.auth).send({ leadId: recent, type: 'demo_requested' }).expect(202);
    expect(await queued()).toHaveLength(3);
    expect(await drain(worker, 'worker-1')).toBe(3);
    expect(await enrollments()).toEqual(['demo:recent@example.com', 'vip:recent@example.com']);
  });

  it('drops an interest no process refreshed for an hour, with the changes queued only for it', async () => {
    await runnerFor(NEW).registerTriggers(new Date());
    await createLead('orphaned-tag@example.com', ['vip']);
    await t.database.pool.query(`update trigger_interests set refreshed_at = now() - interval '2 hours' where kind = 'tag_added'`);
    const oldWorker = runnerFor(OLD);
    await oldWorker.registerTriggers(new Date());
    expect((await query<{ kind: string }>('select kind from trigger_interests order by kind')).map((row) => row.kind)).toEqual(['event', 'lead_created']);
    expect(await queued()).toEqual([{ kind: 'lead_created', key: '', taken_by: null }]);
  });
});

describe('leases on queued changes', () => {
  it('gives a killed worker\'s leased changes to another worker within seconds', async () => {
    const worker = runnerFor(NEW);
    await worker.registerTriggers(new Date());
    await createLead('left-behind@example.com', ['vip']);
    // A worker leased them 20 seconds ago and was killed: it renews its lease no more.
    await t.database.pool.query(`update trigger_queue set taken_by = 'killed-worker', taken_at = now() - interval '20 seconds'`);
    expect(await drain(worker, 'worker-2')).toBe(2);
    expect(await enrollments()).toEqual(['vip:left-behind@example.com', 'welcome:left-behind@example.com']);
    expect(await queued()).toEqual([]);
  });

  it('keeps a live worker\'s lease while it works longer than the lease, so no other worker handles the same change', async () => {
    await runnerFor(NEW).registerTriggers(new Date());
    await createLead('slow-handler@example.com', ['vip']);
    const interests = [{ kind: 'lead_created' as const, key: '' }, { kind: 'tag_added' as const, key: 'vip' }];
    const LEASE_MS = 600;
    const handledBy: string[] = [];
    const first = drainTriggerQueue(t.database.db, 'slow', interests, 10, LEASE_MS, async (rows) => {
      await new Promise((resolve) => setTimeout(resolve, LEASE_MS * 4));
      handledBy.push(...rows.map(() => 'slow'));
    });
    await new Promise((resolve) => setTimeout(resolve, 100));
    const deadline = Date.now() + LEASE_MS * 3;
    while (Date.now() < deadline) {
      await drainTriggerQueue(t.database.db, 'other', interests, 10, LEASE_MS, async (rows) => void handledBy.push(...rows.map(() => 'other')));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    expect(await first).toBe(2);
    expect(handledBy).toEqual(['slow', 'slow']);
    expect(await queued()).toEqual([]);
  });

  it('stops a worker that lost its lease from handling or deleting what another took over', async () => {
    await runnerFor(NEW).registerTriggers(new Date());
    await createLead('stalled@example.com', ['vip']);
    const interests = [{ kind: 'lead_created' as const, key: '' }, { kind: 'tag_added' as const, key: 'vip' }];
    const LEASE_MS = 300;
    const seen: boolean[] = [];
    await drainTriggerQueue(t.database.db, 'stalled', interests, 10, LEASE_MS, async (rows, held) => {
      // Meanwhile, as after a stall past the lease, another worker took the changes over.
      await t.database.pool.query(`update trigger_queue set taken_by = 'successor', taken_at = now()`);
      await new Promise((resolve) => setTimeout(resolve, LEASE_MS));
      seen.push(...rows.map((row) => held(row.id)));
    });
    expect(seen).toEqual([false, false]);
    expect(await queued()).toEqual([{ kind: 'lead_created', key: '', taken_by: 'successor' }, { kind: 'tag_added', key: 'vip', taken_by: 'successor' }]);
  });
});
