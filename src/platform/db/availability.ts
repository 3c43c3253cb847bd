import type { PostgresCursor, PostgresPool, PostgresPoolClient, PostgresQueryResult } from 'kysely';
import pg from 'pg';
import { DatabaseUnavailableError, isDatabaseDown } from './database-errors.js';

/*
 * Knows whether the database answers, and makes Baton's queries fail fast while it does not.
 *
 * A server that restarts cuts every connection (57P01): the first query to fail that way makes
 * the watchdog probe at once, and a probe that cannot reach the server marks the database down. A frozen server (SIGSTOP, a stalled VM, a network partition) cuts nothing:
 * queries simply never come back. So a watchdog looks at the oldest query in flight, and when one
 * has waited 0.4 s it probes the server on a connection of its own; a probe that gets no answer
 * within 0.8 s marks the database down too.
 *
 * While down, every query through `pool` (the pool Kysely uses) is refused at once with
 * DatabaseUnavailableError, and the queries in flight are abandoned (their connections are
 * destroyed, not reused): HTTP answers 503 within two seconds instead of hanging. A probe every
 * quarter second notices the server is back. Agenda uses the raw pool and its own retries.
 */

export type AvailabilityState = 'up' | 'down';

export interface DatabaseAvailability {
  state(): AvailabilityState;
  /** The pool for Kysely: the raw pool behind the gate. */
  pool: PostgresPool;
  /** Called on each change of state, with the error that took the database down. */
  onChange(listener: (state: AvailabilityState, cause: unknown) => void): void;
  close(): void;
}

export interface AvailabilityOptions {
  /** A query in flight this long makes the watchdog probe the server. */
  stallMs?: number;
  /** How long a probe may take before the server counts as not answering. */
  probeTimeoutMs?: number;
  /** How often to probe while down. */
  probeEveryMs?: number;
  /**
   * Whether a stalled query makes the watchdog probe. Off for embedded PGlite: it lives in this
   * process, so it cannot freeze on its own, and its one backend serves a long transaction
   * before anything else, so a probe would wait behind it and call a busy database down.
   */
  watchStalls?: boolean;
}

interface InFlight {
  startedAt: number;
  abandon(error: DatabaseUnavailableError): void;
}

