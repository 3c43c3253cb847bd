import type { Kysely } from 'kysely';
import type { LeadsService } from '../leads/leads.service.js';
import type { Database } from '../platform/db/schema.js';
import type { Logger } from '../platform/logger.js';
import type { Channel } from '../sends/channel.js';
import type { EmailDelivery } from '../sends/email-delivery.js';
import type { QueuedEmail } from '../sends/email-queue.repository.js';
import type { FrequencyCap } from '../sends/frequency-cap.js';
import type { Sequence } from '../sequences/sequence.js';
import { dispatchDueEmails, runEmailBatch } from './email-dispatch.js';
import { enrollLead } from './enroll-lead.js';
import type { EnrollmentRow } from './enrollments.repository.js';
import { createEngine } from './engine.js';
import { createReconciler } from './reconcile.js';
import { runStep } from './step-executor.js';

/*
 * The sequence engine's front: enrolls leads and runs steps. Agenda decides when a step runs, one
 * job per step, except email steps: those wait in the email queue, and workers lease and send
 * them in batches, since a job per email costs more than the email (docs/architecture.md).
 *
 * Every part gathers facts and applies what the pure decider (step-decider.ts) says:
 * enroll-lead.ts enrolls, step-executor.ts runs a step job, email-dispatch.ts sends the email
 * queue's batches, reconcile.ts squares enrollments with edited files, triggers and crashes.
 * A step that is stale (the enrollment moved on, or ended) does nothing, and sends go through the
 * ledger, so a step that runs twice never acts twice.
 */

export const STEP_JOB = 'sequence-step';

export interface StepJob {
  enrollmentId: string;
  stepId: string;
  /** Delivery attempts of a webhook step so far. */
  attempt?: number;
}

export interface JobQueue {
  schedule(at: Date, job: StepJob): Promise<void>;
}

export type EnrollOutcome =
  | { kind: 'enrolled'; enrollment: EnrollmentRow }
  | { kind: 'already_enrolled' }
  | { kind: 'not_eligible'; reason: string }
  | { kind: 'unknown_sequence' }
  | { kind: 'unknown_lead' };

export interface ReconcileReport {
  /** Active enrollments moved onto an edited sequence file, by sequence id. */
  repinned: Record<string, number>;
  /** Active enrollments parked because their step or sequence is gone, with the reason. */
  parked: Array<{ sequenceId: string; stepId: string | null; count: number; reason: string }>;
}

export interface SequenceRunner {
  sequences(): Sequence[];
  enroll(sequenceId: string, leadId: string, now: Date): Promise<EnrollOutcome>;
  runStep(job: StepJob, now: Date): Promise<void>;
  /** Leases up to `limit` due emails for `worker` and sends them as one batch; returns how many it leased. */
  dispatchDueEmails(worker: string, limit: number, now: Date): Promise<number>;
  /** Runs email steps of the queue as one batch (dispatchDueEmails, once the rows are leased). */
  runEmailBatch(rows: QueuedEmail[], now: Date): Promise<void>;
  /** Worker start: reconciles enrollments with edited files. */
  prepare(): Promise<ReconcileReport>;
  /**
   * Every role, at start and every minute: tells the database which changes to queue for this
   * content's triggers, queueing the last hour's changes for a trigger it did not know yet.
   */
  registerTriggers(now: Date): Promise<void>;
  /** Enrolls leads for queued changes `worker` leases; returns how many changes it handled (0: none to take). */
  processTriggers(worker: string, now: Date, limit?: number): Promise<number>;
  /** Marks sends whose process died mid-send as unknown; returns how many. */
  sweepInterruptedSends(now: Date): Promise<number>;
  /** Schedules a job for active enrollments left without one by a crash; returns how many. */
  rescheduleOrphans(now: Date): Promise<number>;
}

/** What a webhook step needs of the webhook sender (src/webhooks). */
export interface WebhookPort {
  send(input: { url: string; id: string; payload: unknown; secrets: string[] }): Promise<WebhookResult>;
}

export type WebhookResult =
  | { kind: 'delivered'; status: number }
  | { kind: 'retry'; status?: number; retryAfterMs?: number; reason: string }
  | { kind: 'gone' | 'failed'; status: number; reason?: string }
  | { kind: 'refused'; reason: string };

/** What a handoff step needs of the handoff module (src/handoff/step-handoff.ts). */
export interface HandoffPort {
  handOverAtStep(input: { leadId: string; sequence: { id: string; name: string }; stepId: string; reason: string | null; now: Date }): Promise<HandOverOutcome>;
}

export type HandOverOutcome = { kind: 'handed_off' } | { kind: 'not_handed_off'; reason: string };

export interface RunnerDeps {
  db: Kysely<Database>;
  leads: LeadsService;
  delivery: EmailDelivery;
  /** The channel email steps send through; by default the email channel over `delivery`. */
  channel?: Channel;
  queue: JobQueue;
  logger: Logger;
  sequences: Sequence[];
  /** Whether a template is marketing email (counts against the cap) rather than transactional. */
  isMarketing: (template: string) => boolean;
  frequencyCap: FrequencyCap | null;
  /** `retryDelayMs(n)`: the wait after failed attempt n (1 is the first), null to give up. */
  webhooks: { sender: WebhookPort; secrets: Record<string, string>; retryDelayMs: (attempt: number) => number | null };
  /** The handoff service, tied late (it is built after the runner); null without a sales team. */
  handoff?: () => HandoffPort | null;
}

export function createSequenceRunner(deps: RunnerDeps): SequenceRunner {
  const engine = createEngine(deps);
  const enroll = (sequenceId: string, leadId: string, now: Date) => enrollLead(engine, sequenceId, leadId, now);
  const reconciler = createReconciler(engine, enroll);
  return {
    sequences: () => deps.sequences,
    enroll,
    runStep: (job, now) => runStep(engine, job, now),
    dispatchDueEmails: (worker, limit, now) => dispatchDueEmails(engine, worker, limit, now),
    runEmailBatch: (rows, now) => runEmailBatch(engine, rows, now),
    ...reconciler,
  };
}
