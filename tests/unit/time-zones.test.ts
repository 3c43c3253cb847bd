import { isValidTimeZone } from '../../src/platform/time-zones.js';

describe('isValidTimeZone', () => {
  it.each(['Europe/Paris', 'America/New_York', 'Asia/Kolkata', 'UTC', 'US/Eastern', 'Australia/Lord_Howe'])('accepts %s', (zone) => {
    expect(isValidTimeZone(zone)).toBe(true);
  });

  it.each(['Mars/Olympus', '+02:00', 'GMT+25', '', 'Europe/Paris; drop', 'x'.repeat(80)])('refuses %j', (zone) => {
    expect(isValidTimeZone(zone)).toBe(false);
  });
});
