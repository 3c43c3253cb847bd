/*
 * The lifecycle events Baton announces to the endpoints in webhooks.yaml, and the body each one
 * carries. Pure: the triggers of migrations/0011_lifecycle_webhooks.sql store the changed rows as
 * JSON, and `lifecyclePayload` turns them into the documented body (docs/webhooks.md) when the
 * event is sent.
 */

export const LIFECYCLE_EVENT_TYPES = [
  'lead.created',
  'lead.stage_changed',
  'lead.unsubscribed',
  'handoff.assigned',
  'handoff.accepted',
  'handoff.rejected',
  'handoff.converted',
  'handoff.reassigned',
  'enrollment.entered',
  'enrollment.exited',
  'enrollment.converted',
] as const;

export type LifecycleEventType = (typeof LIFECYCLE_EVENT_TYPES)[number];

const KNOWN: ReadonlySet<string> = new Set(LIFECYCLE_EVENT_TYPES);

export function isLifecycleEventType(text: string): text is LifecycleEventType {
  return KNOWN.has(text);
}

/** What an `events:` entry may be: a type, `group.*`, or `*`. */
export const EVENT_FILTER_CHOICES = ['*', 'lead.*', 'handoff.*', 'enrollment.*', ...LIFECYCLE_EVENT_TYPES];

/** The types an `events:` entry stands for; empty when it names none (the caller reports it). */
export function expandEventFilter(entry: string): LifecycleEventType[] {
  if (entry === '*') return [...LIFECYCLE_EVENT_TYPES];
  if (entry.endsWith('.*')) {
    const group = entry.slice(0, -1);
    return LIFECYCLE_EVENT_TYPES.filter((type) => type.startsWith(group));
  }
  return LIFECYCLE_EVENT_TYPES.filter((type) => type === entry);
}

/** An event as the triggers stored it: rows as `to_jsonb` wrote them (snake_case, ISO times). */
export interface StoredLifecycleEvent {
  type: string;
  occurredAt: Date;
  lead: Record<string, unknown> | null;
  subject: Record<string, unknown> | null;
  previous: Record<string, unknown> | null;
}

export interface LifecyclePayload {
  type: string;
  timestamp: string;
  data: Record<string, unknown>;
}

type Row = Record<string, unknown> | null;

const text = (row: Row, key: string): string | null => {
  const value = row?.[key];
  return typeof value === 'string' ? value : null;
};
const number = (row: Row, key: string): number | null => {
  const value = row?.[key];
  return typeof value === 'number' ? value : null;
};
/** Postgres writes `2026-11-30T07:21:26.123+00:00`; the API speaks `…Z`, like everywhere else. */
const time = (row: Row, key: string): string | null => {
  const value = text(row, key);
  if (value === null) return null;
  const date = new Date(value);
  return Number.isNaN(date.getTime()) ? value : date.toISOString();
};

/** The same lead object as a sequence's webhook step sends, plus phone, source, createdAt and unsubscribedAt. */
function leadOf(row: Row): Record<string, unknown> | null {
  if (!row) return null;
  return {
    id: text(row, 'id'),
    email: text(row, 'email'),
    firstName: text(row, 'first_name'),
    lastName: text(row, 'last_name'),
    company: text(row, 'company'),
    title: text(row, 'title'),
    phone: text(row, 'phone'),
    country: text(row, 'country'),
    timezone: text(row, 'timezone'),
    source: text(row, 'source'),
    tags: Array.isArray(row.tags) ? row.tags : [],
    traits: typeof row.traits === 'object' && row.traits !== null ? row.traits : {},
    createdAt: time(row, 'created_at'),
    /** When the lead opted out of marketing email; null while subscribed. */
    unsubscribedAt: time(row, 'unsubscribed_at'),
  };
}

function handoffOf(row: Row): Record<string, unknown> {
  return {
    id: text(row, 'id'),
    status: text(row, 'status'),
    repId: text(row, 'rep_id'),
    createdAt: time(row, 'created_at'),
    assignedAt: time(row, 'assigned_at'),
    reassignments: number(row, 'reassignments') ?? 0,
    decidedAt: time(row, 'decided_at'),
    decidedBy: text(row, 'decided_by'),
    rejectReason: text(row, 'reject_reason'),
  };
}

function enrollmentOf(row: Row): Record<string, unknown> {
  return {
    id: text(row, 'id'),
    sequenceId: text(row, 'sequence_id'),
    sequenceVersion: number(row, 'sequence_version'),
    status: text(row, 'status'),
    enteredAt: time(row, 'entered_at'),
    endedAt: time(row, 'ended_at'),
    exitReason: text(row, 'exit_reason'),
  };
}

function dataOf(event: StoredLifecycleEvent): Record<string, unknown> {
  const { subject, previous } = event;
  const lead = leadOf(event.lead);
  const group = event.type.slice(0, event.type.indexOf('.'));
  if (event.type === 'lead.unsubscribed') return { lead, unsubscribedAt: time(event.lead, 'unsubscribed_at') };
  if (event.type === 'lead.stage_changed') {
    // No score: a stage moves in the handoff's transaction, before the new score is stored, so
    // the row's score may be the one from before the event that moved it.
    return { lead, stage: { from: text(previous, 'stage'), to: text(subject, 'stage'), changedAt: time(subject, 'stage_changed_at') } };
  }
  if (group === 'handoff') {
    const handoff = handoffOf(subject);
    if (event.type === 'handoff.reassigned') handoff.previousRepId = text(previous, 'rep_id');
    return { lead, handoff };
  }
  if (group === 'enrollment') return { lead, enrollment: enrollmentOf(subject) };
  return { lead };
}

export function lifecyclePayload(event: StoredLifecycleEvent): LifecyclePayload {
  return { type: event.type, timestamp: event.occurredAt.toISOString(), data: dataOf(event) };
}
