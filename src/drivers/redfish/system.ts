// The shared handle every Redfish interface works through: the client and the one
// ComputerSystem it manages, found once per connection (Ironic's redfish utils.get_system).
import { z } from 'zod';
import type { RedfishClient } from '../redfish-client.js';

const SYSTEMS_PATH = '/redfish/v1/Systems';

export const linkSchema = z.object({ '@odata.id': z.string() });
export const actionSchema = z.object({ target: z.string() });
export const collectionSchema = z.object({ Members: z.array(linkSchema) });

export const computerSystemSchema = z.object({
  '@odata.type': z.string().optional(),
  PowerState: z.string().nullish(),
  Boot: z
    .object({
      BootSourceOverrideTarget: z.string().nullish(),
      BootSourceOverrideEnabled: z.string().nullish(),
      BootSourceOverrideMode: z.string().nullish(),
      'BootSourceOverrideTarget@Redfish.AllowableValues': z.array(z.string()).optional(),
      'BootSourceOverrideMode@Redfish.AllowableValues': z.array(z.string()).optional(),
    })
    .optional(),
  ProcessorSummary: z.object({ Count: z.number().nullish(), Model: z.string().nullish() }).optional(),
  MemorySummary: z.object({ TotalSystemMemoryGiB: z.number().nullish() }).optional(),
  Processors: linkSchema.optional(),
  Storage: linkSchema.optional(),
  SimpleStorage: linkSchema.optional(),
  EthernetInterfaces: linkSchema.optional(),
  VirtualMedia: linkSchema.optional(),
  Bios: linkSchema.optional(),
  Links: z.object({ ManagedBy: z.array(linkSchema).optional() }).optional(),
  Actions: z
    .object({
      '#ComputerSystem.Reset': actionSchema
        .extend({ 'ResetType@Redfish.AllowableValues': z.array(z.string()).optional() })
        .optional(),
    })
    .optional(),
});
export type ComputerSystem = z.infer<typeof computerSystemSchema>;

export class RedfishSystem {
  readonly client: RedfishClient;
  readonly #systemId: string | undefined;
  #path: string | undefined;

  /** `systemId`: an id or a path from driver_info; absent: the BMC's only system. */
  constructor(client: RedfishClient, systemId: string | undefined) {
    this.client = client;
    this.#systemId = systemId;
  }

  /** The ComputerSystem as the BMC reports it now. */
  async get(): Promise<{ path: string; system: ComputerSystem }> {
    const path = await this.#resolvePath();
    const system = await this.client.getAs(computerSystemSchema, path);
    const type = system['@odata.type'];
    if (type && !type.includes('ComputerSystem.')) {
      throw this.client.error('protocol', `has a ${type} at ${path}, not a ComputerSystem; check redfish_system_id`);
    }
    return { path, system };
  }

  /** The member paths of a collection. */
  async members(collectionPath: string): Promise<string[]> {
    return (await this.client.getAs(collectionSchema, collectionPath)).Members.map((member) => member['@odata.id']);
  }

  async #resolvePath(): Promise<string> {
    if (this.#path) return this.#path;
    const systemId = this.#systemId;
    if (systemId) {
      this.#path = systemId.startsWith('/') ? systemId : `${SYSTEMS_PATH}/${encodeURIComponent(systemId)}`;
      return this.#path;
    }
    const members = await this.members(SYSTEMS_PATH);
    if (members.length !== 1) {
      throw this.client.error(
        'protocol',
        members.length === 0
          ? 'lists no systems'
          : `manages ${members.length} systems (${members.join(', ')}); set redfish_system_id to choose one`,
      );
    }
    this.#path = members[0];
    return this.#path;
  }
}
