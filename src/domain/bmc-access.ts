// What an operator lets BMC addresses and CA bundles be: the networks BMCs may live on, and the
// one directory CA bundles for redfish_verify_ca come from. Pure rules (no I/O), checked by the
// API when driver_info is written and by the drivers again when they connect.
import { BlockList, isIP } from 'node:net';
import path from 'node:path';

export interface BmcAccess {
  /** CIDRs (e.g. 10.20.0.0/16) every BMC address must fall in; empty: any address (the default). */
  allowedNetworks: readonly string[];
  /** Absolute directory holding the CA bundles redfish_verify_ca may name; unset: only true/false. */
  caDir?: string;
}

export const ANY_BMC: BmcAccess = { allowedNetworks: [] };

/** CA bundles are small; a bigger "bundle" (/dev/zero, a disk image) is refused before it is read whole. */
export const MAX_CA_BUNDLE_BYTES = 1024 * 1024;

/** The CIDR list of a comma-separated setting, each checked; throws naming the first bad one. */
export function parseNetworks(text: string | undefined): string[] {
  const networks = (text ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  for (const network of networks) {
    const [address, bits, extra] = network.split('/');
    const family = isIP(address ?? '');
    const max = family === 6 ? 128 : 32;
    if (!family || extra !== undefined || !/^\d+$/.test(bits ?? '') || Number(bits) > max) {
      throw new Error(`"${network}" is not a network in CIDR notation such as 10.20.0.0/16 or fd00::/64`);
    }
  }
  return networks;
}

/** Whether the IP address `ip` lies in one of `networks` (or `networks` is empty). */
export function isAddressAllowed(ip: string, networks: readonly string[]): boolean {
  if (networks.length === 0) return true;
  const list = new BlockList();
  for (const network of networks) {
    const [address, bits] = network.split('/');
    list.addSubnet(address, Number(bits), isIP(address) === 6 ? 'ipv6' : 'ipv4');
  }
  const family = isIP(ip);
  if (!family) return false;
  // An IPv4-mapped IPv6 address is the IPv4 address it maps.
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(ip);
  return mapped ? list.check(mapped[1], 'ipv4') : list.check(ip, family === 6 ? 'ipv6' : 'ipv4');
}

/** The host a BMC address names: the host of a Redfish URL (scheme optional) or an IPMI host, brackets off. */
export function bmcHost(address: string): string | undefined {
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(address) ? address : `https://${address}`;
  if (!URL.canParse(withScheme)) return undefined;
  return new URL(withScheme).hostname.replace(/^\[|\]$/g, '');
}

/** Why `host` may not be used as a BMC address, when it is an IP literal outside the allowed networks. */
export function bmcHostProblem(host: string, access: BmcAccess): string | undefined {
  if (isIP(host) && !isAddressAllowed(host, access.allowedNetworks)) {
    return 'is outside the networks BMCs may be on (BMC_ALLOWED_NETWORKS)';
  }
  return undefined;
}

/** redfish_verify_ca as the driver uses it: a boolean, or a path to a CA bundle. */
export type VerifyCa = boolean | { caFile: string };

/**
 * What a redfish_verify_ca value means under `access`: true/false (also as strings, as Ironic's
 * users write them), or a file name inside the CA directory. One message for every refusal of a
 * path, naming no file, so the answer never tells which files exist.
 */
export function parseVerifyCa(value: unknown, access: BmcAccess): VerifyCa | { problem: string } {
  if (value === undefined || value === true || (typeof value === 'string' && /^true$/i.test(value))) return true;
  if (value === false || (typeof value === 'string' && /^false$/i.test(value))) return false;
  const problem = access.caDir
    ? 'must be true, false, or the name of a CA bundle in the CA directory (REDFISH_CA_DIR)'
    : 'must be true or false: no CA directory (REDFISH_CA_DIR) is configured for CA bundles';
  if (typeof value !== 'string' || !access.caDir || value.includes('\0') || value.length > 1024) return { problem };
  const dir = path.resolve(access.caDir);
  const caFile = path.resolve(dir, value);
  if (!caFile.startsWith(`${dir}${path.sep}`)) return { problem };
  return { caFile };
}
