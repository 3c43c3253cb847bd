import { sql, type Kysely } from 'kysely';
import { toLead } from '../leads/lead.js';
import type { Database } from '../platform/db/schema.js';
import type { BacktestLead, SalesOutcome } from './backtest.js';
import { scoredLead } from './scoring.service.js';

/** Every lead with its events and its latest handoff's status, a page at a time (by lead id). */
export async function* leadsForBacktest(db: Kysely<Database>, pageSize = 500): AsyncGenerator<BacktestLead> {
  let after: string | null = null;
  for (;;) {
    let query = db.selectFrom('leads').selectAll();
    if (after) query = query.where('id', '>', after);
    const leads = await query.orderBy('id').limit(pageSize).execute();
    if (leads.length === 0) return;
    const ids = leads.map((lead) => lead.id);
    const events = await db.selectFrom('events').select(['id', 'lead_id', 'type', 'occurred_at', 'properties']).where('lead_id', 'in', ids).execute();
    const { rows: outcomes } = await sql<{ lead_id: string; status: Exclude<SalesOutcome, null> }>`
      select distinct on (lead_id) lead_id, status from handoffs where lead_id = any(${ids}::uuid[]) order by lead_id, created_at desc`.execute(db);
    const outcomeOf = new Map(outcomes.map((row) => [row.lead_id, row.status]));
    // Leads that became customers, with when sales first got them: how early a threshold would have been.
    const { rows: customers } = await sql<{ lead_id: string; handed_off_at: Date }>`
      select lead_id, min(created_at) as handed_off_at from handoffs where lead_id = any(${ids}::uuid[])
      group by lead_id having bool_or(status = 'converted')`.execute(db);
    const customerOf = new Map(customers.map((row) => [row.lead_id, { handedOffAt: new Date(row.handed_off_at) }]));
    const eventsOf = new Map<string, BacktestLead['events']>();
    for (const event of events) {
      const list = eventsOf.get(event.lead_id) ?? [];
      list.push({ id: event.id, type: event.type, occurredAt: event.occurred_at, properties: event.properties });
      eventsOf.set(event.lead_id, list);
    }
    for (const row of leads)
      yield {
        lead: scoredLead(toLead(row)),
        events: eventsOf.get(row.id) ?? [],
        outcome: outcomeOf.get(row.id) ?? null,
        customer: customerOf.get(row.id) ?? null,
      };
    after = leads[leads.length - 1]?.id ?? null;
  }
}
