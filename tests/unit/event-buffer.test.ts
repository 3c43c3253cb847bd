import { createEventBuffer } from '../../src/tracking/event-buffer.js';

describe('event buffer', () => {
  it('writes within the delay, in batches, and everything left on close', async () => {
    const written: number[][] = [];
    const buffer = createEventBuffer<number>(async (events) => void written.push(events), { maxDelayMs: 50, maxBatch: 3 });
    buffer.push(1);
    buffer.push(2);
    expect(written).toEqual([]);
    buffer.push(3);
    await buffer.flush();
    expect(written).toEqual([[1, 2, 3]]);
    buffer.push(4);
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(written).toEqual([[1, 2, 3], [4]]);
    buffer.push(5);
    await buffer.close();
    expect(written).toEqual([[1, 2, 3], [4], [5]]);
  });

  it('keeps events whose write failed and writes them on the next attempt', async () => {
    const written: number[][] = [];
    let failures = 1;
    const errors: number[] = [];
    const buffer = createEventBuffer<number>(
      async (events) => {
        if (failures-- > 0) throw new Error('database blip');
        written.push(events);
      },
      { maxDelayMs: 20, onError: (_error, pending) => errors.push(pending) },
    );
    buffer.push(1);
    buffer.push(2);
    await buffer.flush();
    expect(written).toEqual([]);
    expect(errors).toEqual([2]);
    buffer.push(3);
    await buffer.close();
    expect(written.flat()).toEqual([1, 2, 3]);
    expect(buffer.pending()).toBe(0);
  });

  it('writes a long backlog a batch at a time, oldest first, never as one statement', async () => {
    const written: number[][] = [];
    let down = true;
    const buffer = createEventBuffer<number>(
      async (events) => {
        if (down) throw new Error('database away');
        written.push(events);
      },
      { maxDelayMs: 10_000, maxBatch: 4 },
    );
    for (let n = 1; n <= 10; n++) buffer.push(n);
    await buffer.flush();
    expect(written).toEqual([]);
    down = false;
    await buffer.flush();
    expect(written).toEqual([
      [1, 2, 3, 4],
      [5, 6, 7, 8],
      [9, 10],
    ]);
    expect(buffer.pending()).toBe(0);
    await buffer.close();
  });

  it('holds at most maxPending events while writes fail, then drops and counts the rest', async () => {
    const written: number[] = [];
    let down = true;
    const fullWarnings: number[] = [];
    const buffer = createEventBuffer<number>(
      async (events) => {
        if (down) throw new Error('database away');
        written.push(...events);
      },
      { maxDelayMs: 10_000, maxBatch: 2, maxPending: 5, onFull: (max) => fullWarnings.push(max) },
    );
    const accepted = Array.from({ length: 8 }, (_, index) => buffer.push(index + 1));
    expect(accepted).toEqual([true, true, true, true, true, false, false, false]);
    expect({ pending: buffer.pending(), dropped: buffer.dropped(), fullWarnings }).toEqual({ pending: 5, dropped: 3, fullWarnings: [5] });
    down = false;
    await buffer.flush();
    expect(written).toEqual([1, 2, 3, 4, 5]);
    // Room again: new events are kept, and a later fill warns again.
    expect(buffer.push(9)).toBe(true);
    await buffer.close();
    expect(written).toEqual([1, 2, 3, 4, 5, 9]);
    expect(buffer.dropped()).toBe(3);
  });

  it('drops only the events the database refuses for their data, and writes the rest of their batch', async () => {
    const written: number[] = [];
    const rejected: unknown[] = [];
    // As PostgreSQL answers a NUL in jsonb text: SQLSTATE 22P05, for the whole statement.
    const refusal = Object.assign(new Error('unsupported Unicode escape sequence'), { code: '22P05' });
    const buffer = createEventBuffer<number>(
      async (events) => {
        if (events.includes(13)) throw refusal;
        written.push(...events);
      },
      { maxDelayMs: 20, maxBatch: 5, onRejected: (error) => rejected.push(error) },
    );
    for (let event = 10; event < 20; event++) buffer.push(event);
    await buffer.flush();
    expect(written).toEqual([10, 11, 12, 14, 15, 16, 17, 18, 19]);
    expect(rejected).toEqual([refusal]);
    expect(buffer.dropped()).toBe(1);
    expect(buffer.pending()).toBe(0);
    await buffer.close();
  });

  it('keeps a batch that fails for any other reason, as before (a database away is not bad data)', async () => {
    const written: number[] = [];
    let down = true;
    const buffer = createEventBuffer<number>(
      async (events) => {
        if (down) throw Object.assign(new Error('connection refused'), { code: 'ECONNREFUSED' });
        written.push(...events);
      },
      { maxDelayMs: 20 },
    );
    buffer.push(1);
    buffer.push(2);
    await buffer.flush();
    expect(buffer.pending()).toBe(2);
    down = false;
    await buffer.close();
    expect(written).toEqual([1, 2]);
    expect(buffer.dropped()).toBe(0);
  });
});
