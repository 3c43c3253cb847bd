import { classifyClick, classifyOpen } from '../../src/tracking/classify.js';

const sentAt = new Date('2026-05-01T10:00:00Z');
const later = new Date('2026-05-01T12:00:00Z');
const chrome = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36';

describe('classifyClick', () => {
  it.each([
    ['a person in a browser, hours later', { method: 'GET', userAgent: chrome, sentAt, at: later }, 'human'],
    ['a HEAD request', { method: 'HEAD', userAgent: chrome, sentAt, at: later }, 'machine'],
    ['a click 3 seconds after sending', { method: 'GET', userAgent: chrome, sentAt, at: new Date(sentAt.getTime() + 3000) }, 'machine'],
    ['Microsoft Safe Links', { method: 'GET', userAgent: 'Mozilla/5.0 (compatible; SafeLinks/1.0)', sentAt, at: later }, 'machine'],
    ['Proofpoint', { method: 'GET', userAgent: 'Proofpoint URL Defense', sentAt, at: later }, 'machine'],
    ['curl', { method: 'GET', userAgent: 'curl/8.5.0', sentAt, at: later }, 'machine'],
    ['no user agent', { method: 'GET', userAgent: null, sentAt, at: later }, 'machine'],
  ])('%s → %s', (_name, click, kind) => {
    expect(classifyClick(click).kind).toBe(kind);
  });
});

describe('classifyOpen', () => {
  it.each([
    ['Apple Mail Privacy Protection', 'Mozilla/5.0', 'machine'],
    [
      'Gmail image proxy, which fetches when the person opens',
      'Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)',
      'human',
    ],
    ['a security scanner', 'Mozilla/5.0 (compatible; Barracuda Sentinel)', 'machine'],
    ['a mail client', 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko)', 'human'],
  ])('%s → %s', (_name, userAgent, kind) => {
    expect(classifyOpen({ userAgent }).kind).toBe(kind);
  });
});
