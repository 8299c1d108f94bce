// Network boot, after Ironic's ipxe boot interface: the operator's DHCP server hands iPXE a
// script URL (see the README's "Network boot"), iPXE asks here with the MAC of the NIC it
// booted from, and gets the ramdisk's kernel, initramfs and command line when that MAC's node
// is in an operation that boots the agent (boot_interface pxe or ipxe), or `exit` otherwise, so
// the firmware moves on to the next boot device (the node's disk). Machines hold no API token,
// so, like lookup, this answers without one and says nothing more than lookup does.
import { Router } from 'express';
import { z } from 'zod';
import { findNodeUuidsByAddresses } from '../db/agent.js';
import { findNode } from '../db/nodes.js';
import type { Pool } from '../db/pool.js';
import { expectsAgent } from '../domain/agent.js';
import { ipxeScript, NETWORK_BOOT_INTERFACES } from '../domain/network-boot.js';
import { parse } from './errors.js';
import { MAC } from './schemas.js';

export interface NetworkBootConfig {
  /** Base URL serving build:ramdisk's vmlinuz and initramfs.img. */
  ramdiskUrl: string;
  /** The agent's tempered.api_url. */
  agentApiUrl: string;
}

export const ipxeQuery = z.strictObject({
  mac: z
    .string()
    .toLowerCase()
    .regex(MAC, 'must be the MAC address iPXE booted from, such as 52:54:00:12:34:56 (${net0/mac})'),
});

export function ipxeRouter(pool: Pool, config: NetworkBootConfig | undefined): Router {
  const router = Router();
  router.get('/boot/ipxe', async (req, res) => {
    const { mac } = parse(ipxeQuery, req.query, 'query');
    const uuids = await findNodeUuidsByAddresses(pool, [mac]);
    const node = uuids.length === 1 ? await findNode(pool, uuids[0]) : undefined;
    const boots = config && node && NETWORK_BOOT_INTERFACES.has(node.boot_interface) && expectsAgent(node);
    res
      .type('text/plain')
      .set('cache-control', 'no-store')
      .send(ipxeScript(boots ? config : undefined));
  });
  return router;
}
