import { expandEventFilter, lifecyclePayload, type StoredLifecycleEvent } from '../../src/webhooks/lifecycle-events.js';
import { attemptRecord } from '../../src/webhooks/webhook-deliveries.service.js';
import { nextAttemptDelayMs } from '../../src/webhooks/webhook-outcome.js';

/* What the triggers store, as Postgres's to_jsonb writes it, and the bodies made from it. */
const leadRow = {
  id: 'l-1',
  email: 'ada@example.com',
  first_name: 'Ada',
  last_name: null,
  company: 'Globex',
  title: 'VP',
  phone: '+1 555',
  country: 'US',
  timezone: 'America/New_York',
  source: 'form',
  traits: { plan: 'pro' },
  tags: ['vip'],
  consent: null,
  unsubscribed_at: '2026-11-30T08:00:00.5+00:00',
  created_at: '2026-11-29T09:00:00+00:00',
  updated_at: '2026-11-30T08:00:00+00:00',
};
const lead = {
  id: 'l-1',
  email: 'ada@example.com',
  firstName: 'Ada',
  lastName: null,
  company: 'Globex',
  title: 'VP',
  phone: '+1 555',
  country: 'US',
  timezone: 'America/New_York',
  source: 'form',
  tags: ['vip'],
  traits: { plan: 'pro' },
  createdAt: '2026-11-29T09:00:00.000Z',
  unsubscribedAt: '2026-11-30T08:00:00.500Z',
};
const handoffRow = {
  id: 'h-1',
  lead_id: 'l-1',
  status: 'pending',
  rep_id: 'sam',
  assignment: {},
  reject_reason: null,
  decided_by: null,
  created_at: '2026-11-30T08:00:00+00:00',
  assigned_at: '2026-11-30T08:00:00+00:00',
  reminded_at: null,
  reassignments: 0,
  sla_deferred_until: null,
  decided_at: null,
};
const enrollmentRow = {
  id: 'e-1',
  lead_id: 'l-1',
  sequence_id: 'nurture',
  sequence_version: 3,
  status: 'exited',
  current_step: 'wait',
  entered_at: '2026-11-29T09:00:01+00:00',
  ended_at: '2026-11-30T08:00:00+00:00',
  exit_reason: 'handed off to sales',
  step_entered_at: '2026-11-29T09:00:01+00:00',
};
const at = new Date('2026-11-30T08:00:00.123Z');
const event = (type: string, subject: Record<string, unknown> | null = null, previous: Record<string, unknown> | null = null): StoredLifecycleEvent => ({
  type,
  occurredAt: at,
  lead: leadRow,
  subject,
  previous,
});

describe('lifecycle event bodies', () => {
  it.each([
    ['lead.created', event('lead.created'), { lead }],
    ['lead.unsubscribed', event('lead.unsubscribed'), { lead, unsubscribedAt: '2026-11-30T08:00:00.500Z' }],
    [
      'lead.stage_changed',
      event('lead.stage_changed', { stage: 'mql', stage_changed_at: '2026-11-30T08:00:00+00:00', total: 80 }, { stage: 'lead' }),
      { lead, stage: { from: 'lead', to: 'mql', changedAt: '2026-11-30T08:00:00.000Z' } },
    ],
    [
      'handoff.assigned',
      event('handoff.assigned', handoffRow),
      {
        lead,
        handoff: {
          id: 'h-1',
          status: 'pending',
          repId: 'sam',
          createdAt: '2026-11-30T08:00:00.000Z',
          assignedAt: '2026-11-30T08:00:00.000Z',
          reassignments: 0,
          decidedAt: null,
          decidedBy: null,
          rejectReason: null,
        },
      },
    ],
    [
      'handoff.rejected',
      event(
        'handoff.rejected',
        { ...handoffRow, status: 'rejected', reject_reason: 'student', decided_by: 'rep:sam', decided_at: '2026-11-30T09:00:00+00:00' },
        handoffRow,
      ),
      { lead, handoff: expect.objectContaining({ status: 'rejected', rejectReason: 'student', decidedBy: 'rep:sam', decidedAt: '2026-11-30T09:00:00.000Z' }) },
    ],
    [
      'handoff.reassigned',
      event('handoff.reassigned', { ...handoffRow, rep_id: 'alex', reassignments: 1 }, handoffRow),
      { lead, handoff: expect.objectContaining({ repId: 'alex', previousRepId: 'sam', reassignments: 1 }) },
    ],
    [
      'enrollment.exited',
      event('enrollment.exited', enrollmentRow, { ...enrollmentRow, status: 'active' }),
      {
        lead,
        enrollment: {
          id: 'e-1',
          sequenceId: 'nurture',
          sequenceVersion: 3,
          status: 'exited',
          enteredAt: '2026-11-29T09:00:01.000Z',
          endedAt: '2026-11-30T08:00:00.000Z',
          exitReason: 'handed off to sales',
        },
      },
    ],
  ])('%s', (type, stored, data) => {
    expect(lifecyclePayload(stored)).toEqual({ type, timestamp: '2026-11-30T08:00:00.123Z', data });
  });

  it('leaves out what is not documented: consent, the assignment', () => {
    const body = JSON.stringify(lifecyclePayload(event('handoff.assigned', handoffRow)));
    expect(body).not.toContain('consent');
    expect(body).not.toContain('"assignment"');
  });

  it('says in every lead whether and when it unsubscribed', () => {
    expect(lifecyclePayload(event('lead.created')).data.lead).toMatchObject({ unsubscribedAt: '2026-11-30T08:00:00.500Z' });
    const subscribed = { ...event('handoff.assigned', handoffRow), lead: { ...leadRow, unsubscribed_at: null } };
    expect(lifecyclePayload(subscribed).data.lead).toMatchObject({ unsubscribedAt: null });
  });
});

