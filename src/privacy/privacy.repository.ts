import type { Kysely, Selectable } from 'kysely';
import type { Database } from '../platform/db/schema.js';

/*
 * Every row Baton holds about one lead, table by table, for the GDPR export. The list of tables
 * is checked against the schema by tests/privacy/export-coverage.test.ts: a table with a lead_id
 * column (or a table that hangs off one, by foreign key) that is not read here fails that test.
 */

type Db = Kysely<Database>;
type Row<T extends keyof Database> = Selectable<Database[T]>;

/** The tables read for a lead: by lead_id, or (children) by their parent's id. */
export const LEAD_TABLES = ['leads', 'events', 'lead_scores', 'score_history', 'score_queue', 'enrollments', 'sends', 'tracked_links', 'trigger_queue', 'handoffs', 'webhook_events', 'opt_in_requests', 'lead_preferences', 'lifecycle_changes', 'funnel_leads'] as const;
export const CHILD_TABLES = { enrollment_steps: 'enrollments', email_queue: 'enrollments', handoff_notifications: 'handoffs', webhook_deliveries: 'webhook_events' } as const;

export interface LeadRows {
  score: Row<'lead_scores'> | null;
  scoreHistory: Row<'score_history'>[];
  enrollments: Array<Row<'enrollments'> & { steps: Row<'enrollment_steps'>[]; queuedEmail: Row<'email_queue'> | null }>;
  sends: Row<'sends'>[];
  trackedLinks: Row<'tracked_links'>[];
  handoffs: Array<Row<'handoffs'> & { notifications: Row<'handoff_notifications'>[] }>;
  pending: { triggers: Row<'trigger_queue'>[]; scoring: Row<'score_queue'> | null };
  /** Lifecycle events about the lead told to other systems (webhooks.yaml), with each delivery. */
  webhooks: Array<Row<'webhook_events'> & { deliveries: Row<'webhook_deliveries'>[] }>;
  /** Double opt-in proof (form, wording version, times, IP, user agent) and preference-centre choices. */
  optIns: Row<'opt_in_requests'>[];
  preferences: Row<'lead_preferences'> | null;
  /** The lead's stage history and reporting rows (migration 0021): its funnel row and its handoffs' attribution. */
  lifecycle: { changes: Row<'lifecycle_changes'>[]; funnel: Row<'funnel_leads'> | null; handoffs: Row<'funnel_handoffs'>[] };
}

/** Everything but the lead row and its events (read by their own services), in one snapshot. */
export async function findLeadRows(db: Db, leadId: string): Promise<LeadRows> {
  // Repeatable read: the sections agree with each other even while the lead's sequence moves on.
  return db.transaction().setIsolationLevel('repeatable read').execute(async (trx) => {
    const [score, scoreHistory, enrollments, sends, trackedLinks, handoffs, triggers, scoring, webhookEvents, optIns, preferences, changes, funnel, funnelHandoffs] = await Promise.all([
      trx.selectFrom('lead_scores').selectAll().where('lead_id', '=', leadId).executeTakeFirst(),
      trx.selectFrom('score_history').selectAll().where('lead_id', '=', leadId).orderBy('at').orderBy('id').execute(),
      trx.selectFrom('enrollments').selectAll().where('lead_id', '=', leadId).orderBy('entered_at').execute(),
      trx.selectFrom('sends').selectAll().where('lead_id', '=', leadId).orderBy('claimed_at').execute(),
      trx.selectFrom('tracked_links').selectAll().where('lead_id', '=', leadId).orderBy('id').execute(),
      trx.selectFrom('handoffs').selectAll().where('lead_id', '=', leadId).orderBy('created_at').execute(),
      trx.selectFrom('trigger_queue').selectAll().where('lead_id', '=', leadId).execute(),
      trx.selectFrom('score_queue').selectAll().where('lead_id', '=', leadId).executeTakeFirst(),
      trx.selectFrom('webhook_events').selectAll().where('lead_id', '=', leadId).orderBy('occurred_at').orderBy('id').execute(),
      trx.selectFrom('opt_in_requests').selectAll().where('lead_id', '=', leadId).orderBy('requested_at').execute(),
      trx.selectFrom('lead_preferences').selectAll().where('lead_id', '=', leadId).executeTakeFirst(),
      trx.selectFrom('lifecycle_changes').selectAll().where('lead_id', '=', leadId).orderBy('at').orderBy('id').execute(),
      trx.selectFrom('funnel_leads').selectAll().where('lead_id', '=', leadId).executeTakeFirst(),
      trx.selectFrom('funnel_handoffs').selectAll().where('subject', '=', leadId).orderBy('created_at').execute(),
    ]);
    const enrollmentIds = enrollments.map((enrollment) => enrollment.id);
    const handoffIds = handoffs.map((handoff) => handoff.id);
    const webhookEventIds = webhookEvents.map((event) => event.id);
    const [steps, queued, notifications, deliveries] = await Promise.all([
      enrollmentIds.length ? trx.selectFrom('enrollment_steps').selectAll().where('enrollment_id', 'in', enrollmentIds).orderBy('entered_at').execute() : [],
      enrollmentIds.length ? trx.selectFrom('email_queue').selectAll().where('enrollment_id', 'in', enrollmentIds).execute() : [],
      handoffIds.length ? trx.selectFrom('handoff_notifications').selectAll().where('handoff_id', 'in', handoffIds).orderBy('id').execute() : [],
      webhookEventIds.length ? trx.selectFrom('webhook_deliveries').selectAll().where('event_id', 'in', webhookEventIds).orderBy('id').execute() : [],
    ]);
    return {
      score: score ?? null,
      scoreHistory,
      enrollments: enrollments.map((enrollment) => ({
        ...enrollment,
        steps: steps.filter((step) => step.enrollment_id === enrollment.id),
        queuedEmail: queued.find((row) => row.enrollment_id === enrollment.id) ?? null,
      })),
      sends,
      trackedLinks,
      handoffs: handoffs.map((handoff) => ({ ...handoff, notifications: notifications.filter((notification) => notification.handoff_id === handoff.id) })),
      pending: { triggers, scoring: scoring ?? null },
      webhooks: webhookEvents.map((event) => ({ ...event, deliveries: deliveries.filter((delivery) => delivery.event_id === event.id) })),
      optIns,
      preferences: preferences ?? null,
      lifecycle: { changes, funnel: funnel ?? null, handoffs: funnelHandoffs },
    };
  });
}
