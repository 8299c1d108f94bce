// Inventory: CPUs, memory, disks and NICs read out of band, for inspection.
import { z } from 'zod';
import type { BmcInventory, Inventory } from '../types.js';
import { collectionSchema, linkSchema, type ComputerSystem, type RedfishSystem } from './system.js';

const processorSchema = z.object({ Model: z.string().nullish(), TotalCores: z.number().nullish() });
const storageSchema = z.object({ Drives: z.array(linkSchema).optional() });
const driveSchema = z.object({
  Id: z.string().optional(),
  Name: z.string().optional(),
  CapacityBytes: z.number().nullish(),
  Model: z.string().nullish(),
  SerialNumber: z.string().nullish(),
});
const simpleStorageSchema = z.object({
  Devices: z
    .array(z.object({ Name: z.string().optional(), CapacityBytes: z.number().nullish(), Model: z.string().nullish() }))
    .optional(),
});
const nicSchema = z.object({
  Id: z.string().optional(),
  MACAddress: z.string().nullish(),
  PermanentMACAddress: z.string().nullish(),
});

const optionalText = (value: string | null | undefined) => value ?? undefined;

export function redfishInventory(system: RedfishSystem): BmcInventory {
  const { client } = system;

  /** Members of a collection the BMC may not implement (404 or 501): undefined then. */
  const optionalMembers = async (collectionPath: string) =>
    (await client.getOptionalAs(collectionSchema, collectionPath))?.Members.map((member) => member['@odata.id']);

  const processors = async (current: ComputerSystem): Promise<Inventory['cpus']> => {
    const summary = current.ProcessorSummary;
    if (summary?.Count != null) return { count: summary.Count, model: optionalText(summary.Model) };
    const paths = current.Processors ? await optionalMembers(current.Processors['@odata.id']) : undefined;
    if (!paths?.length) return { count: undefined, model: undefined };
    const first = await client.getAs(processorSchema, paths[0]);
    return { count: paths.length, model: optionalText(first.Model) };
  };

  const disks = async (current: ComputerSystem): Promise<Inventory['disks']> => {
    const storages = current.Storage ? await optionalMembers(current.Storage['@odata.id']) : undefined;
    if (storages) {
      const drives = [];
      for (const storagePath of storages) {
        for (const { '@odata.id': drivePath } of (await client.getAs(storageSchema, storagePath)).Drives ?? []) {
          const drive = await client.getAs(driveSchema, drivePath);
          drives.push({
            name: drive.Name ?? drive.Id ?? drivePath,
            sizeBytes: drive.CapacityBytes ?? undefined,
            model: optionalText(drive.Model),
            serialNumber: optionalText(drive.SerialNumber),
          });
        }
      }
      return drives;
    }
    // Older BMCs describe disks only in SimpleStorage.
    const simple = current.SimpleStorage ? await optionalMembers(current.SimpleStorage['@odata.id']) : undefined;
    const found = [];
    for (const path of simple ?? []) {
      for (const device of (await client.getAs(simpleStorageSchema, path)).Devices ?? []) {
        found.push({
          name: device.Name ?? path,
          sizeBytes: device.CapacityBytes ?? undefined,
          model: optionalText(device.Model),
          serialNumber: undefined,
        });
      }
    }
    return found;
  };

  const nics = async (current: ComputerSystem): Promise<Inventory['nics']> => {
    const found = [];
    for (const path of current.EthernetInterfaces
      ? await system.members(current.EthernetInterfaces['@odata.id'])
      : []) {
      const nic = await client.getAs(nicSchema, path);
      const macAddress = nic.MACAddress ?? nic.PermanentMACAddress;
      if (macAddress) found.push({ name: nic.Id ?? path, macAddress: macAddress.toLowerCase() });
    }
    return found;
  };

  return {
    async getInventory() {
      const { system: current } = await system.get();
      const memoryGiB = current.MemorySummary?.TotalSystemMemoryGiB;
      return {
        cpus: await processors(current),
        memoryMiB: memoryGiB == null ? undefined : Math.round(memoryGiB * 1024),
        disks: await disks(current),
        nics: await nics(current),
      };
    },
  };
}
