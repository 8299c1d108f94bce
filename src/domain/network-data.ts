// A node's static network, in the shape of OpenStack's network_data.json (Ironic's node
// network_data field, what a config drive or a DHCP-less virtual-media boot carries): links are
// NICs named by MAC, networks put addresses and routes on a link, services name DNS servers.
// The API validates it on the node; the agent in the ramdisk turns it into `ip` commands.
import { isIP } from 'node:net';
import { z } from 'zod';

const MAC_ADDRESS = /^[0-9a-f]{2}(:[0-9a-f]{2}){5}$/;
const ipv4 = z.string().refine((value) => isIP(value) === 4, 'must be an IPv4 address');
const ipv6 = z.string().refine((value) => isIP(value) === 6, 'must be an IPv6 address');
const anyIp = z.string().refine((value) => isIP(value) !== 0, 'must be an IP address');
/** A dotted IPv4 netmask (255.255.255.0) or a prefix length ("24", or an IPv6 one such as "64"). */
const netmask = z
  .string()
  .refine((value) => prefixLength(value) !== undefined, 'must be a netmask such as 255.255.255.0 or a prefix length');

const route = z.object({ network: anyIp, netmask, gateway: anyIp });

/** Empty (`{}`, no links): the node has no static network, and its ramdisk uses DHCP. */
export const networkDataSchema = z
  .strictObject({
    links: z
      .array(
        z.object({
          id: z.string().min(1).max(64),
          type: z.enum(['phy', 'ethernet', 'vif']).default('phy'),
          ethernet_mac_address: z
            .string()
            .toLowerCase()
            .regex(MAC_ADDRESS, 'must be a MAC address such as 52:54:00:12:34:56'),
          mtu: z.number().int().min(576).max(9216).nullish(),
        }),
      )
      .max(16)
      .default([]),
    networks: z
      .array(
        z.discriminatedUnion('type', [
          z.object({
            id: z.string().min(1).max(64),
            type: z.literal('ipv4'),
            link: z.string(),
            ip_address: ipv4,
            netmask,
            gateway: ipv4.optional(),
            routes: z.array(route).max(32).default([]),
          }),
          z.object({
            id: z.string().min(1).max(64),
            type: z.literal('ipv6'),
            link: z.string(),
            ip_address: ipv6,
            netmask,
            gateway: ipv6.optional(),
            routes: z.array(route).max(32).default([]),
          }),
          z.object({
            id: z.string().min(1).max(64),
            type: z.enum(['ipv4_dhcp', 'ipv6_dhcp', 'ipv6_slaac']),
            link: z.string(),
          }),
        ]),
      )
      .max(16)
      .default([]),
    services: z
      .array(z.object({ type: z.literal('dns'), address: anyIp }))
      .max(8)
      .default([]),
  })
  .superRefine((data, ctx) => {
    const links = new Set(data.links.map((link) => link.id));
    data.networks.forEach((network, index) => {
      if (!links.has(network.link))
        ctx.addIssue({
          code: 'custom',
          path: ['networks', index, 'link'],
          message: `names no link (links: ${[...links].join(', ')})`,
        });
    });
  });

export type NetworkData = z.infer<typeof networkDataSchema>;

/** Prefix length of a dotted IPv4 netmask or of a plain number; undefined when it is neither. */
export function prefixLength(mask: string): number | undefined {
  if (/^\d{1,3}$/.test(mask)) return Number(mask) <= 128 ? Number(mask) : undefined;
  if (isIP(mask) !== 4) return undefined;
  const bits = mask
    .split('.')
    .map((octet) => Number(octet).toString(2).padStart(8, '0'))
    .join('');
  if (!/^1*0*$/.test(bits)) return undefined;
  const ones = bits.indexOf('0');
  return ones === -1 ? 32 : ones;
}

/** The `ip` commands that give this machine its static network; `interfaceByMac` maps lower-case MACs to kernel names. */
export function staticNetworkCommands(data: NetworkData, interfaceByMac: ReadonlyMap<string, string>): string[][] {
  const commands: string[][] = [];
  const deviceOf = new Map<string, string>();
  for (const link of data.links) {
    const device = interfaceByMac.get(link.ethernet_mac_address);
    if (!device)
      throw new Error(`network_data link ${link.id}: no NIC with MAC ${link.ethernet_mac_address} on this machine`);
    deviceOf.set(link.id, device);
    commands.push(['ip', 'link', 'set', device, ...(link.mtu ? ['mtu', String(link.mtu)] : []), 'up']);
  }
  for (const network of data.networks) {
    if (!('ip_address' in network)) continue;
    const device = deviceOf.get(network.link)!;
    commands.push(['ip', 'address', 'add', `${network.ip_address}/${prefixLength(network.netmask)}`, 'dev', device]);
    for (const { network: destination, netmask: mask, gateway } of network.routes) {
      commands.push(['ip', 'route', 'add', `${destination}/${prefixLength(mask)}`, 'via', gateway, 'dev', device]);
    }
    if (network.gateway) commands.push(['ip', 'route', 'add', 'default', 'via', network.gateway, 'dev', device]);
  }
  return commands;
}

/** resolv.conf for the DNS services, or undefined when none is named. */
export function resolvConf(data: NetworkData): string | undefined {
  return data.services.length ? data.services.map((service) => `nameserver ${service.address}\n`).join('') : undefined;
}
