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
    const buffer = createEventBuffer<number>(async (events) => {
      if (failures-- > 0) throw new Error('database blip');
      written.push(events);
    }, { maxDelayMs: 20, onError: (_error, pending) => errors.push(pending) });
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
});
