// The SSRF guard: webhook URLs typed by customers must not reach this machine or its private networks.
// Checked when a subscriber is saved (a clear 422) and again at connect time, on the address actually dialled,
// so a DNS name that changes its answer later (rebinding) is caught too.
import { BlockList, isIP } from 'node:net';
import { lookup as dnsLookup, type LookupAddress, type LookupOptions } from 'node:dns';

// Two lists: a BlockList holding IPv6 rules such as ::/96 also matches IPv4 addresses checked against it.
const blockedV4 = new BlockList();
const blockedV6 = new BlockList();
for (const [net, prefix] of [
  ['0.0.0.0', 8], // "this network", unspecified
  ['10.0.0.0', 8],
  ['100.64.0.0', 10], // CGNAT
  ['127.0.0.0', 8],
  ['169.254.0.0', 16], // link-local, cloud metadata
  ['172.16.0.0', 12],
  ['192.0.0.0', 24],
  ['192.0.2.0', 24],
  ['192.168.0.0', 16],
  ['198.18.0.0', 15],
  ['198.51.100.0', 24],
  ['203.0.113.0', 24],
  ['224.0.0.0', 4], // multicast
  ['240.0.0.0', 4], // reserved, broadcast
] as const) blockedV4.addSubnet(net, prefix, 'ipv4');
for (const [net, prefix] of [
  ['::', 128],
  ['::1', 128],
  ['::', 96], // IPv4-compatible (deprecated)
  ['::ffff:0:0', 96], // IPv4-mapped
  ['64:ff9b::', 96], // NAT64
  ['2002::', 16], // 6to4
  ['fc00::', 7], // unique local
  ['fe80::', 10], // link-local
  ['ff00::', 8], // multicast
] as const) blockedV6.addSubnet(net, prefix, 'ipv6');

/** Why an IP address may not be dialled, or null when it is public. */
export function blockedAddressReason(address: string): string | null {
  const bare = address.replace(/^\[|\]$/g, '');
  const family = isIP(bare);
  if (family === 0) return null;
  return (family === 4 ? blockedV4.check(bare, 'ipv4') : blockedV6.check(bare, 'ipv6'))
    ? `${bare} is a loopback, private, link-local, CGNAT, multicast or otherwise non-public address`
    : null;
}

export class SsrfError extends Error {
  readonly code = 'EHOOKDSSRF';
}

const HINT = 'set HOOKD_ALLOW_PRIVATE_NETWORKS=true to allow it (tests and local development only)';

export type Lookup = (hostname: string, options: LookupOptions & { all: true }) => Promise<LookupAddress[]>;

const systemLookup: Lookup = (hostname, options) =>
  new Promise((resolve, reject) => dnsLookup(hostname, options, (err, addresses) => (err ? reject(err) : resolve(addresses))));

/**
 * For the API: why this webhook URL is refused, or null. A name that does not resolve now is accepted (DNS may be
 * down or not yet set up); the connect-time check still stands between it and a private address.
 */
export async function webhookUrlProblem(url: URL, lookup: Lookup = systemLookup): Promise<string | null> {
  const host = url.hostname.replace(/^\[|\]$/g, '').replace(/\.$/, '').toLowerCase();
  const literal = blockedAddressReason(host);
  if (literal) return `webhook_url points at ${literal}; ${HINT}`;
  if (isIP(host)) return null;
  if (host === 'localhost' || host.endsWith('.localhost')) return `webhook_url points at ${host}, this machine; ${HINT}`;
  let addresses: LookupAddress[];
  try {
    addresses = await withTimeout(lookup(host, { all: true }), 3000);
  } catch {
    return null;
  }
  for (const { address } of addresses) {
    const reason = blockedAddressReason(address);
    if (reason) return `webhook_url host ${host} resolves to ${reason}; ${HINT}`;
  }
  return null;
}

/**
 * A `lookup` for net/tls connect (undici's `connect.lookup`) that refuses non-public answers. IP literals never
 * reach a lookup, so the sender checks those itself with blockedAddressReason.
 */
export function guardedLookup(lookup: Lookup = systemLookup) {
  return (
    hostname: string,
    options: LookupOptions,
    callback: (err: NodeJS.ErrnoException | null, address: string | LookupAddress[], family?: number) => void,
  ): void => {
    lookup(hostname, { ...options, all: true }).then(
      (addresses) => {
        const bad = addresses.map((a) => blockedAddressReason(a.address)).find((r) => r !== null);
        if (bad) return callback(new SsrfError(`refused to connect: ${hostname} resolves to ${bad}`), []);
        if (options.all) return callback(null, addresses);
        const first = addresses[0];
        if (!first) return callback(Object.assign(new Error(`${hostname} has no address`), { code: 'ENOTFOUND' }), []);
        callback(null, first.address, first.family);
      },
      (err: NodeJS.ErrnoException) => callback(err, []),
    );
  };
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('DNS lookup timed out')), ms);
    promise.then(
      (v) => (clearTimeout(timer), resolve(v)),
      (e) => (clearTimeout(timer), reject(e)),
    );
  });
}
