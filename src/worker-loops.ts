import type { HandoffService } from './handoff/handoff.service.js';
import type { SequenceRunner } from './enrollments/sequence-runner.js';
import { isDatabaseDown } from './platform/db/database-errors.js';
import type { Logger } from './platform/logger.js';
import type { ScoringService } from './scoring/scoring.service.js';
import type { WebhookDeliveriesService } from './webhooks/webhook-deliveries.service.js';
import type { ExperimentsService } from './experiments/experiments.service.js';

/*
 * A worker's loops besides Agenda's jobs, each a `startLoop`: one run at a time, a failed run
 * logged and tried again at the next tick (a database outage only at debug level: the database
 * handle logs it once).
 */

/** Emails a worker leases and sends as one batch, and how many batches it runs at once. */
const EMAIL_BATCH_SIZE = 50;
const EMAIL_LANES = 3;
/** How often an idle worker looks for due emails: the floor of enrollment-to-first-email latency. */
const EMAIL_POLL_MS = 200;

/**
 * A worker's loops besides Agenda's jobs: sending due emails in batches (every 200 ms, draining the
 * queue, EMAIL_LANES batches at once), enrolling leads for queued trigger changes (every second,
 * and at once again while the queue is full), and marking sends interrupted by a crash.
 */
export function startBackgroundWork(runner: SequenceRunner, logger: Logger, workerName: string): { stop(): Promise<void> } {
  const lanes = Array.from({ length: EMAIL_LANES }, () =>
    startLoop('email dispatch', EMAIL_POLL_MS, logger, async (stopped) => {
      while (!stopped() && (await runner.dispatchDueEmails(workerName, EMAIL_BATCH_SIZE, new Date())) > 0);
    }),
  );
  let running: Promise<void> | null = null;
  let stopped = false;
  let lastSweep = 0;
  const tick = async () => {
    const now = new Date();
    if (now.getTime() - lastSweep > 30_000) {
      lastSweep = now.getTime();
      await runner.sweepInterruptedSends(now);
      await runner.rescheduleOrphans(now);
    }
    while (!stopped && (await runner.processTriggers(workerName, new Date())) > 0);
  };
  const timer = setInterval(() => {
    // One tick at a time: a slow drain is not stacked upon by the next second's tick.
    running ??= tick()
      .catch((error: unknown) => logWorkFailure(logger, error, 'background work failed; retrying in a second'))
      .finally(() => (running = null));
  }, 1000);
  return {
    async stop() {
      stopped = true;
      clearInterval(timer);
      await Promise.all([running, ...lanes.map((lane) => lane.stop())]);
    },
  };
}

/** How often a worker looks for leads to rescore: the floor of event-to-handoff latency. */
const SCORING_POLL_MS = 200;
const SCORE_DECAY_EVERY_MS = 60 * 60_000;

/**
 * A worker's scoring loops: rescoring leads with new events (every 200 ms, draining the queue),
 * handoff notifications (at once when a handoff commits, and every second for retries), SLA
 * reminders and reassignments, and the hourly decay pass.
 */
export function startScoringWork(
  scoring: ScoringService,
  handoffs: HandoffService | null,
  logger: Logger,
): { stop(): Promise<void>; kickNotifications(): void } {
  const loops = [
    startLoop('rescoring', SCORING_POLL_MS, logger, async (stopped) => {
      while (!stopped() && (await scoring.processQueue(new Date())) > 0);
    }),
    startLoop('score decay', SCORE_DECAY_EVERY_MS, logger, async () => {
      const count = await scoring.decayAll(new Date(), SCORE_DECAY_EVERY_MS);
      if (count > 0) logger.info({ leads: count }, 'scores decayed');
    }),
  ];
  const notifications = handoffs
    ? startLoop('handoff notifications', 1000, logger, async (stopped) => {
        while (!stopped() && (await handoffs.deliverDue(new Date())) > 0);
        await handoffs.enforceSla(new Date());
        while (!stopped() && (await handoffs.deliverDue(new Date())) > 0);
      })
    : null;
  if (notifications) loops.push(notifications);
  return {
    kickNotifications: () => notifications?.kick(),
    async stop() {
      await Promise.all(loops.map((loop) => loop.stop()));
    },
  };
}

/** How often a worker looks for due lifecycle webhooks: the floor of change-to-webhook latency. */
const WEBHOOK_POLL_MS = 500;

/** Sends due lifecycle webhooks; once an hour, forgets finished deliveries past the log's age. */
export function startWebhookWork(deliveries: WebhookDeliveriesService, logger: Logger): { stop(): Promise<void> } {
  const loops = [
    startLoop('lifecycle webhooks', WEBHOOK_POLL_MS, logger, async (stopped) => {
      while (!stopped() && (await deliveries.deliverDue(new Date())) > 0);
    }),
    startLoop('webhook log pruning', 60 * 60_000, logger, async () => {
      await deliveries.prune(new Date());
    }),
  ];
  return {
    async stop() {
      await Promise.all(loops.map((loop) => loop.stop()));
      // An endpoint's lane may still be sending: let it finish before the database closes, or its
      // delivery is retried after the take expires and the receiver gets it twice.
      await deliveries.settle();
    },
  };
}

/** How often a worker checks the splits' winner rules (docs/experiments.md). */
const WINNER_CHECK_MS = 60_000;

/** Records a split's winner once its `winner:` rule is met; exactly once across workers (the table's key). */
export function startExperimentWork(experiments: ExperimentsService, logger: Logger): { stop(): Promise<void> } {
  const loop = startLoop('experiment winners', WINNER_CHECK_MS, logger, async () => {
    await experiments.judgeWinners(new Date());
  });
  loop.kick();
  return loop;
}

/** Runs `work` every `intervalMs`, one run at a time; `kick` runs it now (or right after the current run). */
export function startLoop(
  name: string,
  intervalMs: number,
  logger: Logger,
  work: (stopped: () => boolean) => Promise<void>,
): { stop(): Promise<void>; kick(): void } {
  let running: Promise<void> | null = null;
  let again = false;
  let stopped = false;
  const run = () => {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = work(() => stopped)
      .catch((error: unknown) => logWorkFailure(logger, error, `${name} failed; trying again shortly`))
      .finally(() => {
        running = null;
        if (again) {
          again = false;
          run();
        }
      });
  };
  const timer = setInterval(run, intervalMs);
  return {
    kick: run,
    async stop() {
      stopped = true;
      clearInterval(timer);
      await running;
    },
  };
}

/** While the database is away every loop fails each tick: the outage is logged once, by the database handle. */
function logWorkFailure(logger: Logger, error: unknown, message: string): void {
  if (isDatabaseDown(error)) logger.debug({ err: error }, message);
  else logger.error({ err: error }, message);
}
