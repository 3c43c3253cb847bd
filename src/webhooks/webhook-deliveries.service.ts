import type { Kysely } from 'kysely';
import type { Database, WebhookDeliveryStatus } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import type { Page } from '../platform/pagination.js';
import { lifecyclePayload, type LifecyclePayload } from './lifecycle-events.js';
import {
  deleteFinishedEvents, findDelivery, insertRedelivery, listDeliveries, recordAttempt, saveEndpointInterests, takeDueDeliveries, type AttemptRecord, type DeliveryListQuery, type DeliveryRow,
} from './webhook-deliveries.repository.js';
import { nextAttemptDelayMs, type WebhookOutcome } from './webhook-outcome.js';
import type { WebhookSender } from './webhook-sender.js';
import type { WebhookEndpoint } from './webhooks-file.js';

/*
 * Lifecycle webhooks: the database triggers write one delivery per event and interested endpoint
 * in the transaction of the change (migrations/0011); this service sends them after commit,
 * retries with backoff, records every outcome, and lists and redelivers them for the API.
 */

export interface DeliveryView {
  id: string;
  eventId: string;
  eventType: string;
  endpoint: string;
  leadId: string | null;
  status: WebhookDeliveryStatus;
  attempts: number;
  /** When the next attempt is due; null once delivered or failed. */
  nextAttemptAt: string | null;
  lastAttemptAt: string | null;
  /** What the receiver answered last time; null when no answer came (timeout, refused). */
  lastResponse: { status: number | null; body: string | null } | null;
  lastError: string | null;
  redeliveryOf: string | null;
  occurredAt: string;
  createdAt: string;
  deliveredAt: string | null;
}

export type RedeliverOutcome =
  | { kind: 'queued'; delivery: DeliveryView }
  | { kind: 'not_found' }
  /** Still being tried: a second copy would race the first. */
  | { kind: 'pending'; delivery: DeliveryView }
  /** The endpoint is no longer in webhooks.yaml: there is nowhere to send it. */
  | { kind: 'endpoint_gone'; delivery: DeliveryView };

export interface WebhookDeliveriesService {
  /** Tells the triggers which endpoint wants which events; run at start by every process. */
  activate(): Promise<void>;
  /** Sends due deliveries; returns how many were attempted. */
  deliverDue(now: Date): Promise<number>;
  list(query: Omit<DeliveryListQuery, 'before'> & { cursor?: string }): Promise<Page<DeliveryView>>;
  get(id: string): Promise<(DeliveryView & { payload: LifecyclePayload }) | null>;
  redeliver(id: string, now: Date): Promise<RedeliverOutcome>;
  /** Forgets events older than DELIVERY_LOG_DAYS whose deliveries are finished; returns how many. */
  prune(now: Date): Promise<number>;
}

export interface WebhookDeliveriesDeps {
  db: Kysely<Database>;
  endpoints: WebhookEndpoint[];
  sender: WebhookSender;
  logger: Logger;
  /** Jitter source for the retry schedule (tests pin it). */
  random?: () => number;
}

/** How long the delivery log keeps finished deliveries (and what they carried: lead data). */
export const DELIVERY_LOG_DAYS = 30;
/** Deliveries taken per pass. */
const BATCH = 50;
// Longer than a send can take (the sender's 10 s timeout, one endpoint's deliveries in a row).
const TAKEN_STALE_MS = 15 * 60_000;

