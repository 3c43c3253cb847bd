import { WEEKDAYS, type Weekday } from './sequence.js';

/*
 * Wall-clock arithmetic in a lead's time zone, pure and with `now` passed in. Send windows and
 * "wait until Tuesday 10:00" are local times; instants are UTC. DST gaps move a local time that
 * does not exist (02:30 on a spring-forward night) to the first minute after the gap.
 */

export interface LocalParts {
  year: number;
  month: number;
  day: number;
  hour: number;
  minute: number;
  weekday: Weekday;
}

const formatters = new Map<string, Intl.DateTimeFormat>();

function formatter(timeZone: string): Intl.DateTimeFormat {
  let cached = formatters.get(timeZone);
  if (!cached) {
    cached = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric', second: 'numeric', weekday: 'short' });
    formatters.set(timeZone, cached);
  }
  return cached;
}

export function localParts(instant: Date, timeZone: string): LocalParts {
  const parts = Object.fromEntries(formatter(timeZone).formatToParts(instant).map((part) => [part.type, part.value]));
  return {
    year: Number(parts.year),
    month: Number(parts.month),
    day: Number(parts.day),
    hour: Number(parts.hour),
    minute: Number(parts.minute),
    weekday: String(parts.weekday).slice(0, 3).toLowerCase() as Weekday,
  };
}

/** The instant at which the wall clock in `timeZone` shows the given date and time. */
export function zonedTime(year: number, month: number, day: number, hour: number, minute: number, timeZone: string): Date {
  const wanted = Date.UTC(year, month - 1, day, hour, minute);
  // Two corrections converge for every real zone: the offset guess, then the offset at the guess.
  let instant = wanted;
  for (let i = 0; i < 2; i++) {
    const shown = localParts(new Date(instant), timeZone);
    const shownAsUtc = Date.UTC(shown.year, shown.month - 1, shown.day, shown.hour, shown.minute);
    instant += wanted - shownAsUtc;
  }
  const shown = localParts(new Date(instant), timeZone);
  if (shown.hour !== hour || shown.minute !== minute) {
    // The wall-clock time falls in a DST gap: use the first instant after it.
    return new Date(zonedTime(year, month, day, hour + 1, 0, timeZone).getTime());
  }
  return new Date(instant);
}

function parseClock(text: string): { hour: number; minute: number } {
  const [hour, minute] = text.split(':').map(Number);
  return { hour: hour ?? 0, minute: minute ?? 0 };
}

function addDays(parts: LocalParts, days: number): { year: number; month: number; day: number } {
  const date = new Date(Date.UTC(parts.year, parts.month - 1, parts.day + days));
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() };
}

function weekdayOf(year: number, month: number, day: number): Weekday {
  return WEEKDAYS[(new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7] ?? 'mon';
}

/** The first instant at or after `now` when the local clock shows `time` on one of `days`. */
export function nextOccurrence(now: Date, days: Weekday[], time: string, timeZone: string): Date {
  const today = localParts(now, timeZone);
  const { hour, minute } = parseClock(time);
  for (let offset = 0; offset <= 7; offset++) {
    const date = addDays(today, offset);
    if (!days.includes(weekdayOf(date.year, date.month, date.day))) continue;
    const candidate = zonedTime(date.year, date.month, date.day, hour, minute, timeZone);
    if (candidate.getTime() >= now.getTime()) return candidate;
  }
  throw new Error(`no ${days.join('/')} ${time} within a week in ${timeZone}`);
}

/**
 * When an email may go out: `now` if the local time is inside the window, otherwise the next
 * opening. `hours` is "HH:MM-HH:MM" (start inclusive, end exclusive).
 */
export function nextInWindow(now: Date, window: { days: Weekday[]; hours: string }, timeZone: string): Date {
  const [start = '00:00', end = '23:59'] = window.hours.split('-');
  const local = localParts(now, timeZone);
  const minutes = local.hour * 60 + local.minute;
  const startClock = parseClock(start);
  const endClock = parseClock(end);
  const inHours = minutes >= startClock.hour * 60 + startClock.minute && minutes < endClock.hour * 60 + endClock.minute;
  if (inHours && window.days.includes(local.weekday)) return now;
  return nextOccurrence(now, window.days, start, timeZone);
}
