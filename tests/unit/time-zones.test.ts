import { canonicalTimeZone } from '../../src/platform/time-zones.js';

describe('canonicalTimeZone', () => {
  it.each([
    ['Europe/Paris', 'Europe/Paris'],
    ['europe/paris', 'Europe/Paris'],
    ['America/New_York', 'America/New_York'],
    ['Asia/Kolkata', expect.stringMatching(/^Asia\/(Kolkata|Calcutta)$/)],
    ['UTC', 'UTC'],
    ['US/Eastern', expect.stringMatching(/^(US\/Eastern|America\/New_York)$/)],
    ['Australia/Lord_Howe', 'Australia/Lord_Howe'],
  ])('accepts %s', (zone, expected) => {
    expect(canonicalTimeZone(zone)).toEqual(expected);
  });

  it.each(['Mars/Olympus', '+02:00', 'GMT+25', '', 'Europe/Paris; drop', 'x'.repeat(80)])('refuses %j', (zone) => {
    expect(canonicalTimeZone(zone)).toBeNull();
  });
});
