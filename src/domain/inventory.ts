// What inspection learns about a machine, in the shape of Ironic's inventory (ironic-python-agent's
// get_hardware_info, GET /v1/nodes/{id}/inventory), and what it derives from it: the scheduling
// properties and the NICs' MACs. Out of band a BMC fills part of it; the agent fills all of it.
import { z } from 'zod';
import { MIN_ROOT_DEVICE_BYTES, selectRootDevice, type DiskFacts, type RootDeviceHints } from './root-device.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;

export interface InventoryDisk {
  /** The device path, /dev/sda. */
  name: string;
  /** Bytes. */
  size: number;
  model: string | null;
  vendor: string | null;
  serial: string | null;
  wwn: string | null;
  rotational: boolean | null;
}

export interface InventoryInterface {
  name: string;
  mac_address: string;
  /** Link up; null when not known. */
  has_carrier: boolean | null;
}

export type BootMode = 'uefi' | 'bios';

export interface HardwareInventory {
  cpu: { count: number | null; model_name: string | null; architecture: string | null; flags: string[] };
  memory: { total: number | null; physical_mb: number | null };
  disks: InventoryDisk[];
  interfaces: InventoryInterface[];
  boot: { current_boot_mode: BootMode | null };
  system_vendor: { manufacturer: string | null; product_name: string | null; serial_number: string | null };
}

/**
 * What an agent may report: the agent answers on the provisioning network, so its inventory is
 * checked like any outside input before it becomes ports and properties (a MAC is a MAC, text is
 * short and has no NUL, lists are bounded).
 */
const text = z
  .string()
  .max(255)
  .regex(/^[^\u0000]*$/, 'must not hold NUL')
  .nullable();
const count = z
  .number()
  .int()
  .nonnegative()
  .max(2 ** 53);
export const hardwareInventorySchema: z.ZodType<HardwareInventory> = z.object({
  cpu: z.object({
    count: count.nullable(),
    model_name: text,
    architecture: text,
    flags: z
      .array(
        z
          .string()
          .max(64)
          .regex(/^[^\u0000]*$/),
      )
      .max(1024),
  }),
  memory: z.object({ total: count.nullable(), physical_mb: count.nullable() }),
  disks: z
    .array(
      z.object({
        name: z
          .string()
          .min(1)
          .max(255)
          .regex(/^[^\u0000]*$/),
        size: count,
        model: text,
        vendor: text,
        serial: text,
        wwn: text,
        rotational: z.boolean().nullable(),
      }),
    )
    .max(256),
  interfaces: z
    .array(
      z.object({
        name: z
          .string()
          .min(1)
          .max(64)
          .regex(/^[^\u0000]*$/),
        mac_address: z
          .string()
          .transform((mac) => mac.toLowerCase())
          .pipe(z.string().regex(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/, 'must be a MAC address')),
        has_carrier: z.boolean().nullable(),
      }),
    )
    .max(64),
  boot: z.object({ current_boot_mode: z.enum(['uefi', 'bios']).nullable() }),
  system_vendor: z.object({ manufacturer: text, product_name: text, serial_number: text }),
});

/** Where the inventory came from: the BMC (out of band) or the agent (in band). */
export type InventorySource = 'bmc' | 'agent';

/** What an in-band inspection adds when out of band left one of these unknown. */
export function missingFromInventory(inventory: HardwareInventory): string[] {
  return [
    ...(inventory.cpu.count ? [] : ['CPU count']),
    ...(inventory.memory.physical_mb ? [] : ['memory']),
    ...(inventory.disks.length ? [] : ['disks']),
    ...(inventory.interfaces.length ? [] : ['NICs']),
  ];
}

function diskFacts(disk: InventoryDisk): DiskFacts {
  return { ...disk, name: disk.name.replace(/^\/dev\//, ''), path: disk.name, sizeBytes: disk.size };
}

/** Ironic's inspected properties; one not learned is left out (the node keeps what it had). */
export interface InspectedProperties {
  cpus?: number;
  memory_mb?: number;
  local_gb?: number;
  cpu_arch?: string;
  boot_mode?: BootMode;
}

/**
 * The scheduling properties, as Ironic sets them: local_gb is the root device's size in GiB less
 * one, kept free for partitioning (Ironic's disk_partitioning_spacing); the root device is the one
 * the agent will write, so the node's root device hints choose it. Hints that match no disk throw
 * (the inspection fails, as Ironic's does); with no hints and no disk big enough, no local_gb.
 */
export function inspectedProperties(
  inventory: HardwareInventory,
  hints: RootDeviceHints | undefined,
): InspectedProperties {
  const properties: InspectedProperties = {};
  if (inventory.cpu.count) properties.cpus = inventory.cpu.count;
  if (inventory.memory.physical_mb) properties.memory_mb = inventory.memory.physical_mb;
  else if (inventory.memory.total) properties.memory_mb = Math.round(inventory.memory.total / MiB);
  if (inventory.cpu.architecture) properties.cpu_arch = inventory.cpu.architecture;
  if (inventory.boot.current_boot_mode) properties.boot_mode = inventory.boot.current_boot_mode;
  const disks = inventory.disks.map(diskFacts);
  const hinted = hints !== undefined && Object.keys(hints).length > 0;
  if (hinted || disks.some((disk) => disk.sizeBytes >= MIN_ROOT_DEVICE_BYTES)) {
    properties.local_gb = Math.max(0, Math.floor(selectRootDevice(disks, hints).sizeBytes / GiB) - 1);
  }
  return properties;
}

/** The NICs' MACs, lower case, each once. */
export function inventoryMacs(inventory: HardwareInventory): string[] {
  return [...new Set(inventory.interfaces.map((nic) => nic.mac_address.toLowerCase()).filter(Boolean))];
}