export function watchAvailability(raw: pg.Pool, options: AvailabilityOptions = {}): DatabaseAvailability {
  // A request in flight when the server froze gets its 503 after at most stall + tick + probe.
  const stallMs = options.stallMs ?? 400;
  const probeTimeoutMs = options.probeTimeoutMs ?? 800;
  const watchStalls = options.watchStalls ?? true;
  const probeEveryMs = options.probeEveryMs ?? 250;
  let state: AvailabilityState = 'up';
  let probing = false;
  let closed = false;
  const inFlight = new Set<InFlight>();
  const listeners: Array<(state: AvailabilityState, cause: unknown) => void> = [];
  const prober = createProber(raw, probeTimeoutMs);

  const setState = (next: AvailabilityState, cause: unknown) => {
    if (next === state) return;
    state = next;
    if (next === 'down') {
      const error = new DatabaseUnavailableError();
      for (const operation of [...inFlight]) operation.abandon(error);
    }
    for (const listener of listeners) listener(next, cause);
  };

  // Only a probe decides "down": one broken connection, a pool that is merely full, or a server
  // refusing more clients (53300: busy, not gone) must not fail every request in flight.
  const probe = async () => {
    if (probing || closed) return;
    probing = true;
    try {
      await prober.probe();
      setState('up', null);
    } catch (error) {
      if (!isServerBusy(error)) setState('down', error);
    } finally {
      probing = false;
    }
  };

  const watchdog = setInterval(() => {
    if (state === 'down') {
      void probe();
      return;
    }
    if (!watchStalls) return;
    const now = Date.now();
    for (const operation of inFlight) {
      if (now - operation.startedAt > stallMs) {
        void probe();
        return;
      }
    }
  }, probeEveryMs);
  watchdog.unref();

  /** A connection-class failure: the probe decides whether the database is down. */
  const suspectDown = () => {
    if (state === 'up') void probe();
  };

  /** Runs one operation against the database unless it is down, and abandons it if it goes down. */
  function guarded<T>(start: () => Promise<T>, onAbandon: () => void, onLateResult: (value: T) => void = () => undefined): Promise<T> {
    if (state === 'down') {
      onAbandon();
      return Promise.reject(new DatabaseUnavailableError());
    }
    return new Promise<T>((resolve, reject) => {
      const operation: InFlight = {
        startedAt: Date.now(),
        abandon(error) {
          inFlight.delete(operation);
          onAbandon();
          reject(error);
        },
      };
      inFlight.add(operation);
      let started: Promise<T>;
      try {
        started = start();
      } catch (error) {
        inFlight.delete(operation);
        reject(error);
        return;
      }
      started.then(
        (value) => {
          if (!inFlight.delete(operation)) {
            onLateResult(value);
            return;
          }
          resolve(value);
        },
        (error: unknown) => {
          if (!inFlight.delete(operation)) return;
          if (!isDatabaseDown(error)) return reject(error);
          onAbandon();
          suspectDown();
          reject(new DatabaseUnavailableError(`the database is not answering (${describe(error)})`));
        },
      );
    });
  }

  // A wrapper per checkout: its `abandoned` flag speaks of this use of the connection only.
  const wrap = (client: pg.PoolClient): PostgresPoolClient => {
    // Set when a query on this connection was refused, abandoned or cut: its transaction may still
    // be open (a refused ROLLBACK), or its server gone, so the connection must not serve anyone else.
    let abandoned = false;
    const query = <R>(sqlOrCursor: string | PostgresCursor<R>, parameters?: ReadonlyArray<unknown>): Promise<PostgresQueryResult<R>> | PostgresCursor<R> => {
      if (typeof sqlOrCursor !== 'string') return client.query(sqlOrCursor as never) as PostgresCursor<R>;
      // Kysely hands over a fresh array already: no second copy on the hot path.
      return guarded(
        () => client.query(sqlOrCursor, parameters as unknown[] | undefined) as unknown as Promise<PostgresQueryResult<R>>,
        () => (abandoned = true),
      );
    };
    return {
      query: query as PostgresPoolClient['query'],
      release(destroy) {
        // A connection whose query was abandoned may still be waiting on a frozen server: never reuse it.
        client.release(abandoned || destroy === true ? new DatabaseUnavailableError('connection abandoned') : undefined);
      },
    };
  };

  const gated: PostgresPool = {
    async connect() {
      // A connection that arrives after its caller was told the database is down goes back, destroyed.
      const client = await guarded(
        () => raw.connect(),
        () => undefined,
        (late) => late.release(new DatabaseUnavailableError('connection abandoned')),
      );
      return wrap(client);
    },
    end: () => raw.end(),
  };

  return {
    state: () => state,
    pool: gated,
    onChange: (listener) => void listeners.push(listener),
    close() {
      closed = true;
      clearInterval(watchdog);
      prober.close();
    },
  };
}

/**
 * Asks the server `select 1` on a connection of the prober's own (the pool may be full of stuck
 * ones), kept open between probes so that a probe costs one round trip, not a connection; a
 * probe that fails or times out throws its connection away.
 */
function createProber(raw: pg.Pool, timeoutMs: number): { probe(): Promise<void>; close(): void } {
  let client: pg.Client | null = null;
  let lastAnswerAt = 0;
  const discard = (old: pg.Client | null) => {
    if (client === old) client = null;
    void old?.end().catch(() => undefined);
  };
  const ask = async (fresh: boolean) => {
    if (fresh || !client) {
      discard(client);
      const opened = new pg.Client({ ...raw.options, connectionTimeoutMillis: timeoutMs, query_timeout: timeoutMs });
      // A kept connection that dies while idle (a restart) is forgotten at once.
      opened.on('error', () => discard(opened));
      opened.on('end', () => discard(opened));
      client = opened;
      await opened.connect();
    }
    await client.query('select 1');
    lastAnswerAt = Date.now();
  };
  return {
    async probe() {
      // A connection quiet for long may have been cut silently (a NAT's idle timeout): start afresh.
      const reuse = client !== null && Date.now() - lastAnswerAt < KEPT_PROBE_CONNECTION_MS;
      try {
        await ask(!reuse);
      } catch (error) {
        discard(client);
        // A kept connection that was cut (not one that timed out: that is the server not
        // answering) is tried once more on a fresh one before the database counts as down.
        if (!reuse || /timeout/i.test(describe(error))) throw error;
        try {
          await ask(true);
        } catch (again) {
          discard(client);
          throw again;
        }
      }
    },
    close: () => discard(client),
  };
}

/** How long the prober keeps using a connection that last answered this long ago. */
const KEPT_PROBE_CONNECTION_MS = 30_000;

/** "Too many clients" (53300): the server answers, it is only full; not a reason to fail every request. */
function isServerBusy(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && error.code === '53300';
}

function describe(error: unknown): string {
  if (error instanceof Error) return 'code' in error && typeof error.code === 'string' ? `${error.code}: ${error.message}` : error.message;
  return String(error);
}
