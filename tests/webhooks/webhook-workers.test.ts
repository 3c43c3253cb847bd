import type { Logger } from '../../src/platform/logger.js';
import { createLogger } from '../../src/platform/logger.js';
import { createWebhookDeliveriesService, type WebhookDeliveriesService } from '../../src/webhooks/webhook-deliveries.service.js';
import { createWebhookSender } from '../../src/webhooks/webhook-sender.js';
import type { WebhookEndpoint } from '../../src/webhooks/webhooks-file.js';
import { createTestDatabase, type TestDatabase } from '../helpers/test-database.js';
import { until } from '../helpers/until.js';
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js';

/*
 * Lifecycle webhook workers over a real database and a real receiver: which deliveries a worker
 * takes when processes disagree about webhooks.yaml (rolling deploys), leads created already
 * unsubscribed, endpoints that do not wait for each other, one endpoint's order across workers,
 * and the index pruning needs.
 */

const SECRET = `whsec_${Buffer.from('worker-lifecycle-secret-32-byte!').toString('base64')}`;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

let database: TestDatabase;
let receiver: WebhookReceiver;
const delays = new Map<string, number>();
let inFlight = new Map<string, number>();
const maxInFlight = new Map<string, number>();

beforeAll(async () => {
  database = await createTestDatabase();
  receiver = await startWebhookReceiver();
  receiver.answer((response, req) => {
    const now = (inFlight.get(req.path) ?? 0) + 1;
    inFlight.set(req.path, now);
    maxInFlight.set(req.path, Math.max(now, maxInFlight.get(req.path) ?? 0));
    setTimeout(
      () => {
        inFlight.set(req.path, (inFlight.get(req.path) ?? 1) - 1);
        if (!response.destroyed) response.writeHead(204).end();
      },
      delays.get(req.path) ?? 0,
    ).unref();
  });
}, 60_000);

afterAll(async () => {
  await receiver?.close();
  await database?.drop();
});

beforeEach(async () => {
  await database.pool.query('delete from webhook_events');
  await database.pool.query(`delete from settings where key = 'webhook_endpoints'`);
  receiver.requests.length = 0;
  delays.clear();
  inFlight = new Map();
  maxInFlight.clear();
});

const endpoint = (id: string, events: WebhookEndpoint['events'] = ['lead.created', 'lead.unsubscribed']): WebhookEndpoint => ({
  id,
  url: receiver.url(`/${id}`),
  events,
  secrets: [SECRET],
});

const services: WebhookDeliveriesService[] = [];
function worker(endpoints: WebhookEndpoint[], logger: Logger = createLogger('silent'), timeoutMs = 10_000): WebhookDeliveriesService {
  const service = createWebhookDeliveriesService({
    db: database.db,
    endpoints,
    logger,
    sender: createWebhookSender({ allowPrivate: true, allowInsecure: true, timeoutMs }),
  });
  services.push(service);
  return service;
}
afterEach(async () => {
  await Promise.all(services.splice(0).map((service) => service.settle()));
});

/** The worker loop of src/baton.ts, until `stop` is called. */
function runLoop(service: WebhookDeliveriesService, intervalMs = 20): { stop(): Promise<void> } {
  let stopped = false;
  const done = (async () => {
    while (!stopped) {
      while (!stopped && (await service.deliverDue(new Date())) > 0);
      await sleep(intervalMs);
    }
  })();
  return {
    stop: async () => {
      stopped = true;
      await done;
      await service.settle();
    },
  };
}

let counter = 0;
async function insertLead(unsubscribed = false): Promise<string> {
  counter += 1;
  const { rows } = await database.pool.query<{ id: string }>(
    `insert into leads (email, unsubscribed_at) values ($1, ${unsubscribed ? 'now()' : 'null'}) returning id`,
    [`worker-${counter}@example.test`],
  );
  return rows[0]?.id ?? '';
}

