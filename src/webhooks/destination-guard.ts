import { promises as dns } from 'node:dns';
import { isIP, isIPv4 } from 'node:net';

/*
 * SSRF protection for webhook URLs. Whoever configures an endpoint chooses the URL, so without
 * this check Baton could be made to POST to its own database, a cloud metadata service
 * (169.254.169.254) or anything else on the internal network. Every address the name resolves to
 * must be public, and the request is then made to the address that was checked: resolving again
 * at connect time would let a DNS server answer "public" to the check and "private" to the
 * connection (DNS rebinding).
 */

export interface DestinationPolicy {
  /** Operator setting (BATON_WEBHOOK_ALLOW_PRIVATE): allow private and loopback addresses. */
  allowPrivate: boolean;
  /** Allow plain http (tests, local development). */
  allowInsecure: boolean;
}

export interface ResolvedAddress {
  address: string;
  family: number;
}

export type ResolveHost = (hostname: string) => Promise<ResolvedAddress[]>;

export const resolveWithSystem: ResolveHost = (hostname) => dns.lookup(hostname, { all: true, verbatim: true });

export type Destination =
  | { kind: 'allowed'; url: URL; hostname: string; address: string; family: 4 | 6 }
  | { kind: 'refused'; reason: string }
  /** The name did not resolve; unlike a refusal this may be temporary. */
  | { kind: 'unresolved'; reason: string };

export type CheckedUrl = { ok: true; url: URL; hostname: string } | { ok: false; reason: string };

/** The checks that need no DNS. Reasons name the host but never the whole URL, which may hold a token. */
export function checkDestinationUrl(text: string, policy: DestinationPolicy): CheckedUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return { ok: false, reason: 'the webhook URL is not a valid absolute URL' };
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && policy.allowInsecure)) {
    const accepted = policy.allowInsecure ? 'http or https' : 'https';
    return { ok: false, reason: `a webhook URL must use ${accepted}, not ${url.protocol.slice(0, -1)}` };
  }
  if (url.username || url.password) return { ok: false, reason: 'a webhook URL must not contain a user name or password' };
  // URL keeps IPv6 literals in brackets; DNS and isIP want them bare.
  const hostname = url.hostname.replace(/^\[(.*)\]$/, '$1');
  return { ok: true, url, hostname };
}

export async function checkDestination(text: string, policy: DestinationPolicy, resolve: ResolveHost = resolveWithSystem): Promise<Destination> {
  const checked = checkDestinationUrl(text, policy);
  if (!checked.ok) return { kind: 'refused', reason: checked.reason };
  const { url, hostname } = checked;

  let addresses: ResolvedAddress[];
  if (isIP(hostname)) {
    addresses = [{ address: hostname, family: isIP(hostname) }];
  } else {
    try {
      addresses = await resolve(hostname);
    } catch (error) {
      const code = error instanceof Error && 'code' in error ? String(error.code) : 'error';
      return { kind: 'unresolved', reason: `could not resolve ${hostname} (${code})` };
    }
  }
  const first = addresses[0];
  if (!first) return { kind: 'unresolved', reason: `${hostname} resolved to no address` };

  if (!policy.allowPrivate) {
    // One private answer is enough to refuse: which address a client picks is not ours to predict.
    const blocked = addresses.find(({ address }) => !isPublicAddress(address));
    if (blocked) {
      const via = blocked.address === hostname ? '' : ` resolves to ${blocked.address}, which`;
      return {
        kind: 'refused',
        reason: `${hostname}${via} is a private, loopback or reserved address; webhooks only go to public addresses unless BATON_WEBHOOK_ALLOW_PRIVATE is set`,
      };
    }
  }
  return { kind: 'allowed', url, hostname, address: first.address, family: first.family === 6 ? 6 : 4 };
}

/* ---------- address classification (pure) ---------- */

type Cidr = readonly [base: string, bits: number];

const PRIVATE_IPV4: readonly Cidr[] = [
  ['0.0.0.0', 8], // "this network", includes the unspecified address
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // carrier-grade NAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, home of cloud metadata services
  ['172.16.0.0', 12],
  ['192.0.0.0', 24], // IETF protocol assignments
  ['192.168.0.0', 16],
  ['198.18.0.0', 15], // benchmarking, sometimes used inside networks
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, includes the broadcast address 255.255.255.255
];

function ipv4ToNumber(ip: string): number {
  return ip.split('.').reduce((value, octet) => value * 256 + Number(octet), 0);
}

function inIpv4Cidr(ip: number, [base, bits]: Cidr): boolean {
  const size = 2 ** (32 - bits);
  return Math.floor(ip / size) === Math.floor(ipv4ToNumber(base) / size);
}

function isPublicIpv4(ip: string): boolean {
  const value = ipv4ToNumber(ip);
  return !PRIVATE_IPV4.some((cidr) => inIpv4Cidr(value, cidr));
}

/** Eight 16-bit groups; handles `::` and a trailing dotted IPv4 part. Input is a valid IPv6 address. */
function ipv6Groups(ip: string): number[] {
  let text = ip;
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text)?.[1];
  if (dotted) {
    const value = ipv4ToNumber(dotted);
    text = `${text.slice(0, -dotted.length)}${(value >>> 16).toString(16)}:${(value & 0xffff).toString(16)}`;
  }
  const [head = '', tail] = text.split('::');
  const parse = (part: string) => (part ? part.split(':').map((group) => parseInt(group, 16)) : []);
  const front = parse(head);
  const back = tail === undefined ? [] : parse(tail);
  return [...front, ...new Array<number>(8 - front.length - back.length).fill(0), ...back];
}

function embeddedIpv4(groups: number[]): string {
  const [high = 0, low = 0] = groups.slice(-2);
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

function isPublicIpv6(ip: string): boolean {
  const groups = ipv6Groups(ip.replace(/%.*$/, '')); // drop a zone id such as %eth0
  const [first = 0, second = 0] = groups;
  const upperZero = (count: number) => groups.slice(0, count).every((group) => group === 0);

  // ::ffff:a.b.c.d reaches the IPv4 address a.b.c.d, so it is judged as that address.
  if (upperZero(5) && groups[5] === 0xffff) return isPublicIpv4(embeddedIpv4(groups));
  // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d: never a real public destination.
  if (upperZero(6)) return false;
  // NAT64 (64:ff9b::/96) translates to the embedded IPv4 address.
  if (first === 0x64 && second === 0xff9b && groups.slice(2, 6).every((group) => group === 0)) {
    return isPublicIpv4(embeddedIpv4(groups));
  }
  if ((first & 0xfe00) === 0xfc00) return false; // fc00::/7 unique local
  if ((first & 0xffc0) === 0xfe80) return false; // fe80::/10 link-local
  if ((first & 0xffc0) === 0xfec0) return false; // fec0::/10 deprecated site-local
  if ((first & 0xff00) === 0xff00) return false; // ff00::/8 multicast
  return true;
}

/** False for anything that is not an IP address, so a caller cannot mistake garbage for "public". */
export function isPublicAddress(ip: string): boolean {
  if (isIPv4(ip)) return isPublicIpv4(ip);
  if (isIP(ip.replace(/%.*$/, '')) === 6) return isPublicIpv6(ip);
  return false;
}