describe('event filters', () => {
  it.each([
    ['*', 11],
    ['lead.*', 3],
    ['handoff.*', 5],
    ['enrollment.*', 3],
    ['handoff.accepted', 1],
    ['handoff', 0],
    ['lead.deleted', 0],
    ['sequence.*', 0],
  ])('%s names %i event types', (filter, count) => {
    expect(expandEventFilter(filter)).toHaveLength(count);
  });
});

describe('retry backoff', () => {
  const middle = () => 0.5; // no jitter
  it.each([
    [1, undefined, 5_000],
    [2, undefined, 300_000],
    [3, undefined, 1_800_000],
    [7, undefined, 36_000_000],
    [8, undefined, null],
    [1, 60_000, 60_000], // Retry-After asks for longer than the schedule
    [2, 1_000, 300_000], // but cannot make the schedule shorter
    [8, 1_000, null],
  ])('after failed attempt %i with Retry-After %p: %p ms', (attempt, retryAfterMs, expected) => {
    expect(nextAttemptDelayMs(attempt, retryAfterMs, middle)).toBe(expected);
  });

  it('keeps within ±10% of the schedule', () => {
    expect(nextAttemptDelayMs(1, undefined, () => 0)).toBe(4_500);
    expect(nextAttemptDelayMs(1, undefined, () => 0.999999)).toBe(5_500);
  });

  const now = new Date('2026-11-30T08:00:00Z');
  it.each([
    [{ kind: 'delivered', status: 204, responseExcerpt: '' } as const, 1, { status: 'delivered', httpStatus: 204, response: '', error: null }],
    [
      { kind: 'retry', status: 503, responseExcerpt: 'down', reason: 'the receiver failed (HTTP 503)' } as const,
      1,
      { status: 'pending', httpStatus: 503, response: 'down', error: 'the receiver failed (HTTP 503)', nextAttemptAt: new Date('2026-11-30T08:00:05Z') },
    ],
    [
      { kind: 'retry', reason: 'no response within 10000 ms' } as const,
      8,
      { status: 'failed', httpStatus: null, response: null, error: 'gave up after 8 attempts: no response within 10000 ms' },
    ],
    [
      { kind: 'failed', status: 400, responseExcerpt: 'bad', reason: 'the receiver rejected the webhook with HTTP 400' } as const,
      1,
      { status: 'failed', httpStatus: 400, response: 'bad', error: 'the receiver rejected the webhook with HTTP 400' },
    ],
    [
      { kind: 'gone', status: 410, responseExcerpt: '' } as const,
      2,
      { status: 'failed', httpStatus: 410, response: '', error: expect.stringContaining('410 Gone') },
    ],
    [
      { kind: 'refused', reason: '10.0.0.1 is a private address' } as const,
      1,
      { status: 'failed', httpStatus: null, response: null, error: '10.0.0.1 is a private address' },
    ],
  ])('records %j (attempt %i)', (outcome, attempt, expected) => {
    expect(attemptRecord(outcome, attempt, now, () => 0.5)).toEqual(expected);
  });
});

describe('docs/webhooks.md', () => {
  it('describes every lifecycle event type', async () => {
    const { readFile } = await import('node:fs/promises');
    const docs = await readFile(new URL('../../docs/webhooks.md', import.meta.url), 'utf8');
    const { LIFECYCLE_EVENT_TYPES } = await import('../../src/webhooks/lifecycle-events.js');
    for (const type of LIFECYCLE_EVENT_TYPES) expect(docs).toContain(`\`${type}\``);
  });
});