const deliveries = async (where = 'true') =>
  (
    await database.pool.query<{
      id: string;
      endpoint: string;
      event_type: string;
      status: string;
      attempts: number;
      taken_at: Date | null;
      last_error: string | null;
      lead_id: string;
      event_id: string;
    }>(
      `select d.id, d.endpoint, d.event_type, d.status, d.attempts, d.taken_at, d.last_error, e.lead_id, d.event_id
     from webhook_deliveries d join webhook_events e on e.id = d.event_id where ${where} order by d.id`,
    )
  ).rows;

describe('workers with different webhooks.yaml (rolling deploy)', () => {
  it('a worker only takes deliveries for endpoints it knows, and never fails the others', async () => {
    await worker([endpoint('crm'), endpoint('added')]).activate();
    await insertLead();
    const old = worker([endpoint('crm')]);
    await old.deliverDue(new Date());
    await old.settle();
    expect((await deliveries()).map(({ endpoint: id, status, attempts, taken_at: taken }) => [id, status, attempts, taken])).toEqual([
      ['added', 'pending', 0, null],
      ['crm', 'delivered', 1, null],
    ]);
    expect(receiver.requests.map((req) => req.path)).toEqual(['/crm']);

    const current = worker([endpoint('crm'), endpoint('added')]);
    await current.deliverDue(new Date());
    await current.settle();
    expect((await deliveries()).map(({ status }) => status)).toEqual(['delivered', 'delivered']);
    expect(receiver.requests.map((req) => req.path)).toEqual(['/crm', '/added']);
    expect((await deliveries()).map(({ endpoint: id }) => id)).toEqual(['added', 'crm']);
  });

  it("warns at start when the stored endpoint list differs from this process's, and not when it is the same", async () => {
    const logger = createLogger('silent');
    const warnings: unknown[][] = [];
    const silentWarn = logger.warn.bind(logger);
    logger.warn = ((...args: unknown[]) => {
      warnings.push(args);
      (silentWarn as (...rest: unknown[]) => void)(...args);
    }) as Logger['warn'];
    const warn = { mock: { calls: warnings } };
    await worker([endpoint('crm'), endpoint('added')], logger).activate();
    expect(warnings).toHaveLength(0); // nothing stored yet
    await worker([endpoint('added'), endpoint('crm')], logger).activate();
    expect(warnings).toHaveLength(0); // the same list in another order
    await worker([endpoint('crm')], logger).activate();
    expect(warnings).toHaveLength(1);
    expect(warn.mock.calls[0]?.[0]).toMatchObject({
      stored: expect.arrayContaining(['added: lead.created, lead.unsubscribed']),
      loaded: ['crm: lead.created, lead.unsubscribed'],
    });
    await worker([endpoint('crm', ['lead.created'])], logger).activate();
    expect(warnings).toHaveLength(2); // the same endpoint wanting other events
    await worker([], logger).activate();
    expect(warnings).toHaveLength(3);
  });

  it('pruning keeps an old event pending for a known endpoint, and forgets one pending for an endpoint nobody has', async () => {
    await worker([endpoint('crm'), endpoint('gone')]).activate();
    await insertLead();
    await database.pool.query(`update webhook_events set occurred_at = occurred_at - interval '31 days'`);
    // Still in the stored list: kept.
    expect(await worker([endpoint('crm')]).prune(new Date())).toBe(0);
    await database.pool.query(`update webhook_deliveries set status = 'delivered' where endpoint = 'crm'`);
    await worker([endpoint('crm')]).activate();
    expect(await worker([endpoint('crm')]).prune(new Date())).toBe(1);
  });
});

