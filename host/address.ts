import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { NbioError } from './errors.js';

/** The networks an engine listens on and dials: TCP over IPv4 and/or IPv6. */
export type Network = 'tcp' | 'tcp4' | 'tcp6';

const NETWORKS: readonly string[] = ['tcp', 'tcp4', 'tcp6'];

/** An address as Node's `server.address()` reports it. */
export interface AddressInfo {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6';
}

/** A parsed `host:port`; `host` is '' for "all interfaces" (listen) or "this machine" (dial). */
export interface Endpoint {
  host: string;
  port: number;
}

/** An endpoint resolved to a numeric address the shim can bind or connect to. */
export interface ResolvedEndpoint {
  family: 4 | 6;
  ip: string;
  port: number;
  /** For a listener on '::': accept IPv6 only (tcp6) or IPv4 too (tcp). */
  v6only: boolean;
}

/** Checks a network name; throws ERR_NBIO_INVALID_ADDRESS for anything but tcp, tcp4, tcp6. */
export function parseNetwork(value: unknown): Network {
  if (typeof value === 'string' && NETWORKS.includes(value)) return value as Network;
  throw new NbioError(
    'ERR_NBIO_INVALID_ADDRESS',
    `unsupported network ${JSON.stringify(value)}: expected one of ${NETWORKS.join(', ')}`,
  );
}

/**
 * Parses 'host:port', '[ipv6]:port' or ':port'. Listen ports may be 0 (the
 * kernel picks one); dial ports must be 1-65535. Throws
 * ERR_NBIO_INVALID_ADDRESS with the reason when the address is malformed.
 */
export function parseAddress(address: unknown, purpose: 'listen' | 'dial'): Endpoint {
  if (typeof address !== 'string') {
    throw invalid(address, 'an address must be a string like "127.0.0.1:8888"');
  }
  const colon = address.lastIndexOf(':');
  if (colon < 0) throw invalid(address, 'missing ":port"');
  let host = address.slice(0, colon);
  const portText = address.slice(colon + 1);
  if (host.startsWith('[') && host.endsWith(']')) {
    host = host.slice(1, -1);
    if (isIP(host) !== 6) throw invalid(address, `"${host}" is not an IPv6 address`);
  } else if (host.includes(':')) {
    throw invalid(address, 'an IPv6 address must be written in brackets, as "[::1]:8888"');
  } else if (host !== '' && isIP(host) === 0 && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) {
    throw invalid(address, `"${host}" is neither an IP address nor a host name`);
  }
  if (!/^[0-9]{1,5}$/.test(portText)) throw invalid(address, `port "${portText}" is not a number`);
  const port = Number(portText);
  const minPort = purpose === 'listen' ? 0 : 1;
  if (port < minPort || port > 65535) throw invalid(address, `port ${port} is out of range ${minPort}-65535`);
  return { host, port };
}

/**
 * Resolves an endpoint for `network`: host names through the system
 * resolver (so its errors, e.g. ENOTFOUND, are Node's own), IP literals
 * checked against the network ({@link checkFamily}).
 */
export async function resolveEndpoint(
  network: Network,
  endpoint: Endpoint,
  purpose: 'listen' | 'dial',
): Promise<ResolvedEndpoint> {
  const { host, port } = endpoint;
  const wanted = familyOf(network);
  if (host === '') {
    if (purpose === 'listen') {
      return wanted === 4
        ? { family: 4, ip: '0.0.0.0', port, v6only: false }
        : { family: 6, ip: '::', port, v6only: wanted === 6 };
    }
    return wanted === 6 ? { family: 6, ip: '::1', port, v6only: false } : { family: 4, ip: '127.0.0.1', port, v6only: false };
  }
  const literal = checkFamily(network, endpoint);
  if (literal !== 0) return { family: literal, ip: host, port, v6only: wanted === 6 };
  const found = await lookup(host, { family: wanted });
  return { family: found.family as 4 | 6, ip: found.address, port, v6only: wanted === 6 };
}

/**
 * The IP version of `endpoint`'s host when it is an IP literal (0 for a host
 * name or ''); throws ERR_NBIO_INVALID_ADDRESS when that version cannot be
 * used with `network` (an IPv6 address on tcp4, an IPv4 address on tcp6).
 */
export function checkFamily(network: Network, endpoint: Endpoint): 0 | 4 | 6 {
  const literal = isIP(endpoint.host) as 0 | 4 | 6;
  const wanted = familyOf(network);
  if (literal !== 0 && wanted !== 0 && literal !== wanted) {
    throw invalid(`${endpoint.host}:${endpoint.port}`, `an IPv${literal} address cannot be used with network ${network}`);
  }
  return literal;
}

/** The IP version `network` is limited to, or 0 for both. */
function familyOf(network: Network): 0 | 4 | 6 {
  return network === 'tcp4' ? 4 : network === 'tcp6' ? 6 : 0;
}

/** Formats an address the way `addrs` are written: '1.2.3.4:80' or '[::1]:80'. */
export function formatAddress(info: AddressInfo): string {
  return info.family === 'IPv6' ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}`;
}

function invalid(address: unknown, reason: string): NbioError {
  return new NbioError('ERR_NBIO_INVALID_ADDRESS', `invalid address ${JSON.stringify(address)}: ${reason}`);
}
