import { sql, type Kysely, type Selectable } from 'kysely';
import type { Database } from '../platform/db/schema.js';

/*
 * Every row Baton holds about one lead, table by table, for the GDPR export. The list of tables
 * is checked against the schema by tests/privacy/export-coverage.test.ts: a table with a lead_id
 * column (or a table that hangs off one, by foreign key) that is not read here fails that test.
 */

type Db = Kysely<Database>;
type Row<T extends keyof Database> = Selectable<Database[T]>;

/** The tables read for a lead: by lead_id, or (children) by their parent's id. */
export const LEAD_TABLES = [
  'leads',
  'events',
  'lead_scores',
  'score_history',
  'score_queue',
  'enrollments',
  'sends',
  'tracked_links',
  'trigger_queue',
  'handoffs',
  'webhook_events',
  'opt_in_requests',
  'lead_preferences',
  'lifecycle_changes',
  'funnel_leads',
  'experiment_assignments',
  'delivery_feedback',
  'visitors',
] as const;
export const CHILD_TABLES = {
  enrollment_steps: 'enrollments',
  email_queue: 'enrollments',
  handoff_notifications: 'handoffs',
  webhook_deliveries: 'webhook_events',
  send_attempts: 'sends',
  visitor_events: 'visitors',
} as const;

export interface LeadRows {
  score: Row<'lead_scores'> | null;
  scoreHistory: Row<'score_history'>[];
  enrollments: Array<Row<'enrollments'> & { steps: Row<'enrollment_steps'>[]; queuedEmail: Row<'email_queue'> | null }>;
  sends: Array<Row<'sends'> & { attempts: UntypedRow | null }>;
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
  /** The arms of A/B splits and the holdout group the lead was assigned to (docs/experiments.md). */
  experiments: UntypedRow[];
  /** Bounces, complaints and mailto: unsubscribes received for the lead's emails (docs/feedback.md). */
  deliveryFeedback: UntypedRow[];
  /** The website visitors (browsers) joined to the lead, with any events still kept for them (docs/capture.md). */
  visitors: Array<Row<'visitors'> & { events: Row<'visitor_events'>[] }>;
}

/** Tables the engine and the feedback module read with raw SQL, outside the Kysely schema. */
type UntypedRow = Record<string, unknown>;

/** Everything but the lead row and its events (read by their own services), in one snapshot. */
export async function findLeadRows(db: Db, leadId: string): Promise<LeadRows> {
  // Repeatable read: the sections agree with each other even while the lead's sequence moves on.
  return db
    .transaction()
    .setIsolationLevel('repeatable read')
    .execute(async (trx) => {
      const [
        score,
        scoreHistory,
        enrollments,
        sends,
        trackedLinks,
        handoffs,
        triggers,
        scoring,
        webhookEvents,
        optIns,
        preferences,
        changes,
        funnel,
        funnelHandoffs,
      ] = await Promise.all([
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
      const [experiments, deliveryFeedback, visitors] = await Promise.all([
        sql<UntypedRow>`select * from experiment_assignments where lead_id = ${leadId} order by assigned_at, step_id`
          .execute(trx)
          .then((result) => result.rows),
        sql<UntypedRow>`select * from delivery_feedback where lead_id = ${leadId} order by received_at`.execute(trx).then((result) => result.rows),
        trx.selectFrom('visitors').selectAll().where('lead_id', '=', leadId).orderBy('first_seen_at').execute(),
      ]);
      const sendIds = sends.map((send) => send.id);
      const visitorIds = visitors.map((visitor) => visitor.id);
      const enrollmentIds = enrollments.map((enrollment) => enrollment.id);
      const handoffIds = handoffs.map((handoff) => handoff.id);
      const webhookEventIds = webhookEvents.map((event) => event.id);
      const [steps, queued, notifications, deliveries, attempts, visitorEvents] = await Promise.all([
        enrollmentIds.length ? trx.selectFrom('enrollment_steps').selectAll().where('enrollment_id', 'in', enrollmentIds).orderBy('entered_at').execute() : [],
        enrollmentIds.length ? trx.selectFrom('email_queue').selectAll().where('enrollment_id', 'in', enrollmentIds).execute() : [],
        handoffIds.length ? trx.selectFrom('handoff_notifications').selectAll().where('handoff_id', 'in', handoffIds).orderBy('id').execute() : [],
        webhookEventIds.length ? trx.selectFrom('webhook_deliveries').selectAll().where('event_id', 'in', webhookEventIds).orderBy('id').execute() : [],
        sendIds.length ? sql<UntypedRow>`select * from send_attempts where send_id = any(${sendIds}::uuid[])`.execute(trx).then((result) => result.rows) : [],
        visitorIds.length ? trx.selectFrom('visitor_events').selectAll().where('visitor_id', 'in', visitorIds).orderBy('occurred_at').execute() : [],
      ]);
      return {
        score: score ?? null,
        scoreHistory,
        enrollments: enrollments.map((enrollment) => ({
          ...enrollment,
          steps: steps.filter((step) => step.enrollment_id === enrollment.id),
          queuedEmail: queued.find((row) => row.enrollment_id === enrollment.id) ?? null,
        })),
        sends: sends.map((send) => ({ ...send, attempts: attempts.find((row) => row.send_id === send.id) ?? null })),
        trackedLinks,
        handoffs: handoffs.map((handoff) => ({ ...handoff, notifications: notifications.filter((notification) => notification.handoff_id === handoff.id) })),
        pending: { triggers, scoring: scoring ?? null },
        webhooks: webhookEvents.map((event) => ({ ...event, deliveries: deliveries.filter((delivery) => delivery.event_id === event.id) })),
        optIns,
        preferences: preferences ?? null,
        lifecycle: { changes, funnel: funnel ?? null, handoffs: funnelHandoffs },
        experiments,
        deliveryFeedback,
        visitors: visitors.map((visitor) => ({ ...visitor, events: visitorEvents.filter((event) => event.visitor_id === visitor.id) })),
      };
    });
}
