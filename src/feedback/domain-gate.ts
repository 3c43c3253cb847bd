import { sql, type Kysely } from 'kysely';
import type { Database } from '../platform/db/schema.js';
import { allot, domainOf, effectiveLimit, SLOWED_FOR_MS, type DomainLimit } from './domain-limits.js';

/*
 * The per-domain limit as a send gate: it runs in the transaction that claims sends, after the
 * frequency cap, and holds the emails a domain's window has no room for until the next window.
 * Each domain's window row is locked for the rest of the transaction, so two workers share one
 * budget. Throttling replies slow a domain down (`slowDown`).
 */

type Db = Kysely<Database>;

export interface DomainGate {
  /** For each candidate, in order: when it may go instead, or null for now. */
  hold(trx: Db, candidates: Array<{ leadId: string; email?: string }>, now: Date): Promise<Array<Date | null>>;
  /** A 421 / 4.7.x from these domains: cut their budget for a while. */
  slowDown(db: Db, domains: string[], now: Date): Promise<void>;
}

export function createDomainGate(limits: ReadonlyMap<string, DomainLimit>): DomainGate {
  return {
    async hold(trx, candidates, now) {
      const holds: Array<Date | null> = candidates.map(() => null);
      if (candidates.length === 0) return holds;
      const unknown = [...new Set(candidates.filter((c) => !c.email).map((c) => c.leadId))];
      const { rows: leads } =
        unknown.length > 0
          ? await sql<{ id: string; email: string }>`select id, email from leads where id = any(${unknown}::uuid[])`.execute(trx)
          : { rows: [] };
      const emailOf = new Map(leads.map((lead) => [lead.id, lead.email]));
      const byDomain = new Map<string, number[]>();
      candidates.forEach((candidate, position) => {
        const email = candidate.email ?? emailOf.get(candidate.leadId);
        if (!email) return;
        const domain = domainOf(email);
        byDomain.set(domain, [...(byDomain.get(domain) ?? []), position]);
      });
      // One query finds the domains slowed down now; only those and the configured ones are counted.
      const { rows: slowedRows } = await sql<{ domain: string }>`
        select domain from domain_send_windows where domain = any(${[...byDomain.keys()]}::text[]) and slowed_until > ${now}`.execute(trx);
      const slowed = new Set(slowedRows.map((row) => row.domain));
      // Sorted, so that two transactions lock the same domains in the same order.
      for (const domain of [...byDomain.keys()].filter((d) => limits.has(d) || slowed.has(d)).sort()) {
        const positions = byDomain.get(domain) ?? [];
        // The row exists before it is locked: two first-ever batches for a domain must not both count from zero.
        await sql`insert into domain_send_windows (domain, window_start, sent) values (${domain}, ${new Date(0)}, 0) on conflict (domain) do nothing`.execute(
          trx,
        );
        const { rows } = await sql<{ window_start: Date; sent: number; slowed_until: Date | null }>`
          select window_start, sent, slowed_until from domain_send_windows where domain = ${domain} for update`.execute(trx);
        const row = rows[0];
        const limit = effectiveLimit(limits.get(domain), row?.slowed_until ? new Date(row.slowed_until) : null, now);
        if (!limit) continue;
        const { allowed, state, retryAt } = allot(limit, row ? { windowStart: new Date(row.window_start), sent: row.sent } : null, positions.length, now);
        positions.slice(allowed).forEach((position) => (holds[position] = retryAt));
        await sql`
          update domain_send_windows set window_start = ${state.windowStart}, sent = ${state.sent} where domain = ${domain}`.execute(trx);
      }
      return holds;
    },
    async slowDown(db, domains, now) {
      const unique = [...new Set(domains.map((domain) => domain.toLowerCase()))];
      if (unique.length === 0) return;
      await sql`
        insert into domain_send_windows (domain, window_start, sent, slowed_until)
        select d, ${now}, 0, ${new Date(now.getTime() + SLOWED_FOR_MS)} from unnest(${unique}::text[]) as d
        on conflict (domain) do update set slowed_until = excluded.slowed_until`.execute(db);
    },
  };
}
