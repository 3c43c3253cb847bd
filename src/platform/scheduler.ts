import { Agenda, type Job } from 'agenda';
import { PostgresBackend } from '@agendajs/postgres-backend';
import { sql, type Kysely } from 'kysely';
import type pg from 'pg';
import type { Database } from './db/schema.js';
import { AGENDA_TABLE } from './db/migrate.js';
import type { Logger } from './logger.js';

/*
 * Agenda decides *when* work runs. It re-runs a job whose lock expired (agenda #1575, #781), so
 * a job handler must decide *whether* its effect already happened (the send ledger, for email).
 *
 * Hazard: after each run Agenda 6 leaves a lockLifetime/2 timer pending (JobProcessor's
 * checkIfJobIsStillAlive), which keeps the event loop alive after stop(); main.ts exits
 * explicitly once shutdown is done, so a stopped worker never lingers for minutes.
 */

export type JobHandler<Data> = (data: Data, job: Job<Data>) => Promise<void>;

export interface JobDefinition<Data = unknown> {
  name: string;
  handler: JobHandler<Data>;
  concurrency?: number;
  /** How long a run may hold its lock before another worker may take the job over. */
  lockLifetimeMs?: number;
  /**
   * How many due jobs one worker may lock at once. Agenda's default is no limit: a worker locks
   * every due job it finds, and if it dies they wait out their lock lifetime.
   */
  lockLimit?: number;
}

export interface Scheduler {
  agenda: Agenda;
  start(): Promise<void>;
  /** Waits for running jobs up to the timeout, then unlocks what is left for another worker. */
  stop(timeoutMs: number): Promise<void>;
}

export function createScheduler(pool: pg.Pool, logger: Logger, name: string, definitions: JobDefinition[]): Scheduler {
  // The pool is Baton's own, so stopping Agenda never closes it (the backend does not own it).
  // migrate() creates Agenda's table under the migration lock; its own ensureSchema races.
  const backend = new PostgresBackend({ pool, tableName: AGENDA_TABLE, ensureSchema: false });
  const agenda = new Agenda({ backend, name, processEvery: '5 seconds' });
  const logError = (error: unknown) => logger.error({ err: error }, 'scheduler error');
  agenda.on('error', logError);
  // The channel hands its LISTEN client back to our pool on stop with its error listener still
  // attached; without a listener of our own, a later error on that client would crash the process.
  backend.notificationChannel?.on('error', logError);
  for (const definition of definitions) {
    agenda.define(
      definition.name,
      async (job: Job<unknown>) => {
        await definition.handler(job.attrs.data, job);
      },
      { concurrency: definition.concurrency, lockLifetime: definition.lockLifetimeMs, lockLimit: definition.lockLimit },
    );
  }
  return {
    agenda,
    async start() {
      await agenda.start();
    },
    async stop(timeoutMs) {
      const result = await agenda.drain(timeoutMs);
      if (result.timedOut) logger.warn({ running: result.running }, 'jobs still running at shutdown; unlocking them for another worker');
      await agenda.stop();
    },
  };
}

/**
 * One-off jobs written straight into Agenda's table, in the caller's transaction, so that a job
 * commits together with the change it belongs to, and many cost one statement. Agenda finds them
 * by polling (every 5 s) and sends no wake-up: for jobs due later, such as the end of a wait.
 */
export async function insertJobs(db: Kysely<Database>, name: string, jobs: Array<{ at: Date; data: unknown }>): Promise<void> {
  if (jobs.length === 0) return;
  await sql`
    insert into ${sql.table(AGENDA_TABLE)} (name, next_run_at, data)
    select ${name}, at, data from unnest(${jobs.map((job) => job.at)}::timestamptz[], ${jobs.map((job) => JSON.stringify(job.data))}::jsonb[]) as j(at, data)`.execute(
    db,
  );
}
