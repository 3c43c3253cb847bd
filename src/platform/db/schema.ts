import type { ColumnType, Generated } from 'kysely';
import type { LeadPreferencesTable, OptInRequestsTable } from '../../consent/consent.tables.js';

/*
 * Kysely's view of the tables created by migrations/*.sql. JSON columns are written as JSON
 * text (pg would turn a JS array into a Postgres array literal) and read back parsed.
 */

type Json<T> = ColumnType<T, string, string>;
type Timestamp = ColumnType<Date, Date | string, Date | string>;

export interface ConsentRecord {
  status: 'granted' | 'denied' | 'withdrawn';
  source: string;
  at: string;
  text?: string;
}

export interface LeadsTable {
  id: Generated<string>;
  email: string;
  first_name: string | null;
  last_name: string | null;
  company: string | null;
  title: string | null;
  phone: string | null;
  timezone: string | null;
  country: string | null;
  source: string | null;
  traits: ColumnType<Record<string, unknown>, string | undefined, string>;
  tags: ColumnType<string[], string[] | undefined, string[]>;
  consent: ColumnType<ConsentRecord | null, string | null | undefined, string | null>;
  unsubscribed_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  created_at: ColumnType<Date, Date | undefined, never>;
  updated_at: ColumnType<Date, Date | undefined, Date | string>;
}

export interface EventsTable {
  id: Generated<string>;
  lead_id: string;
  type: string;
  properties: Json<Record<string, unknown>>;
  occurred_at: Timestamp;
  received_at: ColumnType<Date, Date | undefined, never>;
}

export interface SuppressionsTable {
  email_hash: string;
  reason: string;
  created_at: ColumnType<Date, Date | undefined, never>;
}

export interface SettingsTable {
  key: string;
  value: string;
}

export interface MigrationsTable {
  id: number;
  name: string;
  applied_at: ColumnType<Date, Date | undefined, never>;
}

export interface DevMailTable {
  id: Generated<string>;
  envelope_from: string | null;
  envelope_to: string[];
  raw: string;
  received_at: ColumnType<Date, Date | undefined, never>;
}

export interface TrackedLinksTable {
  id: Generated<string>;
  send_id: string;
  lead_id: string;
  url: string;
  created_at: ColumnType<Date, Date | undefined, never>;
}

export type EnrollmentStatus = 'active' | 'completed' | 'converted' | 'exited' | 'parked';

export interface EnrollmentsTable {
  id: Generated<string>;
  lead_id: string;
  sequence_id: string;
  sequence_version: number;
  status: ColumnType<EnrollmentStatus, EnrollmentStatus | undefined, EnrollmentStatus>;
  current_step: string | null;
  step_entered_at: ColumnType<Date, Date | undefined, Date | string>;
  entered_at: ColumnType<Date, Date | undefined, never>;
  ended_at: ColumnType<Date | null, Date | null | undefined, Date | string | null>;
  exit_reason: string | null;
  sequence_hash: string | null;
}

export type SendStatus = 'claimed' | 'sent' | 'skipped' | 'failed' | 'unknown';

export interface SendsTable {
  id: Generated<string>;
  enrollment_id: string;
  step_id: string;
  lead_id: string;
  template: string;
  message_id: string;
  status: ColumnType<SendStatus, SendStatus | undefined, SendStatus>;
  outcome: string | null;
  smtp_response: string | null;
  claimed_at: ColumnType<Date, Date | undefined, never>;
  finished_at: ColumnType<Date | null, Date | null | undefined, Date | string | null>;
  marketing: ColumnType<boolean, boolean | undefined, boolean>;
  claimed_by: string | null;
  handed_at: ColumnType<Date | null, Date | null | undefined, Date | string | null>;
}

export interface EmailQueueTable {
  enrollment_id: string;
  step_id: string;
  due_at: ColumnType<Date, Date | undefined, Date>;
  leased_by: string | null;
  leased_until: Date | null;
}

export type TriggerKind = 'lead_created' | 'tag_added' | 'event';

export interface TriggerInterestsTable {
  kind: TriggerKind;
  key: string;
  refreshed_at: ColumnType<Date, Date | undefined, Date>;
}

export interface TriggerQueueTable {
  id: Generated<string>;
  lead_id: string;
  kind: TriggerKind;
  key: string;
  properties: ColumnType<Record<string, unknown>, string | undefined, never>;
  queued_at: ColumnType<Date, Date | undefined, never>;
  taken_at: Date | null;
  taken_by: string | null;
}

