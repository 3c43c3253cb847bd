import type { Kysely } from 'kysely';
import type { Database, WebhookDeliveryStatus } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import type { Page } from '../platform/pagination.js';
import { lifecyclePayload, type LifecyclePayload } from './lifecycle-events.js';
import {
  deleteFinishedEvents,
  findDelivery,
  insertRedelivery,
  listDeliveries,
  recordAttempt,
  saveEndpointInterests,
  storedEndpointInterests,
  takeDueDeliveries,
  type AttemptRecord,
  type DeliveryListQuery,
  type DeliveryRow,
  type EndpointInterest,
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
  /**
   * Tells the triggers which endpoint wants which events; run at start by every process. The last
   * process to start wins: it logs a warning when it replaces a different list.
   */
  activate(): Promise<void>;
  /**
   * Sends due deliveries of the endpoints this process knows, each endpoint in a lane of its own:
   * starts a lane for every endpoint without one, waits until one lane (of this call or an earlier
   * one) finishes, and returns how many deliveries the lanes finished since the last call
   * attempted. A slow endpoint's lane goes on in the background, so the others are not held up.
   */
  deliverDue(now: Date): Promise<number>;
  /** Waits for the lanes still sending (at stop, and in tests). */
  settle(): Promise<void>;
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

  // Only deliveries for this process's endpoints are ever taken (the take filters by endpoint), so
  // an old worker in a rolling deploy leaves a new endpoint's deliveries to the new workers.
  async function deliver(endpoint: WebhookEndpoint, row: DeliveryRow): Promise<void> {
    let outcome: WebhookOutcome;
    try {
      // The same webhook-id on every attempt and redelivery: receivers drop what they already have.
      outcome = await sender.send({ url: endpoint.url, id: `msg_${row.event_id}`, payload: payloadOf(row), secrets: endpoint.secrets });
    } catch (error) {
      logger.error({ err: error, deliveryId: row.id, endpoint: row.endpoint }, 'sending a lifecycle webhook threw');
      outcome = { kind: 'retry', reason: 'internal error while sending (logged)' };
    }
    const attemptedAt = new Date();
    return recordAttempt(db, row.id, attemptRecord(outcome, row.attempts + 1, attemptedAt, random), attemptedAt);
  }

  // One lane per endpoint: its deliveries one after another, so a receiver that keeps up gets them
  // in order (and across workers, takeDueDeliveries lets one worker at a time hold an endpoint's).
  const lanes = new Map<string, Promise<void>>();
  let attemptedSinceLastCall = 0;

  async function runLane(endpoint: WebhookEndpoint, now: Date): Promise<void> {
    try {
      const rows = await takeDueDeliveries(db, endpoint.id, now, BATCH, TAKEN_STALE_MS);
      for (const row of rows) {
        await deliver(endpoint, row);
        attemptedSinceLastCall += 1;
      }
    } catch (error) {
      // What was taken and not recorded is taken again once stale.
      logger.error({ err: error, endpoint: endpoint.id }, 'sending lifecycle webhooks failed');
    }
  }

  return {
    async activate() {
      const stored = await storedEndpointInterests(db);
      if (stored.length > 0 && !sameInterests(stored, endpoints)) {
        logger.warn(
          { stored: describeInterests(stored), loaded: describeInterests(endpoints) },
          'the lifecycle webhook endpoints stored by another process differ from this webhooks.yaml; events are now recorded for this list, and each worker only sends to the endpoints in its own webhooks.yaml',
        );
      }
      await saveEndpointInterests(db, endpoints);
    },

    async deliverDue(now) {
      for (const endpoint of endpoints) {
        if (lanes.has(endpoint.id)) continue;
        lanes.set(
          endpoint.id,
          runLane(endpoint, now).finally(() => lanes.delete(endpoint.id)),
        );
      }
      if (lanes.size > 0) await Promise.race(lanes.values());
      const attempted = attemptedSinceLastCall;
      attemptedSinceLastCall = 0;
      return attempted;
    },

    async settle() {
      while (lanes.size > 0) await Promise.all(lanes.values());
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
      // A pending delivery keeps its event while some process may still send it: its endpoint is
      // in this webhooks.yaml or in the list the last process to start stored.
      const known = [...new Set([...endpoints.map(({ id }) => id), ...(await storedEndpointInterests(db)).map(({ id }) => id)])];
      let total = 0;
      for (;;) {
        const deleted = await deleteFinishedEvents(db, before, 1000, known);
        total += deleted;
        if (deleted < 1000) return total;
      }
    },
  };
}

const interestKey = (list: readonly EndpointInterest[]) =>
  JSON.stringify([...list].map(({ id, events }) => [id, [...events].sort()]).sort(([a], [b]) => String(a).localeCompare(String(b))));

function sameInterests(stored: readonly EndpointInterest[], loaded: readonly EndpointInterest[]): boolean {
  return interestKey(stored) === interestKey(loaded);
}

const describeInterests = (list: readonly EndpointInterest[]) => list.map(({ id, events }) => `${id}: ${events.join(', ')}`);

/** What to record after an attempt (the `attempt`-th of this delivery). Pure. */
export function attemptRecord(outcome: WebhookOutcome, attempt: number, now: Date, random: () => number = Math.random): AttemptRecord {
  switch (outcome.kind) {
    case 'delivered':
      return { status: 'delivered', httpStatus: outcome.status, response: outcome.responseExcerpt, error: null };
    case 'gone':
      return {
        status: 'failed',
        httpStatus: outcome.status,
        response: outcome.responseExcerpt,
        error: 'the receiver answered 410 Gone: remove this endpoint from webhooks.yaml',
      };
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
