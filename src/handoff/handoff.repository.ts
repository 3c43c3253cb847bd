import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database, HandoffsTable, HandoffStatus, NotificationChannel } from '../platform/db/schema.js';
import type { Deal } from '../reporting/deal-value.js';

type Db = Kysely<Database>;

export type HandoffRow = Selectable<HandoffsTable>;

export async function openHandoffCounts(db: Db): Promise<Record<string, number>> {
  const rows = await db
    .selectFrom('handoffs')
    .select(['rep_id', (eb) => eb.fn.countAll<string>().as('open')])
    .where('status', 'in', ['pending', 'accepted'])
    .groupBy('rep_id')
    .execute();
  return Object.fromEntries(rows.map((row) => [row.rep_id, Number(row.open)]));
}

export async function assignmentCursors(db: Db): Promise<Record<string, string>> {
  const rows = await db.selectFrom('assignment_cursors').selectAll().execute();
  return Object.fromEntries(rows.map((row) => [row.pool_key, row.last_rep_id]));
}

export async function saveAssignmentCursor(db: Db, poolKey: string, repId: string): Promise<void> {
  await db
    .insertInto('assignment_cursors')
    .values({ pool_key: poolKey, last_rep_id: repId })
    .onConflict((conflict) => conflict.column('pool_key').doUpdateSet({ last_rep_id: repId }))
    .execute();
}

/** Serialises assignments (round-robin cursors and capacity counts) across workers. */
export async function lockAssignments(db: Db): Promise<void> {
  await sql`select pg_advisory_xact_lock(hashtext('baton-handoff-assignment'))`.execute(db);
}

export interface NewHandoff {
  id: string;
  leadId: string;
  repId: string;
  assignment: Record<string, unknown>;
  score: unknown;
  briefing: unknown;
  now: Date;
}

/** False when the lead already has an open handoff (the unique index decides). */
export async function insertHandoff(db: Db, handoff: NewHandoff): Promise<boolean> {
  const inserted = await db
    .insertInto('handoffs')
    .values({
      id: handoff.id,
      lead_id: handoff.leadId,
      rep_id: handoff.repId,
      assignment: JSON.stringify(handoff.assignment),
      score: JSON.stringify(handoff.score),
      briefing: JSON.stringify(handoff.briefing),
      created_at: handoff.now,
      assigned_at: handoff.now,
    })
    .onConflict((conflict) => conflict.column('lead_id').where('status', 'in', ['pending', 'accepted']).doNothing())
    .returning('id')
    .executeTakeFirst();
  return inserted !== undefined;
}

export async function queueNotifications(
  db: Db,
  rows: Array<{ handoffId: string; kind: 'assigned' | 'reminder'; channel: NotificationChannel; target: string; repId: string }>,
): Promise<void> {
  if (rows.length === 0) return;
  await db
    .insertInto('handoff_notifications')
    .values(rows.map((row) => ({ handoff_id: row.handoffId, kind: row.kind, channel: row.channel, target: row.target, rep_id: row.repId })))
    .execute();
}

/** The lead leaves every nurture sequence: sales has it now. */
export async function exitActiveEnrollments(db: Db, leadId: string, reason: string): Promise<number> {
  const result = await db
    .updateTable('enrollments')
    .set({ status: 'exited', exit_reason: reason, ended_at: sql`now()` })
    .where('lead_id', '=', leadId)
    .where('status', '=', 'active')
    .executeTakeFirst();
  return Number(result.numUpdatedRows);
}

/** The lead's most recent handoff (for a disqualified lead: the rep who had it, and why it was closed). */
export async function latestHandoffOf(db: Db, leadId: string): Promise<HandoffRow | undefined> {
  return db.selectFrom('handoffs').selectAll().where('lead_id', '=', leadId).orderBy('created_at', 'desc').orderBy('id', 'desc').limit(1).executeTakeFirst();
}

export async function findHandoff(db: Db, id: string): Promise<HandoffRow | undefined> {
  return db.selectFrom('handoffs').selectAll().where('id', '=', id).executeTakeFirst();
}

export interface HandoffListQuery {
  status?: HandoffStatus;
  rep?: string;
  leadId?: string;
  limit: number;
  after?: { at: Date; id: string };
}

