import { stringify } from 'csv-stringify/sync';
import { CONVERSIONS, FUNNEL_STAGES, TIMED_STAGES, type Rate } from './funnel-stats.js';
import type { FunnelGroup, FunnelReport } from './funnel.service.js';

/* The funnel report as a terminal table and as CSV (`baton report funnel`). Pure. */

export function percent(rate: Rate): string {
  if (rate.rate === null || rate.low === null || rate.high === null) return '–';
  const p = (value: number) => `${(value * 100).toFixed(1)}`;
  return `${p(rate.rate)}% (${p(rate.low)}–${p(rate.high)})`;
}

/** A duration in the unit a person reads best: minutes, hours or days. */
export function duration(seconds: number | null): string {
  if (seconds === null) return '–';
  if (seconds < 3600) return `${(seconds / 60).toFixed(0)} min`;
  if (seconds < 2 * 86_400) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} d`;
}

export function money(value: Record<string, number>): string {
  const entries = Object.entries(value).sort(([a], [b]) => a.localeCompare(b));
  if (entries.length === 0) return '–';
  return entries
    .map(([currency, amount]) => new Intl.NumberFormat('en-GB', { style: 'currency', currency, maximumFractionDigits: 0 }).format(amount))
    .join(' + ');
}

const rateOf = (group: FunnelGroup, from: string, to: string) =>
  group.conversions.find((entry) => entry.from === from && entry.to === to) ?? { rate: null, low: null, high: null };

export function formatFunnelTable(report: FunnelReport): string {
  const header = ['group', 'leads', 'lead', 'MQL', 'SQL', 'customer', 'MQL→SQL', 'SQL→customer', 'median in MQL', 'p90 in MQL', 'value'];
  const rows = [report.total, ...report.groups].map((group) => [
    group.key,
    ...FUNNEL_STAGES.map((stage) => String(group.stages[stage])),
    percent(rateOf(group, 'mql', 'sql')),
    percent(rateOf(group, 'sql', 'customer')),
    duration(group.timeInStage.mql.medianSeconds),
    duration(group.timeInStage.mql.p90Seconds),
    money(group.value),
  ]);
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => (row[column] ?? '').length)));
  const line = (cells: string[]) =>
    cells.map((cell, column) => (column === 0 ? cell.padEnd(widths[column] ?? 0) : cell.padStart(widths[column] ?? 0))).join('  ');
  const reasons = report.total.rejections
    .slice(0, 5)
    .map((entry) => `${entry.reason} (${entry.count})`)
    .join(', ');
  return [
    `Leads created ${report.from} to ${report.to}${report.by ? `, by ${report.by}` : ''}`,
    line(header),
    ...rows.map(line),
    `Rejections: ${reasons || 'none'}`,
  ].join('\n');
}

/** One row per group (the total first), every figure in its own column. */
export function funnelCsv(report: FunnelReport): string {
  const columns = [
    'group',
    ...FUNNEL_STAGES,
    'recycled',
    'disqualified',
    ...CONVERSIONS.flatMap(([from, to]) => [`${from}_to_${to}_rate`, `${from}_to_${to}_low`, `${from}_to_${to}_high`]),
    ...TIMED_STAGES.flatMap((stage) => [`${stage}_median_seconds`, `${stage}_p90_seconds`]),
    'value',
  ];
  const rows = [report.total, ...report.groups].map((group) => [
    group.key,
    ...FUNNEL_STAGES.map((stage) => group.stages[stage]),
    group.recycled,
    group.disqualified,
    ...CONVERSIONS.flatMap(([from, to]) => {
      const rate = rateOf(group, from, to);
      return [rate.rate ?? '', rate.low ?? '', rate.high ?? ''];
    }),
    ...TIMED_STAGES.flatMap((stage) => [group.timeInStage[stage].medianSeconds ?? '', group.timeInStage[stage].p90Seconds ?? '']),
    Object.entries(group.value)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([currency, amount]) => `${amount} ${currency}`)
      .join('; '),
  ]);
  // Cells starting with = + - @ would run as formulas in a spreadsheet: group keys are sources people typed.
  return stringify([columns, ...rows], { cast: { string: (text) => (/^[=+\-@\t\r]/.test(text) ? `'${text}` : text) } });
}
