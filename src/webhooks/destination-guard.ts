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

/** The IPv4 address held in two 16-bit groups, e.g. the last two of ::ffff:a.b.c.d. */
function ipv4FromGroups(high: number, low: number): string {
  return [high >> 8, high & 0xff, low >> 8, low & 0xff].join('.');
}

/*
 * IPv6 transition prefixes reach an IPv4 host, so an address in them is only as public as the
 * IPv4 addresses it carries (issue 16: [::ffff:0:127.0.0.1] used to pass). The list follows the
 * IANA IPv6 special-purpose registry; null means the prefix does not apply.
 */
function embeddedIpv4s(groups: readonly number[]): string[] | null {
  const [g0 = 0, g1 = 0, g2 = 0, g3 = 0, g4 = 0, g5 = 0, g6 = 0, g7 = 0] = groups;
  const zero = (...some: number[]) => some.every((group) => group === 0);
  // ::ffff:a.b.c.d, IPv4-mapped (::ffff:0:0/96): the socket connects to a.b.c.d itself.
  if (zero(g0, g1, g2, g3, g4) && g5 === 0xffff) return [ipv4FromGroups(g6, g7)];
  // ::ffff:0:a.b.c.d, SIIT IPv4-translated (::ffff:0:0:0/96, RFC 2765).
  if (zero(g0, g1, g2, g3, g5) && g4 === 0xffff) return [ipv4FromGroups(g6, g7)];
  // 64:ff9b::a.b.c.d, NAT64 well-known prefix (64:ff9b::/96, RFC 6052).
  if (g0 === 0x64 && g1 === 0xff9b && zero(g2, g3, g4, g5)) return [ipv4FromGroups(g6, g7)];
  // 2002:AABB:CCDD::/48, 6to4 (RFC 3056): the relay tunnels to AA.BB.CC.DD.
  if (g0 === 0x2002) return [ipv4FromGroups(g1, g2)];
  // 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC, Teredo (2001::/32, RFC 4380): server in the clear,
  // client inverted bit by bit. Either one being private makes the address unfit.
  if (g0 === 0x2001 && g1 === 0) return [ipv4FromGroups(g2, g3), ipv4FromGroups(g6 ^ 0xffff, g7 ^ 0xffff)];
  return null;
}

function isPublicIpv6(ip: string): boolean {
  const groups = ipv6Groups(ip.replace(/%.*$/, '')); // drop a zone id such as %eth0
  const [first = 0, second = 0, third = 0] = groups;

  const carried = embeddedIpv4s(groups);
  if (carried) return carried.every(isPublicIpv4);
  // ::, ::1 and the deprecated IPv4-compatible ::a.b.c.d: never a real public destination.
  if (groups.slice(0, 6).every((group) => group === 0)) return false;
  // 64:ff9b:1::/48, local-use NAT64 (RFC 8215): not globally reachable, and where the IPv4
  // address sits depends on the operator's chosen prefix length, so the whole range is refused.
  if (first === 0x64 && second === 0xff9b && third === 1) return false;
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