export interface SequenceGoalsTable {
  sequence_id: string;
  /** Null: a sequence goal; else the goal step it belongs to. */
  step_id: string | null;
  event: string;
  filter: ColumnType<Record<string, unknown>, string, never>;
}

export interface EnrollmentStepsTable {
  enrollment_id: string;
  sequence_id: string;
  step_id: string;
  entered_at: ColumnType<Date, Date | undefined, never>;
}

export type LifecycleStage = 'subscriber' | 'lead' | 'mql' | 'sql' | 'customer' | 'recycled' | 'disqualified';

export interface LeadScoresTable {
  lead_id: string;
  stage: ColumnType<LifecycleStage, LifecycleStage | undefined, LifecycleStage>;
  total: ColumnType<number, number | undefined, number>;
  engagement: ColumnType<number, number | undefined, number>;
  fit: ColumnType<number, number | undefined, number>;
  grade: ColumnType<string, string | undefined, string>;
  breakdown: ColumnType<unknown[], string | undefined, string>;
  engagement_since: ColumnType<Date | null, Date | null | undefined, Date | null>;
  scored_at: ColumnType<Date, Date | undefined, Date>;
  stage_changed_at: ColumnType<Date, Date | undefined, Date>;
}

export interface ScoreHistoryTable {
  id: Generated<string>;
  lead_id: string;
  at: ColumnType<Date, Date | undefined, never>;
  total: number;
  engagement: number;
  fit: number;
  grade: string;
  stage: LifecycleStage;
  cause: string;
}

export interface ScoreQueueTable {
  lead_id: string;
  queued_at: ColumnType<Date, Date | undefined, Date>;
  taken_at: Date | null;
}

export type HandoffStatus = 'pending' | 'accepted' | 'rejected' | 'converted';

export interface HandoffsTable {
  id: ColumnType<string, string | undefined, never>;
  lead_id: string;
  status: ColumnType<HandoffStatus, HandoffStatus | undefined, HandoffStatus>;
  rep_id: string;
  assignment: ColumnType<Record<string, unknown>, string, string>;
  score: ColumnType<Record<string, unknown>, string, never>;
  briefing: ColumnType<Record<string, unknown>, string, string>;
  reject_reason: string | null;
  decided_by: string | null;
  created_at: ColumnType<Date, Date | undefined, never>;
  assigned_at: ColumnType<Date, Date | undefined, Date>;
  reminded_at: Date | null;
  reassignments: ColumnType<number, number | undefined, number>;
  sla_deferred_until: Date | null;
  decided_at: Date | null;
  /** numeric: read back as a string. Set by a convert that gave the deal's value (migration 0021). */
  deal_value: ColumnType<string | null, number | null | undefined, number | null>;
  deal_currency: ColumnType<string | null, string | null | undefined, string | null>;
}

export interface AssignmentCursorsTable {
  pool_key: string;
  last_rep_id: string;
}

export type NotificationChannel = 'email' | 'webhook' | 'slack';

export interface HandoffNotificationsTable {
  id: Generated<string>;
  handoff_id: string;
  kind: 'assigned' | 'reminder';
  channel: NotificationChannel;
  target: string;
  rep_id: string;
  status: ColumnType<'pending' | 'sent' | 'failed', 'pending' | undefined, 'pending' | 'sent' | 'failed'>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: ColumnType<Date, Date | undefined, Date>;
  taken_at: Date | null;
  last_error: string | null;
  created_at: ColumnType<Date, Date | undefined, never>;
  sent_at: Date | null;
}

export interface DashboardSessionsTable {
  token_hash: string;
  rep_id: string | null;
  key_fingerprint: string | null;
  created_at: ColumnType<Date, Date | undefined, never>;
  expires_at: Timestamp;
  revoked_at: Date | null;
}

export interface DashboardUsedLinksTable {
  nonce: string;
  rep_id: string;
  used_at: ColumnType<Date, Date | undefined, never>;
  expires_at: Timestamp;
}

