import { domainToASCII } from 'node:url';

/*
 * A stored link is the template's URL exactly, IDN host and unicode path included. An HTTP header
 * carries ASCII only (Node refuses other characters, and latin-1 bytes would be misread as
 * UTF-8), so the Location header spells the same URL in ASCII: the host in punycode and every
 * other non-ASCII character (and space) percent-encoded as UTF-8. Everything else, existing
 * percent-escapes, `&`, `=`, `+`, the fragment and the order of parameters, is kept byte for byte.
 */

const PRINTABLE_ASCII = /^[\x21-\x7e]*$/;
const AUTHORITY_URL = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)([\s\S]*)$/i;

export function redirectLocation(url: string): string {
  if (PRINTABLE_ASCII.test(url)) return url;
  const match = AUTHORITY_URL.exec(url);
  if (!match) return percentEncodeOthers(url);
  const [, scheme = '', authority = '', rest = ''] = match;
  const at = authority.lastIndexOf('@');
  const userinfo = authority.slice(0, at + 1);
  const [, host = '', port = ''] = /^([\s\S]*?)(:\d*)?$/.exec(authority.slice(at + 1)) ?? [];
  const asciiHost = PRINTABLE_ASCII.test(host) ? host : domainToASCII(host) || percentEncodeOthers(host);
  return scheme + percentEncodeOthers(userinfo) + asciiHost + port + percentEncodeOthers(rest);
}

function percentEncodeOthers(text: string): string {
  return text.replace(/[^\x21-\x7e]+/g, (run) => [...Buffer.from(run, 'utf8')].map((byte) => `%${byte.toString(16).toUpperCase().padStart(2, '0')}`).join(''));
}
