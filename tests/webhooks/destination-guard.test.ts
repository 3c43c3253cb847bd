import { checkDestination, isPublicAddress, type ResolveHost } from '../../src/webhooks/destination-guard.js';

describe('isPublicAddress', () => {
  it.each([
    // IPv4 ranges that must never be reached
    ['0.0.0.0', 'unspecified'],
    ['0.1.2.3', '"this network" 0/8'],
    ['10.0.0.1', 'private 10/8'],
    ['10.255.255.255', 'private 10/8, last address'],
    ['100.64.0.1', 'carrier-grade NAT 100.64/10'],
    ['100.127.255.254', 'carrier-grade NAT, last block'],
    ['127.0.0.1', 'loopback'],
    ['127.255.0.9', 'loopback 127/8'],
    ['169.254.169.254', 'link-local (cloud metadata)'],
    ['172.16.0.1', 'private 172.16/12'],
    ['172.31.255.255', 'private 172.16/12, last address'],
    ['192.168.1.1', 'private 192.168/16'],
    ['192.0.0.8', 'IETF protocol assignments'],
    ['198.18.0.1', 'benchmarking'],
    ['224.0.0.251', 'multicast'],
    ['239.255.255.250', 'multicast, last block'],
    ['240.0.0.1', 'reserved 240/4'],
    ['255.255.255.255', 'broadcast'],
    // IPv6
    ['::', 'unspecified'],
    ['::1', 'loopback'],
    ['0:0:0:0:0:0:0:1', 'loopback, written out'],
    ['fc00::1', 'unique local fc00::/7'],
    ['fd12:3456:789a::1', 'unique local fd00::/8'],
    ['fe80::1', 'link-local'],
    ['fe80::1%eth0', 'link-local with a zone id'],
    ['febf:ffff::1', 'link-local, last block'],
    ['fec0::1', 'deprecated site-local'],
    ['ff02::1', 'multicast'],
    ['::ffff:127.0.0.1', 'IPv4-mapped loopback'],
    ['::ffff:7f00:1', 'IPv4-mapped loopback in hex'],
    ['::ffff:10.1.2.3', 'IPv4-mapped private'],
    ['::ffff:169.254.169.254', 'IPv4-mapped metadata address'],
    ['0:0:0:0:0:ffff:c0a8:101', 'IPv4-mapped 192.168.1.1, written out'],
    ['::127.0.0.1', 'deprecated IPv4-compatible'],
    ['64:ff9b::10.0.0.1', 'NAT64 of a private address'],
    // IPv6 transition prefixes that carry an IPv4 address: judged by the embedded address
    ['::ffff:0:127.0.0.1', 'SIIT IPv4-translated ::ffff:0:0/96, loopback'],
    ['::ffff:0:7f00:1', 'SIIT loopback in hex'],
    ['0:0:0:0:ffff:0:a9fe:a9fe', 'SIIT metadata address, written out'],
    ['64:ff9b::127.0.0.1', 'NAT64 well-known prefix, loopback'],
    ['64:ff9b::7f00:1', 'NAT64 loopback in hex'],
    ['64:ff9b:1::7f00:1', 'local-use NAT64 64:ff9b:1::/48, not globally reachable'],
    ['64:ff9b:1:0:0:0:808:808', 'local-use NAT64 even for a public IPv4 (IANA: not globally reachable)'],
    ['64:ff9b:1:ffff:ffff:ffff:ffff:ffff', 'local-use NAT64, last address'],
    ['2002:7f00:1::', '6to4 2002::/16 of loopback'],
    ['2002:a00:1::1', '6to4 of 10.0.0.1'],
    ['2002:a9fe:a9fe::1', '6to4 of the metadata address'],
    ['2002:c0a8:101:1::1', '6to4 of 192.168.1.1'],
    ['2001:0:4136:e378:8000:63bf:80ff:fffe', 'Teredo 2001::/32 whose client is 127.0.0.1'],
    ['2001:0:4136:e378:8000:63bf:f5ff:fffe', 'Teredo whose client is 10.0.0.1'],
    ['2001:0:7f00:1:8000:63bf:f7f7:f7f7', 'Teredo whose server is 127.0.0.1 (client 8.8.8.8)'],
    // not addresses at all
    ['localhost', 'a host name'],
    ['', 'empty'],
    ['256.1.1.1', 'an octet out of range'],
    ['010.0.0.1', 'a leading zero (octal in some parsers)'],
  ])('refuses %s (%s)', (ip) => {
    expect(isPublicAddress(ip)).toBe(false);
  });

  it.each([
    ['1.1.1.1', 'public IPv4'],
    ['8.8.8.8', 'public IPv4'],
    ['9.255.255.255', 'just below 10/8'],
    ['11.0.0.0', 'just above 10/8'],
    ['100.63.255.255', 'just below 100.64/10'],
    ['100.128.0.0', 'just above 100.64/10'],
    ['126.255.255.255', 'just below 127/8'],
    ['169.253.255.255', 'just below 169.254/16'],
    ['172.15.255.255', 'just below 172.16/12'],
    ['172.32.0.0', 'just above 172.16/12'],
    ['192.167.255.255', 'just below 192.168/16'],
    ['192.169.0.0', 'just above 192.168/16'],
    ['223.255.255.255', 'just below multicast'],
    ['2606:4700:4700::1111', 'public IPv6'],
    ['2a00:1450:4001:82b::200e', 'public IPv6'],
    ['::ffff:1.1.1.1', 'IPv4-mapped public'],
    ['::ffff:101:101', 'IPv4-mapped public in hex'],
    ['64:ff9b::8.8.8.8', 'NAT64 of a public address'],
    ['::ffff:0:8.8.8.8', 'SIIT of a public address'],
    ['2002:808:808::1', '6to4 of 8.8.8.8'],
    ['2001:0:4136:e378:8000:63bf:f7f7:f7f7', 'Teredo with server 65.54.227.120 and client 8.8.8.8'],
    ['2001:4860:4860::8888', 'public IPv6 just outside Teredo 2001::/32'],
    ['2003::1', 'public IPv6 just outside 6to4 2002::/16'],
    ['64:ff9b:2::1', 'just outside local-use NAT64'],
    ['fbff:ffff::1', 'just below fc00::/7'],
    ['fe00::1', 'between unique local and link-local'],
  ])('accepts %s (%s)', (ip) => {
    expect(isPublicAddress(ip)).toBe(true);
  });
});

