/*
 * Reading the DNS TXT records that decide whether mail from a domain is trusted: SPF (RFC 7208),
 * DMARC (RFC 7489) and DKIM keys (RFC 6376). Pure: the caller resolves, these functions judge.
 */

/** A TXT record's character-strings joined, as SPF, DKIM and DMARC read them. */
export const joinTxt = (record: string[]): string => record.join('');

export type RecordVerdict = { status: 'pass' | 'warn' | 'fail'; detail: string };

export function judgeSpf(domain: string, records: string[][]): RecordVerdict {
  const spf = records.map(joinTxt).filter((text) => /^v=spf1(\s|$)/i.test(text));
  if (spf.length === 0)
    return {
      status: 'fail',
      detail: `${domain} has no SPF record (TXT "v=spf1 …"): receivers cannot tell which servers may send as it; publish one that includes your SMTP relay, e.g. "v=spf1 include:<your relay's SPF> ~all"`,
    };
  if (spf.length > 1)
    return { status: 'fail', detail: `${domain} has ${spf.length} SPF records: SPF then fails for every message (RFC 7208 §4.5); merge them into one` };
  const record = spf[0] ?? '';
  const all = /\s([+?~-]?)all\b/i.exec(record)?.[1];
  if (all === '' || all === '+') return { status: 'fail', detail: `${domain}: "${record}" ends in +all: anyone may send as ${domain}; end it in ~all or -all` };
  if (all === '?' || all === undefined)
    return { status: 'warn', detail: `${domain}: "${record}" has no ~all or -all: unlisted servers are neither failed nor trusted` };
  return { status: 'pass', detail: `${domain}: "${record}" (check that it includes your SMTP relay)` };
}

export function parseTags(text: string): Map<string, string> {
  const tags = new Map<string, string>();
  for (const part of text.split(';')) {
    const at = part.indexOf('=');
    if (at > 0) tags.set(part.slice(0, at).trim().toLowerCase(), part.slice(at + 1).replace(/\s+/g, ''));
  }
  return tags;
}

export function judgeDmarc(lookedUp: string, records: string[][]): RecordVerdict {
  const dmarc = records.map(joinTxt).filter((text) => /^v=DMARC1\s*(;|$)/i.test(text));
  if (dmarc.length === 0)
    return {
      status: 'fail',
      detail: `${lookedUp} has no DMARC record: Gmail and Yahoo require one from bulk senders; publish TXT "v=DMARC1; p=none; rua=mailto:dmarc@<your domain>" at least`,
    };
  if (dmarc.length > 1) return { status: 'fail', detail: `${lookedUp} has ${dmarc.length} DMARC records: receivers then ignore them all; keep one` };
  const record = dmarc[0] ?? '';
  const policy = parseTags(record).get('p')?.toLowerCase();
  if (policy === 'none')
    return { status: 'pass', detail: `${lookedUp}: "${record}" (p=none: reports only; move to quarantine or reject once they look clean)` };
  if (policy === 'quarantine' || policy === 'reject') return { status: 'pass', detail: `${lookedUp}: "${record}"` };
  return { status: 'fail', detail: `${lookedUp}: "${record}" has no valid p= (none, quarantine or reject)` };
}

/** The DKIM key record must hold the public half of DKIM_PRIVATE_KEY. */
export function judgeDkimKey(name: string, records: string[][], publicKeyBase64: string): RecordVerdict {
  const keys = records.map(joinTxt).filter((text) => parseTags(text).has('p'));
  if (keys.length === 0) return { status: 'fail', detail: `${name} has no DKIM key record: publish TXT "v=DKIM1; k=rsa; p=${publicKeyBase64}"` };
  const tags = parseTags(keys[0] ?? '');
  const published = tags.get('p') ?? '';
  if (published === '') return { status: 'fail', detail: `${name}: the key is revoked (empty p=)` };
  if (tags.has('k') && tags.get('k')?.toLowerCase() !== 'rsa') return { status: 'fail', detail: `${name}: k=${tags.get('k') ?? ''}, but Baton signs with RSA` };
  if (published !== publicKeyBase64)
    return { status: 'fail', detail: `${name}: the published key is not the public half of DKIM_PRIVATE_KEY; publish p=${publicKeyBase64}` };
  return { status: 'pass', detail: `${name}: publishes the public half of DKIM_PRIVATE_KEY` };
}
