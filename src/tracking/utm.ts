/*
 * UTM tags on a sequence's links (`utm:` in the sequence file): utm_source and utm_medium as
 * configured, utm_campaign the sequence id, utm_content the step id. A parameter the link already
 * has is never replaced, and the rest of the URL is kept as written: the tags are appended as text
 * before the fragment, not by re-serialising the query (which would re-encode it).
 */

export interface UtmTags {
  source: string;
  medium: string;
  campaign: string;
  content: string;
}

export function withUtmTags(url: string, tags: UtmTags): string {
  const hashAt = url.indexOf('#');
  const beforeHash = hashAt === -1 ? url : url.slice(0, hashAt);
  const fragment = hashAt === -1 ? '' : url.slice(hashAt);
  const queryAt = beforeHash.indexOf('?');
  const query = queryAt === -1 ? '' : beforeHash.slice(queryAt + 1);
  const present = new Set(query.split('&').map((pair) => parameterName(pair.split('=')[0] ?? '')));
  const wanted: Array<[string, string]> = [
    ['utm_source', tags.source],
    ['utm_medium', tags.medium],
    ['utm_campaign', tags.campaign],
    ['utm_content', tags.content],
  ];
  const added = wanted.filter(([name]) => !present.has(name)).map(([name, value]) => `${name}=${encodeURIComponent(value)}`);
  if (added.length === 0) return url;
  const separator = queryAt === -1 ? '?' : query === '' || query.endsWith('&') ? '' : '&';
  return `${beforeHash}${separator}${added.join('&')}${fragment}`;
}

/** A query parameter's name as a server reads it (`+` is a space, percent-escapes decoded). */
function parameterName(raw: string): string {
  const spaced = raw.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(spaced);
  } catch {
    return spaced;
  }
}
