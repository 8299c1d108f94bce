// Inventory: CPUs, memory, disks and NICs read out of band, for inspection.
import { z } from 'zod';
import type { BmcInventory, Inventory } from '../types.js';
import { collectionSchema, linkSchema, type ComputerSystem, type RedfishSystem } from './system.js';

const processorSchema = z.object({
  Model: z.string().nullish(),
  TotalCores: z.number().nullish(),
  InstructionSet: z.string().nullish(),
});
/** Redfish's instruction sets in the names Linux (and Ironic's cpu_arch) use. */
const ARCHITECTURES: Readonly<Record<string, string>> = {
  'x86-64': 'x86_64',
  x86: 'i686',
  'IA-64': 'ia64',
  'ARM-A64': 'aarch64',
  'ARM-A32': 'armv7l',
  MIPS64: 'mips64',
  PowerISA: 'ppc64le',
};
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

  /** The summary's count and model, else the processors'; the architecture only a processor tells. */
  const processors = async (current: ComputerSystem): Promise<Inventory['cpus']> => {
    const summary = current.ProcessorSummary;
    const paths = current.Processors ? await optionalMembers(current.Processors['@odata.id']) : undefined;
    const first = paths?.length ? await client.getAs(processorSchema, paths[0]) : undefined;
    return {
      count: summary?.Count ?? (paths?.length || undefined),
      model: optionalText(summary?.Model) ?? optionalText(first?.Model),
      architecture: first?.InstructionSet ? ARCHITECTURES[first.InstructionSet] : undefined,
    };
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
