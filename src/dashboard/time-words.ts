/*
 * Times as people read them: in the reader's time zone and in words ("2 hours ago"), never as
 * raw ISO strings. Pure: the instant, the zone and `now` are passed in.
 */

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "1 email", "2 emails"; `many` for irregular plurals. */
export function plural(count: number, one: string, many = `${one}s`): string {
  return `${count} ${count === 1 ? one : many}`;
}

/** "just now", "5 minutes ago", "in 3 hours", "2 days ago"; months and years past 30 and 365 days. */
export function relativeTime(at: Date, now: Date): string {
  const delta = now.getTime() - at.getTime();
  const span = Math.abs(delta);
  if (span < 45_000) return 'just now';
  const words =
    span < HOUR
      ? plural(Math.max(1, Math.round(span / MINUTE)), 'minute')
      : span < DAY
        ? plural(Math.round(span / HOUR), 'hour')
        : span < 30 * DAY
          ? plural(Math.round(span / DAY), 'day')
          : span < 365 * DAY
            ? plural(Math.round(span / (30 * DAY)), 'month')
            : plural(Math.round(span / (365 * DAY)), 'year');
  return delta >= 0 ? `${words} ago` : `in ${words}`;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

/** "30 Nov 2026, 09:15 CET": day, time and the zone's short name, in `zone`. */
export function absoluteTime(at: Date, zone: string): string {
  let format = formatters.get(zone);
  if (!format) {
    format = new Intl.DateTimeFormat('en-GB', {
      timeZone: zone,
      day: 'numeric',
      month: 'short',
      year: 'numeric',
      hour: '2-digit',
      minute: '2-digit',
      hourCycle: 'h23',
      timeZoneName: 'short',
    });
    formatters.set(zone, format);
  }
  const parts = Object.fromEntries(format.formatToParts(at).map((part) => [part.type, part.value]));
  return `${parts.day} ${parts.month} ${parts.year}, ${parts.hour}:${parts.minute} ${parts.timeZoneName}`;
}

/** The wall-clock time somewhere now, for "their local time": "14:05 (Europe/Paris)". */
export function localTimeIn(zone: string, now: Date): string {
  const time = new Intl.DateTimeFormat('en-GB', { timeZone: zone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23', weekday: 'short' }).format(now);
  return `${time} (${zone})`;
}