export async function listHandoffs(db: Db, query: HandoffListQuery): Promise<HandoffRow[]> {
  let select = db.selectFrom('handoffs').selectAll();
  if (query.status) select = select.where('status', '=', query.status);
  if (query.rep) select = select.where('rep_id', '=', query.rep);
  if (query.leadId) select = select.where('lead_id', '=', query.leadId);
  if (query.after) {
    const { at, id } = query.after;
    select = select.where((eb) => eb.or([eb('created_at', '<', at), eb.and([eb('created_at', '=', at), eb('id', '<', id)])]));
  }
  return select
    .orderBy('created_at', 'desc')
    .orderBy('id', 'desc')
    .limit(query.limit + 1)
    .execute();
}

/** Compare-and-set on the status (and, for a rep's link, the rep): false when it no longer held. */
export async function decideHandoff(
  db: Db,
  id: string,
  from: HandoffStatus[],
  to: HandoffStatus,
  now: Date,
  reason: string | null,
  decidedBy: string,
  onlyRep: string | null,
  deal: Deal | null = null,
): Promise<boolean> {
  let update = db
    .updateTable('handoffs')
    .set({
      status: to,
      decided_at: now,
      decided_by: decidedBy,
      ...(reason !== null ? { reject_reason: reason } : {}),
      ...(deal ? { deal_value: deal.value, deal_currency: deal.currency } : {}),
    })
    .where('id', '=', id)
    .where('status', 'in', from);
  if (onlyRep) update = update.where('rep_id', '=', onlyRep);
  const result = await update.executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

/** A converted handoff given its value later (a second convert with a deal): only while it has none. */
export async function addDealIfMissing(db: Db, id: string, deal: Deal): Promise<boolean> {
  const result = await db
    .updateTable('handoffs')
    .set({ deal_value: deal.value, deal_currency: deal.currency })
    .where('id', '=', id)
    .where('status', '=', 'converted')
    .where('deal_value', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function deferSla(db: Db, id: string, until: Date): Promise<void> {
  await db.updateTable('handoffs').set({ sla_deferred_until: until }).where('id', '=', id).execute();
}

/**
 * Pending handoffs assigned before `before`: not yet reminded (`onlyUnreminded`), or, with
 * `notDeferredAt`, not put off until after then by an SLA check that found no other rep.
 */
export async function pendingAssignedBefore(db: Db, before: Date, onlyUnreminded: boolean, limit: number, notDeferredAt: Date | null): Promise<HandoffRow[]> {
  let select = db.selectFrom('handoffs').selectAll().where('status', '=', 'pending').where('assigned_at', '<=', before);
  if (onlyUnreminded) select = select.where('reminded_at', 'is', null);
  if (notDeferredAt) select = select.where((eb) => eb.or([eb('sla_deferred_until', 'is', null), eb('sla_deferred_until', '<=', notDeferredAt)]));
  return select.orderBy('assigned_at').limit(limit).execute();
}

export async function markReminded(db: Db, id: string, assignedAt: Date, now: Date): Promise<boolean> {
  const result = await db
    .updateTable('handoffs')
    .set({ reminded_at: now })
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('assigned_at', '=', assignedAt)
    .where('reminded_at', 'is', null)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export async function reassignHandoff(
  db: Db,
  id: string,
  from: { repId: string; assignedAt: Date },
  to: { repId: string; assignment: Record<string, unknown>; briefing: unknown },
  now: Date,
): Promise<boolean> {
  const result = await db
    .updateTable('handoffs')
    .set((eb) => ({
      rep_id: to.repId,
      assignment: JSON.stringify(to.assignment),
      briefing: JSON.stringify(to.briefing),
      assigned_at: now,
      reminded_at: null,
      sla_deferred_until: null,
      reassignments: eb('reassignments', '+', 1),
    }))
    .where('id', '=', id)
    .where('status', '=', 'pending')
    .where('rep_id', '=', from.repId)
    .where('assigned_at', '=', from.assignedAt)
    .executeTakeFirst();
  return result.numUpdatedRows > 0n;
}

export interface DueNotification {
  id: string;
  handoff_id: string;
  kind: 'assigned' | 'reminder';
  channel: NotificationChannel;
  target: string;
  rep_id: string;
  attempts: number;
}

/** Takes due notifications (marked, not locked: see drainTriggerQueue for why). */
export async function takeDueNotifications(db: Db, now: Date, limit: number, staleAfterMs: number): Promise<DueNotification[]> {
  const { rows } = await sql<DueNotification>`
    update handoff_notifications set taken_at = clock_timestamp() where id in (
      select id from handoff_notifications
      where status = 'pending' and next_attempt_at <= ${now}
        and (taken_at is null or taken_at < now() - make_interval(secs => ${staleAfterMs / 1000}))
      order by next_attempt_at, id limit ${limit} for update skip locked
    ) returning id, handoff_id, kind, channel, target, rep_id, attempts`.execute(db);
  return rows;
}

export async function finishNotification(
  db: Db,
  id: string,
  outcome: { status: 'sent' | 'failed'; error?: string } | { status: 'pending'; retryAt: Date; error: string },
  now: Date,
): Promise<void> {
  await db
    .updateTable('handoff_notifications')
    .set((eb) => ({
      status: outcome.status,
      attempts: eb('attempts', '+', 1),
      taken_at: null,
      last_error: 'error' in outcome ? (outcome.error ?? null) : null,
      ...(outcome.status === 'sent' ? { sent_at: now } : {}),
      ...(outcome.status === 'pending' ? { next_attempt_at: outcome.retryAt } : {}),
    }))
    .where('id', '=', id)
    .execute();
}

export async function notificationsOf(db: Db, handoffId: string) {
  return db
    .selectFrom('handoff_notifications')
    .select(['id', 'kind', 'channel', 'target', 'rep_id', 'status', 'attempts', 'last_error', 'created_at', 'sent_at'])
    .where('handoff_id', '=', handoffId)
    .orderBy('id')
    .execute();
}

/** For each positive scoring rule behind rejected handoffs: how often, and the reasons given. */
export async function rejectionsByRule(db: Db): Promise<Array<{ rule: string; rejected: number; reasons: Record<string, number> }>> {
  const { rows } = await sql<{ rule: string; reason: string; count: string }>`
    select entry ->> 'rule' as rule, coalesce(nullif(h.reject_reason, ''), '(none given)') as reason, count(*) as count
    from handoffs h, jsonb_array_elements(h.score -> 'breakdown') as entry
    where h.status = 'rejected' and (entry ->> 'points')::float8 > 0
    group by 1, 2`.execute(db);
  const byRule = new Map<string, { rule: string; rejected: number; reasons: Record<string, number> }>();
  for (const row of rows) {
    const entry = byRule.get(row.rule) ?? { rule: row.rule, rejected: 0, reasons: {} };
    entry.rejected += Number(row.count);
    entry.reasons[row.reason] = Number(row.count);
    byRule.set(row.rule, entry);
  }
  return [...byRule.values()].sort((a, b) => b.rejected - a.rejected || a.rule.localeCompare(b.rule));
}

/** The lead's emails sent and sequence history, for the briefing. */
export async function enrollmentHistory(db: Db, leadId: string) {
  return db
    .selectFrom('enrollments')
    .select(['sequence_id', 'status', 'entered_at', 'ended_at', 'exit_reason'])
    .where('lead_id', '=', leadId)
    .orderBy('entered_at')
    .execute();
}

/**
 * Erasure: removes the lead from the buying group of every stored briefing (other leads'
 * handoffs name it there; its own handoffs go with it). Entries are found by lead id, and by
 * address for briefings stored before buyers carried one. The account's counts drop by the
 * person and their actions. Returns how many briefings changed.
 */
export async function removeFromBuyingGroups(db: Db, leadId: string, email: string): Promise<number> {
  const group = sql`h.briefing -> 'account' -> 'buyingGroup'`;
  // Never null (a missing key), so that `not` keeps everyone else.
  const isTheLead = sql`coalesce(b.value ->> 'leadId' = ${leadId} or (b.value ->> 'leadId' is null and lower(b.value ->> 'email') = lower(${email})), false)`;
  const result = await sql`
    update handoffs h set briefing = jsonb_set(h.briefing, '{account}', (h.briefing -> 'account') || jsonb_build_object(
      'buyingGroup', coalesce((select jsonb_agg(b.value order by b.ordinality) from jsonb_array_elements(${group}) with ordinality b where not ${isTheLead}), '[]'::jsonb),
      'groupActions', greatest(0, coalesce((h.briefing -> 'account' ->> 'groupActions')::numeric, 0)
        - (select coalesce(sum((b.value ->> 'actions')::numeric), 0) from jsonb_array_elements(${group}) b where ${isTheLead})),
      'people', greatest(1, coalesce((h.briefing -> 'account' ->> 'people')::numeric, 1) - 1)))
    where jsonb_typeof(${group}) = 'array' and exists (select 1 from jsonb_array_elements(${group}) b where ${isTheLead})`.execute(db);
  return Number(result.numAffectedRows ?? 0);
}
