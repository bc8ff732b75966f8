/**
 * Addresses as the API takes and gives them: networks, parsing 'host:port',
 * Unix paths and abstract names, resolving names, and socket addresses
 * decoded from the kernel's form.
 */
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { NbioError } from './errors.js';

/**
 * The networks an engine listens on and dials: TCP and UDP over IPv4
 * and/or IPv6, and Unix stream sockets.
 */
export type Network = 'tcp' | 'tcp4' | 'tcp6' | 'udp' | 'udp4' | 'udp6' | 'unix';

/** What a network carries: a TCP stream, UDP datagrams or a Unix stream. */
export type Transport = 'tcp' | 'udp' | 'unix';

const NETWORKS: readonly string[] = ['tcp', 'tcp4', 'tcp6', 'udp', 'udp4', 'udp6', 'unix'];

/**
 * An address as Node's `server.address()` reports it; for a Unix socket,
 * `address` is its path ('' when unnamed, '@name' for an abstract name),
 * `port` 0 and `family` 'unix'.
 */
export interface AddressInfo {
  address: string;
  port: number;
  family: 'IPv4' | 'IPv6' | 'unix';
}

/** A parsed `host:port`; `host` is '' for "all interfaces" (listen) or "this machine" (dial). */
export interface IpEndpoint {
  host: string;
  port: number;
}

/** A Unix socket's path; '@name' is the Linux abstract name `name`. */
export interface PathEndpoint {
  path: string;
}

/** An address of one of the networks. */
export type Endpoint = IpEndpoint | PathEndpoint;

/** An IP endpoint resolved to a numeric address the shim can bind or connect to. */
export interface ResolvedIp {
  family: 4 | 6;
  ip: string;
  port: number;
  /** For a listener on '::': accept IPv6 only (tcp6, udp6) or IPv4 too. */
  v6only: boolean;
}

/** An endpoint ready for the shim. */
export type ResolvedEndpoint = ResolvedIp | PathEndpoint;

/** Longest Unix socket path, in bytes (sun_path less its terminating NUL). */
const MAX_PATH_BYTES = 107;

/**
 * Checks a network name; throws for anything else, with `code`:
 * ERR_NBIO_INVALID_OPTION for the engine's `network` option,
 * ERR_NBIO_INVALID_ADDRESS for `dial`'s first argument.
 */
export function parseNetwork(value: unknown, code: 'ERR_NBIO_INVALID_OPTION' | 'ERR_NBIO_INVALID_ADDRESS', what: string): Network {
  if (typeof value === 'string' && NETWORKS.includes(value)) return value as Network;
  const lower = typeof value === 'string' ? value.toLowerCase() : '';
  const hint = NETWORKS.includes(lower) ? ` (network names are lower case: ${JSON.stringify(lower)})` : '';
  throw new NbioError(code, `${what} ${JSON.stringify(value)} is not a network${hint}: expected one of ${NETWORKS.join(', ')}`);
}

/** The transport of a network. */
export function transportOf(network: Network): Transport {
  return network === 'unix' ? 'unix' : network.startsWith('udp') ? 'udp' : 'tcp';
}

/**
 * Parses an address of `network`: for 'unix' a socket path (or '@name'),
 * otherwise 'host:port', '[ipv6]:port' or ':port'. Listen ports may be 0
 * (the kernel picks one); dial ports must be 1-65535. Throws
 * ERR_NBIO_INVALID_ADDRESS with the reason when the address is malformed,
 * or when an IP literal's version does not fit the network.
 */
export function parseAddress(network: Network, address: unknown, purpose: 'listen' | 'dial'): Endpoint {
  if (network === 'unix') return parsePath(address);
  const endpoint = parseIp(address, purpose);
  checkFamily(network, endpoint);
  return endpoint;
}

function parsePath(address: unknown): PathEndpoint {
  if (typeof address !== 'string') throw invalid(address, 'a Unix socket address must be a path (or "@name")');
  if (address === '' || address === '@') throw invalid(address, 'the path is empty');
  if (address.includes('\0')) throw invalid(address, 'a path cannot contain NUL');
  if (Buffer.byteLength(address) > MAX_PATH_BYTES) throw invalid(address, `longer than ${MAX_PATH_BYTES} bytes`);
  return { path: address };
}