describe('checking a webhook destination', () => {
  const strict = { allowPrivate: false, allowInsecure: false };
  const resolvesTo =
    (...addresses: string[]): ResolveHost =>
    async () =>
      addresses.map((address) => ({ address, family: address.includes(':') ? 6 : 4 }));
  const neverCalled: ResolveHost = async () => {
    throw new Error('DNS should not be asked');
  };

  it('allows an https URL whose name resolves to public addresses, and pins the first one', async () => {
    const destination = await checkDestination('https://hooks.example.com/in?token=1', strict, resolvesTo('93.184.216.34', '2606:2800:220:1::1'));
    expect(destination).toMatchObject({ kind: 'allowed', hostname: 'hooks.example.com', address: '93.184.216.34', family: 4 });
  });

  it('refuses a name when any one of its addresses is private', async () => {
    const destination = await checkDestination('https://rebind.example.com/', strict, resolvesTo('93.184.216.34', '10.0.0.5'));
    expect(destination).toEqual({
      kind: 'refused',
      reason:
        'rebind.example.com resolves to 10.0.0.5, which is a private, loopback or reserved address; webhooks only go to public addresses unless BATON_WEBHOOK_ALLOW_PRIVATE is set',
    });
  });

  it.each([
    ['https://127.0.0.1/', '127.0.0.1'],
    ['https://[::1]:8443/', '::1'],
    ['https://[::ffff:169.254.169.254]/', '::ffff:a9fe:a9fe'],
    ['https://2130706433/', '127.0.0.1'], // an integer host is IPv4 to the URL parser
    ['https://0x7f.1/', '127.0.0.1'],
    ['https://[::ffff:0:127.0.0.1]/', '::ffff:0:7f00:1'],
    ['https://[64:ff9b::127.0.0.1]/', '64:ff9b::7f00:1'],
    ['https://[2002:7f00:1::]/', '2002:7f00:1::'],
    ['https://[2001:0:4136:e378:8000:63bf:80ff:fffe]/', '2001:0:4136:e378:8000:63bf:80ff:fffe'],
  ])('refuses the literal address in %s without asking DNS', async (url, host) => {
    const destination = await checkDestination(url, strict, neverCalled);
    expect(destination).toEqual({ kind: 'refused', reason: expect.stringContaining(`${host} is a private, loopback or reserved address`) });
  });

  it.each([
    ['http://hooks.example.com/', strict, 'a webhook URL must use https, not http'],
    ['ftp://hooks.example.com/', { ...strict, allowInsecure: true }, 'a webhook URL must use http or https, not ftp'],
    ['https://user:pass@hooks.example.com/', strict, 'a webhook URL must not contain a user name or password'],
    ['https://token@hooks.example.com/', strict, 'a webhook URL must not contain a user name or password'],
    ['hooks.example.com/in', strict, 'the webhook URL is not a valid absolute URL'],
  ])('refuses %s before any DNS lookup', async (url, policy, reason) => {
    await expect(checkDestination(url, policy, neverCalled)).resolves.toEqual({ kind: 'refused', reason });
  });

  it('refuses a name that resolves to a transition address embedding a private IPv4', async () => {
    const destination = await checkDestination('https://sneaky.example.com/', strict, resolvesTo('2002:a9fe:a9fe::1'));
    expect(destination).toMatchObject({ kind: 'refused', reason: expect.stringContaining('resolves to 2002:a9fe:a9fe::1, which is a private') });
  });

  it('allows plain http only with allowInsecure', async () => {
    await expect(checkDestination('http://hooks.example.com/', { ...strict, allowInsecure: true }, resolvesTo('93.184.216.34'))).resolves.toMatchObject({
      kind: 'allowed',
      address: '93.184.216.34',
    });
  });

  it('with allowPrivate, allows private addresses and still pins the resolved one', async () => {
    const destination = await checkDestination('https://intranet.local/', { ...strict, allowPrivate: true }, resolvesTo('fd00::7', '10.0.0.5'));
    expect(destination).toMatchObject({ kind: 'allowed', hostname: 'intranet.local', address: 'fd00::7', family: 6 });
  });

  it('reports a name that does not resolve as unresolved, not refused', async () => {
    const failing: ResolveHost = async () => {
      throw Object.assign(new Error('getaddrinfo ENOTFOUND nowhere.invalid'), { code: 'ENOTFOUND' });
    };
    await expect(checkDestination('https://nowhere.invalid/', strict, failing)).resolves.toEqual({
      kind: 'unresolved',
      reason: 'could not resolve nowhere.invalid (ENOTFOUND)',
    });
  });

  it('refuses localhost through the system resolver', async () => {
    const destination = await checkDestination('https://localhost/', strict);
    expect(destination).toEqual({ kind: 'refused', reason: expect.stringMatching(/^localhost resolves to (127\.0\.0\.1|::1), which is a private/) });
  });
});
