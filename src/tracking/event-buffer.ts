/*
 * Tracking writes events in batches: a click or open answers at once and its event joins the
 * next batch, written at least every second, when the batch is full, and on shutdown. A failed
 * write keeps its events for the next attempt, so a database blip loses nothing.
 *
 * Two hazards while the database is away: the queue grows with every click, and the first write
 * afterwards would be one enormous statement (past ~1.8M events its JSON exceeds V8's longest
 * string, and it would fail forever). So writes go at most `maxBatch` events at a time, and the
 * queue holds at most `maxPending`: past that a click still redirects, but its event is dropped
 * and counted (`dropped()`), never the process's memory.
 */

export interface EventBuffer<Event> {
  /** Queues an event; false when the queue is full and the event was dropped. */
  push(event: Event): boolean;
  /** Writes what is queued now (and waits for a write already under way). */
  flush(): Promise<void>;
  /** Stops the timer and writes everything left, retrying a few times before giving up. */
  close(): Promise<void>;
  pending(): number;
  /** Events dropped because the queue was full, or refused by the database for their data, since start. */
  dropped(): number;
}

export interface EventBufferOptions {
  maxDelayMs?: number;
  maxBatch?: number;
  /** The most events kept while writes fail; later ones are dropped and counted. */
  maxPending?: number;
  onError?: (error: unknown, pending: number) => void;
  /** Called on the first event dropped after the queue filled up (once per fill, not per event). */
  onFull?: (maxPending: number) => void;
  /** An event the database refuses for what it holds (not for being away): dropped, never retried. */
  onRejected?: (error: unknown) => void;
}

/*
 * A batch the database refuses for its data (SQLSTATE class 22: a NUL or a lone surrogate in a
 * string, text that is not JSON) would fail on every retry and hold up everything behind it. Such
 * a batch is written again one event at a time, and only the events refused for their data are
 * dropped. Anything else (the database away, a timeout) keeps the batch for the next attempt.
 */
function refusedForItsData(error: unknown): boolean {
  return typeof error === 'object' && error !== null && 'code' in error && typeof error.code === 'string' && error.code.startsWith('22');
}

export const DEFAULT_MAX_PENDING_EVENTS = 50_000;

export function createEventBuffer<Event>(write: (events: Event[]) => Promise<void>, options: EventBufferOptions = {}): EventBuffer<Event> {
  const maxDelayMs = options.maxDelayMs ?? 1000;
  const maxBatch = options.maxBatch ?? 500;
  const maxPending = options.maxPending ?? DEFAULT_MAX_PENDING_EVENTS;
  let queue: Event[] = [];
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();
  let closed = false;
  let droppedCount = 0;
  let full = false;

  const schedule = () => {
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = null;
      void flush();
    }, maxDelayMs);
    // Pending events never keep a process alive on their own: close() writes them.
    timer.unref();
  };

  /** Writes the queue a batch at a time, oldest first; stops at the first failure and retries later. */
  // Events before `head` are written; they are cut from the queue once per pass, not per batch,
  // since a long backlog would otherwise be copied again for every 500 events written.
  let head = 0;
  const pendingCount = () => queue.length - head;

  const writeQueued = async () => {
    try {
      while (head < queue.length) {
        const batch = queue.slice(head, head + maxBatch);
        try {
          await write(batch);
        } catch (error) {
          if (!refusedForItsData(error)) {
            options.onError?.(error, pendingCount());
            schedule();
            return;
          }
          for (const event of batch) {
            try {
              await write([event]);
            } catch (single) {
              if (!refusedForItsData(single)) {
                options.onError?.(single, pendingCount());
                schedule();
                return;
              }
              droppedCount += 1;
              options.onRejected?.(single);
            }
            head += 1;
          }
          continue;
        }
        head += batch.length;
      }
    } finally {
      // Events pushed meanwhile were appended behind; only what was written leaves.
      queue = head === queue.length ? [] : queue.slice(head);
      head = 0;
      if (queue.length < maxPending) full = false;
    }
  };

  const flush = () => {
    writing = writing.then(writeQueued);
    return writing;
  };

  return {
    push(event) {
      if (pendingCount() >= maxPending) {
        droppedCount++;
        if (!full) options.onFull?.(maxPending);
        full = true;
        return false;
      }
      queue.push(event);
      if (pendingCount() === maxBatch) void flush();
      else schedule();
      return true;
    },
    flush,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      for (let attempt = 0; attempt < 5 && (pendingCount() > 0 || attempt === 0); attempt++) {
        await flush();
        if (pendingCount() > 0) await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
      }
    },
    pending: pendingCount,
    dropped: () => droppedCount,
  };
}