describe('leads created already unsubscribed', () => {
  it('announce lead.unsubscribed after lead.created, for one lead or many in one statement', async () => {
    await worker([endpoint('crm'), endpoint('optouts', ['lead.unsubscribed'])]).activate();
    const one = await insertLead(true);
    const subscribed = await insertLead(false);
    await database.pool.query(`insert into leads (email, unsubscribed_at) values ('bulk-1@example.test', now()), ('bulk-2@example.test', null)`);
    const rows = await deliveries();
    const about = (leadId: string) => rows.filter((row) => row.lead_id === leadId).map((row) => `${row.endpoint} ${row.event_type}`);
    expect(about(one)).toEqual(['crm lead.created', 'crm lead.unsubscribed', 'optouts lead.unsubscribed']);
    expect(about(subscribed)).toEqual(['crm lead.created']);
    const { rows: bulk } = await database.pool.query<{ email: string; types: string[] }>(
      `select l.email, array_agg(e.type order by e.type) as types from leads l join webhook_events e on e.lead_id = l.id where l.email like 'bulk-%' group by l.email order by l.email`,
    );
    expect(bulk).toEqual([
      { email: 'bulk-1@example.test', types: ['lead.created', 'lead.unsubscribed'] },
      { email: 'bulk-2@example.test', types: ['lead.created'] },
    ]);

    // Setting it later still announces once; a lead created unsubscribed is not announced twice.
    await database.pool.query(`update leads set unsubscribed_at = now() where id = $1`, [subscribed]);
    await database.pool.query(`update leads set email = 'changed@example.test' where id = $1`, [one]);
    const { rows: counts } = await database.pool.query<{ lead_id: string; n: number }>(
      `select lead_id, count(*)::int as n from webhook_events where type = 'lead.unsubscribed' and lead_id = any($1::uuid[]) group by lead_id`,
      [[one, subscribed]],
    );
    expect(Object.fromEntries(counts.map((row) => [row.lead_id, row.n]))).toEqual({ [one]: 1, [subscribed]: 1 });
  });
});

describe('endpoints and workers', () => {
  it('a slow endpoint does not hold up the others', async () => {
    const endpoints = [endpoint('slow'), endpoint('fast')];
    await worker(endpoints).activate();
    delays.set('/slow', 5_000); // never answers within the 800 ms timeout: each attempt takes 800 ms
    for (let index = 0; index < 4; index++) await insertLead();
    const loop = runLoop(worker(endpoints, createLogger('silent'), 800));
    try {
      await until(
        async () => receiver.requests.filter((req) => req.path === '/fast').length,
        (n) => n === 4,
        3_000,
      );
      await sleep(100); // the slow lane is now on its first or second attempt
      const late = await insertLead();
      const startedAt = Date.now();
      await until(
        async () => deliveries(`d.endpoint = 'fast' and e.lead_id = '${late}' and d.status = 'delivered'`),
        (rows) => rows.length === 1,
        2_500,
      );
      // Before, the new delivery waited for the slow endpoint's whole batch (4 × 800 ms).
      expect(Date.now() - startedAt).toBeLessThan(1_000);
    } finally {
      await loop.stop();
    }
    expect((await deliveries(`d.endpoint = 'slow'`)).map((row) => row.status)).toEqual(['pending', 'pending', 'pending', 'pending', 'pending']);
  }, 20_000);

  it("two workers send one endpoint's deliveries one at a time, in order", async () => {
    const endpoints = [endpoint('ordered', ['lead.created'])];
    await worker(endpoints).activate();
    delays.set('/ordered', 40);
    const loops = [runLoop(worker(endpoints), 5), runLoop(worker(endpoints), 5)];
    try {
      for (let index = 0; index < 12; index++) {
        await insertLead();
        await sleep(15);
      }
      await until(
        async () => deliveries(`d.status = 'delivered'`),
        (rows) => rows.length === 12,
        10_000,
      );
    } finally {
      await Promise.all(loops.map((loop) => loop.stop()));
    }
    const expected = (await deliveries()).map((row) => `msg_${row.event_id}`);
    expect(receiver.requests.map((req) => req.headers['webhook-id'])).toEqual(expected);
    expect(maxInFlight.get('/ordered')).toBe(1);
  }, 20_000);
});

describe('pruning', () => {
  it('finds old events through an index, not by reading the whole table', async () => {
    const client = await database.pool.connect();
    try {
      await client.query('begin');
      await client.query('set local enable_seqscan = off');
      const { rows } = await client.query<{ 'QUERY PLAN': string }>(
        `explain select e.id from webhook_events e where e.occurred_at < now() - interval '30 days' limit 1000`,
      );
      const plan = rows.map((row) => row['QUERY PLAN']).join('\n');
      expect(plan).toMatch(/Index.*webhook_events_occurred/);
      await client.query('rollback');
    } finally {
      client.release();
    }
  });
});
