import type { Kysely } from 'kysely';
import { MAX_BUYERS, type AccountInput, type AccountPersonInput } from '../handoff/briefing-context.js';
import type { Lead } from '../leads/lead.js';
import type { Database } from '../platform/db/schema.js';
import { accountDomainOf, BUYING_GROUP_DAYS, MAX_ACCOUNT_PEOPLE } from './account.js';
import { accountActivity, accountEngagement, accountSize } from './accounts.repository.js';

/** People of a large account read for its buying group: more than are shown, as the hourly decay pass also rescores people who did nothing lately. */
const CANDIDATES = 5 * MAX_BUYERS;

/**
 * The lead's account and who else there engaged in the last BUYING_GROUP_DAYS (the buying group),
 * each with their `perPerson` most recent actions and their count; null for webmail addresses, and
 * for a domain with more than `maxPeople` leads (MAX_ACCOUNT_PEOPLE), which is treated as webmail.
 */
export async function accountAround(
  db: Kysely<Database>,
  lead: Lead,
  now: Date,
  perPerson: number,
  maxPeople = MAX_ACCOUNT_PEOPLE,
): Promise<AccountInput | null> {
  const domain = accountDomainOf(lead.email);
  if (!domain || (await accountSize(db, domain, maxPeople)) > maxPeople) return null;
  const since = new Date(now.getTime() - BUYING_GROUP_DAYS * 86_400_000);
  const [rows, totals] = await Promise.all([accountActivity(db, domain, lead.id, since, now, perPerson, CANDIDATES), accountEngagement(db, domain, lead.id)]);
  const people = new Map<string, AccountPersonInput>();
  for (const row of rows) {
    const person = people.get(row.lead_id) ?? {
      leadId: row.lead_id,
      name: [row.first_name, row.last_name].filter(Boolean).join(' ') || row.email,
      email: row.email,
      title: row.title,
      actions: Number(row.actions),
      events: [],
    };
    person.events.push({ id: row.id, type: row.type, occurredAt: row.occurred_at, properties: row.properties });
    people.set(row.lead_id, person);
  }
  return { domain, otherPeople: totals.people, otherEngagement: totals.engagement, days: BUYING_GROUP_DAYS, people: [...people.values()] };
}
