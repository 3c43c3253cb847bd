import { escapeHtml } from '../platform/http/public-page.js';

/* Inline SVG charts for the dashboard: pure functions of the numbers, no script, no library. */

/**
 * Horizontal bars, one per row, scaled to the largest value (a funnel when rows are steps in order).
 * Each label sits on its own line above its bar, and the drawing is narrow (400 units), so at
 * phone width it shrinks little and the labels stay readable.
 */
export function barChart(rows: Array<{ label: string; value: number }>, title: string): string {
  if (rows.length === 0) return '';
  const width = 400;
  const rowHeight = 50;
  const max = Math.max(1, ...rows.map((row) => row.value));
  const bars = rows
    .map((row, index) => {
      const y = index * rowHeight;
      const length = Math.round(((width - 60) * row.value) / max);
      return (
        `<text x="0" y="${y + 17}" font-size="17">${escapeHtml(row.label)}</text>` +
        `<rect x="0" y="${y + 24}" width="${length}" height="18" rx="3" fill="#1d4ed8"></rect>` +
        `<text x="${length + 6}" y="${y + 40}" font-size="17">${row.value}</text>`
      );
    })
    .join('');
  return `<svg class="chart" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${width} ${rows.length * rowHeight + 4}" width="${width}"><title>${escapeHtml(title)}</title>${bars}</svg>`;
}

/** A line over time; points in time order. */
export function lineChart(points: Array<{ at: Date; value: number }>, title: string): string {
  if (points.length < 2) return '';
  const width = 640;
  const height = 160;
  const pad = 24;
  const first = points[0]?.at.getTime() ?? 0;
  const span = Math.max(1, (points[points.length - 1]?.at.getTime() ?? 0) - first);
  const values = points.map((point) => point.value);
  const low = Math.min(0, ...values);
  const high = Math.max(1, ...values);
  const x = (at: Date) => pad + ((width - 2 * pad) * (at.getTime() - first)) / span;
  const y = (value: number) => height - pad - ((height - 2 * pad) * (value - low)) / (high - low);
  const path = points.map((point) => `${x(point.at).toFixed(1)},${y(point.value).toFixed(1)}`).join(' ');
  return (
    `<svg role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${width} ${height}" width="${width}"><title>${escapeHtml(title)}</title>` +
    `<line x1="${pad}" y1="${y(0)}" x2="${width - pad}" y2="${y(0)}" stroke="#d9e2ec"></line>` +
    `<polyline points="${path}" fill="none" stroke="#1d4ed8" stroke-width="2"></polyline>` +
    `<text x="${pad}" y="14" font-size="12">${high}</text><text x="${pad}" y="${height - 6}" font-size="12">${low}</text></svg>`
  );
}