function parseIp(address: unknown, purpose: 'listen' | 'dial'): IpEndpoint {
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
 * Resolves an endpoint of `network`: host names through the system
 * resolver (so its errors, e.g. ENOTFOUND, are Node's own), IP literals as
 * they are, Unix paths unchanged.
 */
export async function resolveEndpoint(network: Network, endpoint: Endpoint, purpose: 'listen' | 'dial'): Promise<ResolvedEndpoint> {
  if ('path' in endpoint) return endpoint;
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
  const literal = isIP(host) as 0 | 4 | 6;
  if (literal !== 0) return { family: literal, ip: host, port, v6only: wanted === 6 };
  const found = await lookup(host, { family: wanted });
  return { family: found.family as 4 | 6, ip: found.address, port, v6only: wanted === 6 };
}

/**
 * Throws ERR_NBIO_INVALID_ADDRESS when `endpoint`'s host is an IP literal
 * of a version `network` cannot use (an IPv6 address on tcp4 or udp4, an
 * IPv4 address on tcp6 or udp6).
 */
function checkFamily(network: Network, endpoint: IpEndpoint): void {
  const literal = isIP(endpoint.host);
  const wanted = familyOf(network);
  if (literal !== 0 && wanted !== 0 && literal !== wanted) {
    const given = literal === 6 ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
    throw invalid(given, `an IPv${literal} address cannot be used with network ${network}`);
  }
}

/** The IP version `network` is limited to, or 0 for both. */
function familyOf(network: Network): 0 | 4 | 6 {
  return network.endsWith('4') ? 4 : network.endsWith('6') ? 6 : 0;
}

/** Formats an address the way `addrs` are written: '1.2.3.4:80', '[::1]:80', or a Unix path. */
export function formatAddress(info: AddressInfo): string {
  if (info.family === 'unix') return info.address;
  return info.family === 'IPv6' ? `[${info.address}]:${info.port}` : `${info.address}:${info.port}`;
}

/** A resolved endpoint as text, for error messages: '127.0.0.1:80', or the path. */
export function describeEndpoint(target: ResolvedEndpoint): string {
  return 'path' in target ? target.path : target.family === 6 ? `[${target.ip}]:${target.port}` : `${target.ip}:${target.port}`;
}

/** Linux address families, as the first u16 of a socket address. */
const AF_INET = 2;
const AF_INET6 = 10;

/**
 * A Linux socket address (`sockaddr_in` or `sockaddr_in6`, as the reactor
 * reports a UDP peer's) as an AddressInfo; undefined for another family.
 */
export function decodeSockaddr(bytes: Uint8Array): AddressInfo | undefined {
  if (bytes.length < 8) return undefined;
  const family = bytes[0] | (bytes[1] << 8);
  const port = (bytes[2] << 8) | bytes[3];
  if (family === AF_INET) return { address: bytes.subarray(4, 8).join('.'), port, family: 'IPv4' };
  if (family !== AF_INET6 || bytes.length < 24) return undefined;
  const words: string[] = [];
  for (let i = 8; i < 24; i += 2) words.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return { address: compressIPv6(words), port, family: 'IPv6' };
}

/** IPv6 text as inet_ntop writes it: the longest run of two or more zero words becomes '::'. */
function compressIPv6(words: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (words[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && words[j] === '0') j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  // An IPv4-mapped address keeps its dotted tail, as Node prints it.
  if (best === 0 && bestLen === 5 && words[5] === 'ffff') {
    const v4 = [6, 7].flatMap((k) => { const w = parseInt(words[k], 16); return [w >> 8, w & 0xff]; });
    return `::ffff:${v4.join('.')}`;
  }
  if (best < 0) return words.join(':');
  return `${words.slice(0, best).join(':')}::${words.slice(best + bestLen).join(':')}`;
}

function invalid(address: unknown, reason: string): NbioError {
  return new NbioError('ERR_NBIO_INVALID_ADDRESS', `invalid address ${JSON.stringify(address)}: ${reason}`);
}
