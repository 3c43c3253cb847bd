import { markInterruptedSends } from '../sends/sends.repository.js';
import { goalInterests, sequencesStartedBy, triggerInterests, type LeadChange } from '../sequences/triggers.js';
import {
  activePositions,
  drainTriggerQueue,
  orphanedEnrollments,
  parkAt,
  registerTriggerInterests,
  replaceSequenceGoals,
  repin,
} from './enrollments.repository.js';
import type { Engine } from './engine.js';
import type { EnrollOutcome, ReconcileReport, SequenceRunner } from './sequence-runner.js';

/*
 * Squares the database with this process's content and with crashes: enrollments of edited
 * files move onto the new version (or are parked when their step is gone), automatic triggers
 * enroll leads (the database's trigger queue, migrations 0005 and 0012), enrollments a crash
 * left without a job get one, and sends a dead process left mid-send are marked.
 */

/** A claim older than this whose process never recorded the SMTP answer died mid-send. */
const INTERRUPTED_AFTER_MS = 10 * 60_000;
/** An active enrollment with no pending job for this long was stranded by a crash. */
const ORPHAN_AFTER_MS = 60_000;
/** How long a worker's lease on queued trigger changes lasts; renewed while it works, so a killed worker's rows wait at most this. */
const TRIGGER_LEASE_MS = 15_000;
/** A trigger new to the database has the changes of this last stretch queued for it (docs/architecture.md). */
const TRIGGER_REPLAY_MS = 60 * 60_000;
/** An interest no process refreshed for this long (every process does every minute) is dropped. */
const TRIGGER_INTEREST_TTL_MS = 60 * 60_000;

type Reconciler = Pick<SequenceRunner, 'prepare' | 'registerTriggers' | 'processTriggers' | 'rescheduleOrphans' | 'sweepInterruptedSends'>;

export function createReconciler(engine: Engine, enroll: (sequenceId: string, leadId: string, now: Date) => Promise<EnrollOutcome>): Reconciler {
  const { deps, byId } = engine;
  const interests = triggerInterests(deps.sequences);
  return {
    async registerTriggers(now) {
      const added = await registerTriggerInterests(
        deps.db,
        interests,
        new Date(now.getTime() - TRIGGER_REPLAY_MS),
        new Date(now.getTime() - TRIGGER_INTEREST_TTL_MS),
      );
      if (added.length > 0) deps.logger.info({ triggers: added }, 'triggers new to the database: the changes of the last hour are queued for them');
    },

    async prepare() {
      // Goals are reached in the transaction of their event (migration 0009), not when a step runs.
      await replaceSequenceGoals(deps.db, goalInterests(deps.sequences));
      const report: ReconcileReport = { repinned: {}, parked: [] };
      const positions = await activePositions(deps.db);
      for (const sequenceId of new Set(positions.map((position) => position.sequence_id))) {
        const sequence = byId.get(sequenceId);
        if (!sequence) {
          const reason = `sequence ${sequenceId} no longer exists`;
          const count = await parkAt(deps.db, sequenceId, null, reason);
          if (count > 0) report.parked.push({ sequenceId, stepId: null, count, reason });
          continue;
        }
        const stepIds = new Set(sequence.steps.map((step) => step.id));
        for (const position of positions.filter((candidate) => candidate.sequence_id === sequenceId)) {
          if (position.current_step !== null && stepIds.has(position.current_step)) continue;
          const reason = `step ${position.current_step ?? '(none)'} no longer exists in ${sequenceId} version ${sequence.version}`;
          const count = await parkAt(deps.db, sequenceId, position.current_step, reason);
          if (count > 0) report.parked.push({ sequenceId, stepId: position.current_step, count, reason });
        }
        const moved = await repin(deps.db, sequenceId, sequence.version, sequence.hash);
        if (moved.length > 0) report.repinned[sequenceId] = moved.length;
        // A wait or goal may have a new length: look again now (a job for the old time finds the
        // step already left, or simply re-checks the same deadline).
        const timed = new Set(sequence.steps.filter((step) => step.kind === 'wait' || step.kind === 'goal').map((step) => step.id));
        for (const enrollment of moved) {
          if (enrollment.current_step && timed.has(enrollment.current_step))
            await deps.queue.schedule(new Date(), { enrollmentId: enrollment.id, stepId: enrollment.current_step });
        }
      }
      for (const parked of report.parked) deps.logger.warn(parked, 'enrollments parked: their step is gone from the edited sequence');
      for (const [sequenceId, count] of Object.entries(report.repinned))
        deps.logger.info(
          { sequenceId, count, version: byId.get(sequenceId)?.version },
          'in-flight enrollments continue on the edited sequence at the same step ids',
        );
      return report;
    },

    async processTriggers(worker, now, limit = 200) {
      return drainTriggerQueue(deps.db, worker, interests, limit, TRIGGER_LEASE_MS, async (rows, held) => {
        for (const row of rows) {
          // Another worker took the rest over (this one stalled past its lease): they are its now.
          if (!held(row.id)) break;
          const change: LeadChange =
            row.kind === 'event'
              ? { kind: 'event', type: row.key, properties: row.properties }
              : row.kind === 'tag_added'
                ? { kind: 'tag_added', tag: row.key }
                : { kind: 'lead_created' };
          for (const sequence of sequencesStartedBy(change, deps.sequences)) {
            const outcome = await enroll(sequence.id, row.lead_id, now);
            if (outcome.kind === 'enrolled') deps.logger.debug({ sequenceId: sequence.id, leadId: row.lead_id, trigger: row.kind }, 'lead enrolled by trigger');
          }
        }
      });
    },

    async rescheduleOrphans(now) {
      const orphans = await orphanedEnrollments(deps.db, new Date(now.getTime() - ORPHAN_AFTER_MS), 1000);
      for (const orphan of orphans) await engine.scheduleStep(byId.get(orphan.sequence_id), { enrollmentId: orphan.id, stepId: orphan.current_step }, now);
      if (orphans.length > 0)
        deps.logger.warn({ count: orphans.length }, 'enrollments left without a step job (a worker died between two writes) are scheduled again');
      return orphans.length;
    },

    async sweepInterruptedSends(now) {
      const count = await markInterruptedSends(deps.db, new Date(now.getTime() - INTERRUPTED_AFTER_MS));
      if (count > 0)
        deps.logger.warn(
          { count },
          'sends whose process died are marked: unknown when handed to SMTP (never resent), not_sent otherwise (sent on the next attempt)',
        );
      return count;
    },
  };
}
