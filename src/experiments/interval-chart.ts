import { escapeHtml } from '../platform/http/public-page.js';

/*
 * Arms side by side as an inline SVG: per arm its rate as a dot and its 95% interval as a bar
 * on one shared scale, so overlapping intervals show at a glance. Pure, no script, in the
 * dashboard's chart style (charts.ts): labels on their own line, 400 units wide, so at phone
 * width it shrinks little.
 */

export interface IntervalRow {
  label: string;
  rate: number | null;
  low: number | null;
  high: number | null;
  /** Drawn in the accent colour: the leader or the recorded winner. */
  highlight: boolean;
}

const WIDTH = 400;
const ROW_HEIGHT = 58;
const LEFT = 8;
const RIGHT = 16;

export function percent(value: number | null, digits = 1): string {
  return value === null ? '–' : `${(value * 100).toFixed(digits)}%`;
}

/** A round top for the scale: the smallest of 1, 2, 5 × 10^k at or above every interval's end. */
function scaleTop(values: number[]): number {
  const highest = Math.max(0.01, ...values);
  for (const exponent of [-2, -1, 0]) {
    for (const step of [1, 2, 5]) {
      const top = step * 10 ** exponent;
      if (top >= highest) return Math.min(1, top);
    }
  }
  return 1;
}

export function intervalChart(rows: readonly IntervalRow[], title: string): string {
  if (rows.length === 0) return '';
  const top = scaleTop(rows.flatMap((row) => [row.high ?? 0, row.rate ?? 0]));
  const span = WIDTH - LEFT - RIGHT;
  const x = (value: number) => (LEFT + (span * value) / top).toFixed(1);
  const drawn = rows
    .map((row, index) => {
      const y = index * ROW_HEIGHT;
      const colour = row.highlight ? '#1d4ed8' : '#627d98';
      const interval = row.low !== null && row.high !== null ? `${percent(row.low)}–${percent(row.high)}` : 'no entrants yet';
      const label = `<text x="0" y="${y + 17}" font-size="16">${escapeHtml(row.label)}: ${percent(row.rate)} (95%: ${interval})</text>`;
      const axis = `<line x1="${LEFT}" y1="${y + 36}" x2="${WIDTH - RIGHT}" y2="${y + 36}" stroke="#d9e2ec" stroke-width="2"></line>`;
      const bar =
        row.low !== null && row.high !== null
          ? `<line class="interval" x1="${x(row.low)}" y1="${y + 36}" x2="${x(row.high)}" y2="${y + 36}" stroke="${colour}" stroke-width="8" stroke-linecap="round"><title>${escapeHtml(`${row.label}: 95% interval ${interval}`)}</title></line>`
          : '';
      const dot = row.rate !== null ? `<circle cx="${x(row.rate)}" cy="${y + 36}" r="7" fill="#fff" stroke="${colour}" stroke-width="3"></circle>` : '';
      return label + axis + bar + dot;
    })
    .join('');
  const height = rows.length * ROW_HEIGHT;
  const scale =
    `<text x="${LEFT}" y="${height + 14}" font-size="13" fill="#52606d">0%</text>` +
    `<text x="${WIDTH - RIGHT}" y="${height + 14}" font-size="13" fill="#52606d" text-anchor="end">${percent(top, 0)}</text>`;
  return `<svg class="chart" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${WIDTH} ${height + 20}" width="${WIDTH}"><title>${escapeHtml(title)}</title>${drawn}${scale}</svg>`;
}