export function createWebhookDeliveriesService({ db, endpoints, sender, logger, random = Math.random }: WebhookDeliveriesDeps): WebhookDeliveriesService {
  const endpointById = new Map(endpoints.map((endpoint) => [endpoint.id, endpoint]));

  async function deliver(row: DeliveryRow, now: Date): Promise<void> {
    const endpoint = endpointById.get(row.endpoint);
    if (!endpoint) {
      return recordAttempt(db, row.id, { status: 'failed', httpStatus: null, response: null, error: `the endpoint "${row.endpoint}" is no longer in webhooks.yaml` }, now);
    }
    let outcome: WebhookOutcome;
    try {
      // The same webhook-id on every attempt and redelivery: receivers drop what they already have.
      outcome = await sender.send({ url: endpoint.url, id: `msg_${row.event_id}`, payload: payloadOf(row), secrets: endpoint.secrets });
    } catch (error) {
      logger.error({ err: error, deliveryId: row.id, endpoint: row.endpoint }, 'sending a lifecycle webhook threw');
      outcome = { kind: 'retry', reason: 'internal error while sending (logged)' };
    }
    return recordAttempt(db, row.id, attemptRecord(outcome, row.attempts + 1, now, random), now);
  }

  // One endpoint's deliveries go one after another, so a receiver that keeps up gets them in order;
  // endpoints do not wait for each other.
  async function deliverAll(rows: DeliveryRow[], now: Date): Promise<void> {
    const byEndpoint = new Map<string, DeliveryRow[]>();
    for (const row of rows) byEndpoint.set(row.endpoint, [...(byEndpoint.get(row.endpoint) ?? []), row]);
    await Promise.all([...byEndpoint.values()].map(async (queue) => {
      for (const row of queue) await deliver(row, now);
    }));
  }

  return {
    async activate() {
      await saveEndpointInterests(db, endpoints);
    },

    async deliverDue(now) {
      const rows = await takeDueDeliveries(db, now, BATCH, TAKEN_STALE_MS);
      await deliverAll(rows, now);
      return rows.length;
    },

    async list({ cursor, ...query }) {
      const rows = await listDeliveries(db, { ...query, ...(cursor ? { before: cursor } : {}) });
      const page = rows.slice(0, query.limit);
      const last = page[page.length - 1];
      return { items: page.map(toView), nextCursor: rows.length > query.limit && last ? last.id : null };
    },

    async get(id) {
      const row = await findDelivery(db, id);
      return row ? { ...toView(row), payload: payloadOf(row) } : null;
    },

    async redeliver(id, now) {
      const row = await findDelivery(db, id);
      if (!row) return { kind: 'not_found' };
      if (row.status === 'pending') return { kind: 'pending', delivery: toView(row) };
      if (!endpointById.has(row.endpoint)) return { kind: 'endpoint_gone', delivery: toView(row) };
      const newId = await insertRedelivery(db, { id: row.id, eventId: row.event_id, eventType: row.event_type, endpoint: row.endpoint }, now);
      const created = await findDelivery(db, newId);
      if (!created) throw new Error(`redelivery ${newId} vanished right after it was written`);
      logger.info({ deliveryId: row.id, redeliveryId: newId, endpoint: row.endpoint }, 'lifecycle webhook redelivery queued');
      return { kind: 'queued', delivery: toView(created) };
    },

    async prune(now) {
      const before = new Date(now.getTime() - DELIVERY_LOG_DAYS * 86_400_000);
      // In chunks, so one pass never holds a long transaction over a large log.
      let total = 0;
      for (;;) {
        const deleted = await deleteFinishedEvents(db, before, 1000);
        total += deleted;
        if (deleted < 1000) return total;
      }
    },
  };
}

/** What to record after an attempt (the `attempt`-th of this delivery). Pure. */
export function attemptRecord(outcome: WebhookOutcome, attempt: number, now: Date, random: () => number = Math.random): AttemptRecord {
  switch (outcome.kind) {
    case 'delivered':
      return { status: 'delivered', httpStatus: outcome.status, response: outcome.responseExcerpt, error: null };
    case 'gone':
      return { status: 'failed', httpStatus: outcome.status, response: outcome.responseExcerpt, error: 'the receiver answered 410 Gone: remove this endpoint from webhooks.yaml' };
    case 'failed':
      return { status: 'failed', httpStatus: outcome.status, response: outcome.responseExcerpt, error: outcome.reason };
    case 'refused':
      return { status: 'failed', httpStatus: null, response: null, error: outcome.reason };
    case 'retry': {
      const delay = nextAttemptDelayMs(attempt, outcome.retryAfterMs, random);
      const response = { httpStatus: outcome.status ?? null, response: outcome.responseExcerpt ?? null };
      if (delay === null) return { status: 'failed', ...response, error: `gave up after ${attempt} attempts: ${outcome.reason}` };
      return { status: 'pending', ...response, error: outcome.reason, nextAttemptAt: new Date(now.getTime() + delay) };
    }
  }
}

function payloadOf(row: DeliveryRow): LifecyclePayload {
  return lifecyclePayload({ type: row.event_type, occurredAt: row.occurred_at, lead: row.lead, subject: row.subject, previous: row.previous });
}

function toView(row: DeliveryRow): DeliveryView {
  const answered = row.last_status !== null || row.last_response !== null;
  return {
    id: row.id,
    eventId: row.event_id,
    eventType: row.event_type,
    endpoint: row.endpoint,
    leadId: row.lead_id,
    status: row.status,
    attempts: row.attempts,
    nextAttemptAt: row.status === 'pending' ? row.next_attempt_at.toISOString() : null,
    lastAttemptAt: row.last_attempt_at?.toISOString() ?? null,
    lastResponse: answered ? { status: row.last_status, body: row.last_response } : null,
    lastError: row.last_error,
    redeliveryOf: row.redelivery_of,
    occurredAt: row.occurred_at.toISOString(),
    createdAt: row.created_at.toISOString(),
    deliveredAt: row.delivered_at?.toISOString() ?? null,
  };
}
