import { decodeCursor, encodeCursor, toPage } from '../../src/platform/pagination.js';

describe('cursors', () => {
  it('round-trips a position', () => {
    const position = { at: new Date('2026-02-03T04:05:06.789Z'), id: '0b9c4bde-2f7e-4d55-9a43-6c8e0c2f1a10' };
    expect(decodeCursor(encodeCursor(position))).toEqual(position);
  });

  it.each([
    ['not base64 JSON', 'zzz'],
    ['JSON but not a pair', Buffer.from('{"a":1}').toString('base64url')],
    ['a bad date', Buffer.from('["nope","0b9c4bde-2f7e-4d55-9a43-6c8e0c2f1a10"]').toString('base64url')],
    ['a bad id', Buffer.from('["2026-01-01T00:00:00Z","1; drop table leads"]').toString('base64url')],
  ])('refuses %s with invalid_cursor naming the cursor', (_name, cursor) => {
    expect(() => decodeCursor(cursor)).toThrow(expect.objectContaining({ code: 'invalid_cursor', details: [expect.objectContaining({ field: 'cursor' })] }));
  });
});

describe('toPage', () => {
  const rows = [1, 2, 3].map((n) => ({ n, at: new Date(n * 1000), id: `00000000-0000-4000-8000-00000000000${n}` }));

  it('gives a next cursor only when an extra row was fetched', () => {
    const full = toPage(
      rows,
      2,
      (row) => row,
      (row) => row.n,
    );
    expect(full.items).toEqual([1, 2]);
    expect(decodeCursor(full.nextCursor ?? '')).toEqual({ at: rows[1]?.at, id: rows[1]?.id });
    expect(
      toPage(
        rows,
        3,
        (row) => row,
        (row) => row.n,
      ).nextCursor,
    ).toBeNull();
  });
});
