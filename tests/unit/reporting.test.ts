import { parseDeal } from '../../src/reporting/deal-value.js';
import { percentile, wilson } from '../../src/reporting/funnel-stats.js';
import { parseReportQuery } from '../../src/reporting/report-window.js';

/* The pure parts of the funnel report: intervals, percentiles, the period and the deal. */

describe('Wilson score intervals', () => {
  // Published values (Newcombe 1998, table I; Wilson without continuity correction).
  it.each([
    [81, 263, 0.2553, 0.3662],
    [15, 148, 0.0624, 0.1605],
    [0, 20, 0, 0.1611],
    [1, 29, 0.0061, 0.1718],
  ])('%i of %i is within [%f, %f]', (successes, trials, low, high) => {
    const rate = wilson(successes, trials);
    expect(rate.low).toBeCloseTo(low, 3);
    expect(rate.high).toBeCloseTo(high, 3);
    expect(rate.rate).toBeCloseTo(successes / trials, 4);
  });

  it('has no rate without trials', () => {
    expect(wilson(0, 0)).toEqual({ rate: null, low: null, high: null });
  });
});

describe('percentiles', () => {
  it.each([
    [[1, 2, 3, 4], 0.5, 2.5],
    [[10, 1, 7], 0.5, 7],
    [[1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.9, 9.1],
    [[42], 0.9, 42],
  ])('interpolates between ranks like percentile_cont: %j at %f is %f', (values, fraction, expected) => {
    expect(percentile(values, fraction)).toBeCloseTo(expected, 9);
  });
});

describe('the report period', () => {
  const now = new Date('2026-12-08T10:00:00Z');

  it.each([
    // Midnight in Paris is 23:00 UTC in winter and 22:00 UTC in summer; `to` takes its whole day.
    [{ from: '2026-03-01', to: '2026-03-31', tz: 'Europe/Paris' }, '2026-02-28T23:00:00.000Z', '2026-03-31T22:00:00.000Z'],
    [{ from: '2026-11-01', to: '2026-11-01', tz: 'America/New_York' }, '2026-11-01T04:00:00.000Z', '2026-11-02T05:00:00.000Z'],
    [{ from: '2026-01-01T00:00:00+01:00', to: '2026-02-01T00:00:00Z' }, '2025-12-31T23:00:00.000Z', '2026-02-01T00:00:00.000Z'],
    [{}, '2025-12-08T10:00:00.000Z', '2026-12-08T10:00:00.000Z'],
  ])('%j runs from %s to %s', (input, from, to) => {
    const parsed = parseReportQuery(input, now);
    if (!parsed.ok) throw new Error(parsed.message);
    expect([parsed.query.from.toISOString(), parsed.query.to.toISOString()]).toEqual([from, to]);
  });

  it.each([
    [{ by: 'week' }, 'by', 'by must be one of source, sequence, rep, month (not "week")'],
    [{ tz: '+02:00' }, 'tz', 'tz must be an IANA time zone such as Europe/Paris (not "+02:00")'],
    [{ from: '2026-02-29' }, 'from', 'from must be a date (YYYY-MM-DD) or an ISO 8601 time with an offset'],
    [{ to: '2026-01-01', from: '2026-01-02' }, 'to', 'to must be after from'],
    [{ by: ['source', 'rep'] }, 'by', 'by must be given once'],
    [{ sort: 'asc' }, 'sort', 'sort is not a parameter of this report (from, to, by, tz)'],
  ])('%j is refused, naming %s', (input, field, message) => {
    expect(parseReportQuery(input, now)).toEqual({ ok: false, field, message });
  });
});

describe('the deal of a convert', () => {
  it.each([
    [undefined, undefined, null],
    ['', '', null],
    [1200.5, 'eur', { value: 1200.5, currency: 'EUR' }],
    ['15000', 'JPY', { value: 15000, currency: 'JPY' }],
    ['1.250', 'BHD', { value: 1.25, currency: 'BHD' }],
    ['12.340', 'EUR', { value: 12.34, currency: 'EUR' }],
  ])('%j %j is %j', (value, currency, deal) => {
    expect(parseDeal(value, currency)).toEqual({ ok: true, deal });
  });

  it.each([
    [100, undefined, 'currency', 'currency is required with a value (an ISO 4217 code such as EUR)'],
    [undefined, 'EUR', 'value', 'value is required with a currency'],
    [100, 'ZZZ', 'currency', 'currency must be an ISO 4217 code such as EUR, USD or JPY (not "ZZZ")'],
    [100, 'euro', 'currency', 'currency must be an ISO 4217 code such as EUR, USD or JPY (not "euro")'],
    ['1,200', 'EUR', 'value', 'value must be a number of zero or more, such as 1200 or 1200.50'],
    [-1, 'EUR', 'value', 'value must be a number of zero or more, such as 1200 or 1200.50'],
    [1e21, 'EUR', 'value', 'value must be a number of zero or more, such as 1200 or 1200.50'],
    [10.5, 'JPY', 'value', 'value has 1 decimals; JPY has none'],
    ['0.001', 'EUR', 'value', 'value has 3 decimals; EUR has 2'],
  ])('%j %j is refused, naming %s', (value, currency, field, message) => {
    expect(parseDeal(value, currency)).toEqual({ ok: false, field, message });
  });
});