export interface Database {
  leads: LeadsTable;
  events: EventsTable;
  suppressions: SuppressionsTable;
  settings: SettingsTable;
  baton_migrations: MigrationsTable;
  dev_mail: DevMailTable;
  tracked_links: TrackedLinksTable;
  enrollments: EnrollmentsTable;
  sends: SendsTable;
  email_queue: EmailQueueTable;
  trigger_interests: TriggerInterestsTable;
  trigger_queue: TriggerQueueTable;
  enrollment_steps: EnrollmentStepsTable;
  sequence_goals: SequenceGoalsTable;
  lead_scores: LeadScoresTable;
  score_history: ScoreHistoryTable;
  score_queue: ScoreQueueTable;
  handoffs: HandoffsTable;
  assignment_cursors: AssignmentCursorsTable;
  handoff_notifications: HandoffNotificationsTable;
  dashboard_sessions: DashboardSessionsTable;
  dashboard_used_links: DashboardUsedLinksTable;
  webhook_events: WebhookEventsTable;
  webhook_deliveries: WebhookDeliveriesTable;
  visitors: VisitorsTable;
  visitor_events: VisitorEventsTable;
  opt_in_requests: OptInRequestsTable;
  lead_preferences: LeadPreferencesTable;
  lifecycle_changes: LifecycleChangesTable;
  funnel_leads: FunnelLeadsTable;
  funnel_handoffs: FunnelHandoffsTable;
}

/** Website visitors of the tracking snippet (migrations/0019_visitors.sql, src/capture). */
export interface VisitorsTable {
  id: string;
  lead_id: string | null;
  first_seen_at: ColumnType<Date, Date | undefined, Date>;
  last_seen_at: ColumnType<Date, Date | undefined, Date>;
  identified_at: Date | null;
}

/** Events of a visitor not yet joined to a lead. */
export interface VisitorEventsTable {
  id: string;
  visitor_id: string;
  type: string;
  properties: Json<Record<string, unknown>>;
  occurred_at: Timestamp;
}

/** Written only by the triggers of migrations/0011_lifecycle_webhooks.sql. */
export interface WebhookEventsTable {
  id: Generated<string>;
  type: string;
  lead_id: string | null;
  lead: Record<string, unknown> | null;
  subject: Record<string, unknown> | null;
  previous: Record<string, unknown> | null;
  occurred_at: ColumnType<Date, Date | undefined, never>;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDeliveriesTable {
  id: Generated<string>;
  event_id: string;
  event_type: string;
  endpoint: string;
  status: ColumnType<WebhookDeliveryStatus, WebhookDeliveryStatus | undefined, WebhookDeliveryStatus>;
  attempts: ColumnType<number, number | undefined, number>;
  next_attempt_at: Timestamp;
  taken_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_attempt_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
  last_status: ColumnType<number | null, number | null | undefined, number | null>;
  last_response: ColumnType<string | null, string | null | undefined, string | null>;
  last_error: ColumnType<string | null, string | null | undefined, string | null>;
  redelivery_of: ColumnType<string | null, string | null | undefined, string | null>;
  created_at: ColumnType<Date, Date | undefined, never>;
  delivered_at: ColumnType<Date | null, Date | null | undefined, Date | null>;
}

/*
 * Written only by the triggers of migrations/0021_lifecycle_history_and_funnel.sql. `subject` is
 * the lead's id until it is erased, then a random key; lead_id and handoff_id are then null.
 */
export interface LifecycleChangesTable {
  id: Generated<string>;
  subject: string;
  lead_id: string | null;
  from_stage: LifecycleStage | null;
  to_stage: LifecycleStage;
  at: Date;
  cause: string;
  handoff_id: string | null;
  rep_id: string | null;
}

export interface FunnelLeadsTable {
  subject: string;
  lead_id: string | null;
  created_at: Date;
  source: string | null;
  sequences: string[];
  rep_id: string | null;
  lead_at: Date | null;
  mql_at: Date | null;
  sql_at: Date | null;
  customer_at: Date | null;
  recycled_at: Date | null;
  disqualified_at: Date | null;
  subscriber_left_at: Date | null;
  lead_left_at: Date | null;
  mql_left_at: Date | null;
  sql_left_at: Date | null;
  deal_value: string | null;
  deal_currency: string | null;
  first_touch: Record<string, unknown> | null;
  last_touch: Record<string, unknown> | null;
  touched_sequences: string[];
}

export interface FunnelHandoffsTable {
  key: Generated<string>;
  handoff_id: string | null;
  subject: string;
  rep_id: string;
  created_at: Date;
  accepted_at: Date | null;
  rejected_at: Date | null;
  converted_at: Date | null;
  disqualified: boolean;
  reject_reason: string | null;
  breached_by: string[];
  deal_value: string | null;
  deal_currency: string | null;
  first_touch: Record<string, unknown> | null;
  last_touch: Record<string, unknown> | null;
  sequences: string[];
}
