/*
 * Tracking writes events in batches: a click or open answers at once and its event joins the
 * next batch, written at least every second, when the batch is full, and on shutdown. A failed
 * write keeps its events for the next attempt, so a database blip loses nothing.
 */

export interface EventBuffer<Event> {
  push(event: Event): void;
  /** Writes what is queued now (and waits for a write already under way). */
  flush(): Promise<void>;
  /** Stops the timer and writes everything left, retrying a few times before giving up. */
  close(): Promise<void>;
  pending(): number;
}

export interface EventBufferOptions {
  maxDelayMs?: number;
  maxBatch?: number;
  onError?: (error: unknown, pending: number) => void;
}

export function createEventBuffer<Event>(write: (events: Event[]) => Promise<void>, options: EventBufferOptions = {}): EventBuffer<Event> {
  const maxDelayMs = options.maxDelayMs ?? 1000;
  const maxBatch = options.maxBatch ?? 500;
  let queue: Event[] = [];
  let timer: NodeJS.Timeout | null = null;
  let writing: Promise<void> = Promise.resolve();
  let closed = false;

  const schedule = () => {
    if (timer || closed) return;
    timer = setTimeout(() => {
      timer = null;
      void flush();
    }, maxDelayMs);
    // Pending events never keep a process alive on their own: close() writes them.
    timer.unref();
  };

  const writeQueued = async () => {
    if (queue.length === 0) return;
    const batch = queue;
    queue = [];
    try {
      await write(batch);
    } catch (error) {
      queue = [...batch, ...queue];
      options.onError?.(error, queue.length);
      schedule();
    }
  };

  const flush = () => {
    writing = writing.then(writeQueued);
    return writing;
  };

  return {
    push(event) {
      queue.push(event);
      if (queue.length >= maxBatch) void flush();
      else schedule();
    },
    flush,
    async close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = null;
      for (let attempt = 0; attempt < 5 && (queue.length > 0 || attempt === 0); attempt++) {
        await flush();
        if (queue.length > 0) await new Promise((resolve) => setTimeout(resolve, 200 * (attempt + 1)));
      }
    },
    pending: () => queue.length,
  };
}
