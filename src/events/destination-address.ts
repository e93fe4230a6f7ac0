import { lookup as dnsLookup } from 'node:dns/promises';
import type { LookupFunction } from 'node:net';
import ipaddr from 'ipaddr.js';
import { BadRequestError } from '../errors.js';

/** Resolves a host name to its addresses (tests give a resolver of their own). */
export type Resolve = (hostname: string) => Promise<Array<{ address: string; family: number }>>;

export const systemResolve: Resolve = (hostname) => dnsLookup(hostname, { all: true, verbatim: true });

/**
 * Only public unicast addresses: loopback, private, link-local (cloud metadata, 169.254.169.254), carrier-grade
 * NAT (Alibaba's metadata), unique-local, reserved and unspecified ones are refused. IPv4-mapped IPv6 counts as IPv4; IPv4-compatible IPv6 is refused.
 */
export function isPublicAddress(address: string): boolean {
  if (!ipaddr.isValid(address)) return false;
  const parsed = ipaddr.parse(address);
  if (parsed.kind() === 'ipv6') {
    const v6 = parsed as ipaddr.IPv6;
    if (v6.isIPv4MappedAddress()) return v6.toIPv4Address().range() === 'unicast';
    // IPv4-compatible (::a.b.c.d, deprecated) counts as unicast in ipaddr.js: never a public destination.
    if (v6.parts.slice(0, 6).every((part) => part === 0)) return false;
  }
  return parsed.range() === 'unicast';
}

const notAllowed = (message: string) => new BadRequestError('destination_not_allowed', message);

/** `[::1]` → `::1`: URL keeps the brackets of an IPv6 host. */
const bareHost = (url: URL) => url.hostname.replace(/^\[(.*)\]$/, '$1');

export interface AddressRule {
  allowPrivateNetworks: boolean;
  resolve: Resolve;
}

/**
 * A destination URL the hub may call: https, and (unless private networks are allowed) a host whose every address
 * is public. Checked when a destination is made or changed, and again at every send (DNS may answer otherwise then).
 */
export async function checkDestinationUrl(text: string, rule: AddressRule): Promise<URL> {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw notAllowed('url must be an absolute https URL.');
  }
  if (url.protocol !== 'https:') throw notAllowed(`url must use https (got ${url.protocol.replace(':', '')}).`);
  if (url.username || url.password) throw notAllowed('url must not carry a user name or password.');
  if (rule.allowPrivateNetworks) return url;
  const host = bareHost(url);
  const addresses = ipaddr.isValid(host) ? [{ address: host, family: host.includes(':') ? 6 : 4 }] : await resolved(host, rule.resolve);
  const refused = addresses.filter((a) => !isPublicAddress(a.address));
  if (refused.length > 0) {
    throw notAllowed(`${host} resolves to ${refused.map((a) => a.address).join(', ')}: loopback, private, link-local and metadata addresses are not allowed (DESTINATIONS_ALLOW_PRIVATE_NETWORKS).`);
  }
  return url;
}

async function resolved(host: string, resolve: Resolve) {
  try {
    const addresses = await resolve(host);
    if (addresses.length > 0) return addresses;
  } catch {
    // answered below
  }
  throw notAllowed(`${host} does not resolve.`);
}

/**
 * The socket's own lookup: the addresses it connects to pass the same rule at that moment, so a host that
 * resolved to a public address at creation and to a private one now (DNS rebinding) is never reached.
 */
export function guardedLookup(rule: AddressRule): LookupFunction {
  return (hostname, options, callback) => {
    rule.resolve(hostname).then(
      (addresses) => {
        const family = typeof options.family === 'number' ? options.family : 0;
        const usable = addresses.filter((a) => family === 0 || a.family === family);
        const refused = rule.allowPrivateNetworks ? [] : usable.filter((a) => !isPublicAddress(a.address));
        if (usable.length === 0 || refused.length > 0) {
          const error = Object.assign(new Error(refused.length > 0 ? `${hostname} resolves to a refused address (${refused[0]!.address})` : `${hostname} does not resolve`), {
            code: refused.length > 0 ? 'EDESTINATIONNOTALLOWED' : 'ENOTFOUND',
          });
          callback(error, '', 0);
          return;
        }
        if (options.all) callback(null, usable as never, 0);
        else callback(null, usable[0]!.address, usable[0]!.family);
      },
      (error: NodeJS.ErrnoException) => callback(error, '', 0),
    );
  };
}
