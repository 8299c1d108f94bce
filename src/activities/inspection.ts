// The end of an inspection: what it found becomes the node's properties and ports, then the
// inspection rules change the node further. One transaction, written once per activity.
import { ApplicationFailure } from '@temporalio/common';
import { randomUUID } from 'node:crypto';
import { recordEvent } from '../db/events.js';
import { rulesInOrder } from '../db/inspection-rules.js';
import { findInventory } from '../db/inventories.js';
import { updateNode } from '../db/nodes.js';
import { inTransaction, type Pool } from '../db/pool.js';
import { findPortByAddress, insertPort } from '../db/ports.js';
import type { RequestContext } from '../domain/context.js';
import { applyInspectionRules } from '../domain/inspection-rules.js';
import { inspectedProperties, inventoryMacs } from '../domain/inventory.js';
import { rootDeviceHintsSchema } from '../domain/root-device.js';
import { eventOrigin, onceEventOrigin } from './node-state.js';
import { requireNode } from './nodes.js';

export interface InspectionResult {
  /** A rule's `fail` action: the inspection fails with this, and nothing of it was applied. */
  failure?: string;
}

export function createInspectionActivities(pool: Pool) {
  return {
    async applyInspection(nodeUuid: string, context: RequestContext): Promise<InspectionResult> {
      return inTransaction(pool, async (client) => {
        const node = await requireNode(client, nodeUuid, { forUpdate: true });
        const found = await findInventory(client, nodeUuid);
        if (!found) throw ApplicationFailure.nonRetryable('inspection found no inventory to apply', 'NoInventory');
        const hints = rootDeviceHintsSchema.safeParse(node.properties.root_device ?? {});
        let inspected;
        try {
          inspected = inspectedProperties(found.inventory, hints.success ? hints.data : undefined);
        } catch (err) {
          return { failure: (err as Error).message };
        }
        const properties = { ...node.properties, ...inspected };
        const outcome = applyInspectionRules(
          await rulesInOrder(client),
          { ...node, properties },
          { inventory: found.inventory, plugin_data: found.plugin_data },
        );
        if (outcome.failure) return { failure: outcome.failure };
        const ruledHints = rootDeviceHintsSchema.optional().safeParse(outcome.node.properties.root_device);
        if (!ruledHints.success)
          return {
            failure: `inspection rules set root device hints the agent cannot use: ${ruledHints.error.issues[0].message}`,
          };

        const macs = inventoryMacs(found.inventory);
        const summary = [
          ...['cpus', 'memory_mb', 'local_gb', 'cpu_arch', 'boot_mode'].map(
            (key) => `${key} ${JSON.stringify(outcome.node.properties[key] ?? null)}`,
          ),
          `${macs.length} NICs`,
          `inventory from the ${found.plugin_data.inspected_by === 'agent' ? 'agent' : 'BMC'}`,
          ...(outcome.matched.length ? [`rules applied: ${outcome.matched.join(', ')}`] : []),
        ].join('; ');
        // The summary is written once per activity: a retry after a lost completion finds it and stops.
        const first = await recordEvent(
          client,
          { node_uuid: nodeUuid, kind: 'inspection', verb: 'inspected', message: summary },
          onceEventOrigin(context),
        );
        if (!first) return {};

        const { resource_class, properties: finalProperties, extra, traits } = outcome.node;
        await updateNode(client, nodeUuid, { resource_class, properties: finalProperties, extra, traits });
        for (const address of macs) {
          const existing = await findPortByAddress(client, address);
          if (!existing) {
            await insertPort(client, {
              uuid: randomUUID(),
              address,
              node_uuid: nodeUuid,
              pxe_enabled: true,
              extra: {},
            });
          } else if (existing.node_uuid !== nodeUuid) {
            // Another node (perhaps another tenant's) has it: it is not named here, an admin finds it by address.
            await recordEvent(
              client,
              {
                node_uuid: nodeUuid,
                kind: 'inspection',
                verb: 'port refused',
                severity: 'error',
                message: `MAC ${address} is already a port of another node; no port was created for it`,
              },
              eventOrigin(context),
            );
          }
        }
        return {};
      });
    },
  };
}
