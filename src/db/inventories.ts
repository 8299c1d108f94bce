// The node_inventories table: each node's last inspected inventory (Ironic's inventory + plugin_data).
import type { HardwareInventory } from '../domain/inventory.js';
import type { Queryable } from './pool.js';

export interface InventoryRecord {
  node_uuid: string;
  inventory: HardwareInventory;
  plugin_data: Record<string, unknown>;
  created_at: Date;
}

/** Replaces the node's inventory with what this inspection found. */
export async function saveInventory(
  db: Queryable,
  nodeUuid: string,
  inventory: HardwareInventory,
  pluginData: Record<string, unknown>,
): Promise<void> {
  await db.query(
    `INSERT INTO node_inventories (node_uuid, inventory, plugin_data) VALUES ($1, $2, $3)
     ON CONFLICT (node_uuid) DO UPDATE SET inventory = EXCLUDED.inventory, plugin_data = EXCLUDED.plugin_data, created_at = now()`,
    [nodeUuid, JSON.stringify(inventory), JSON.stringify(pluginData)],
  );
}

export async function findInventory(db: Queryable, nodeUuid: string): Promise<InventoryRecord | undefined> {
  const { rows } = await db.query<InventoryRecord>(
    'SELECT node_uuid, inventory, plugin_data, created_at FROM node_inventories WHERE node_uuid = $1',
    [nodeUuid],
  );
  return rows[0];
}
