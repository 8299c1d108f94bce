// Virtual media: an ISO by URL on the virtual CD, found under the system or its manager.
import { z } from 'zod';
import type { BmcVirtualMedia } from '../types.js';
import { actionSchema, linkSchema, type RedfishSystem } from './system.js';

const virtualMediaSchema = z.object({
  MediaTypes: z.array(z.string()).optional(),
  Image: z.string().nullish(),
  Inserted: z.boolean().nullish(),
  Actions: z
    .object({
      '#VirtualMedia.InsertMedia': actionSchema.optional(),
      '#VirtualMedia.EjectMedia': actionSchema.optional(),
    })
    .optional(),
});
type VirtualMedia = z.infer<typeof virtualMediaSchema>;
const managerSchema = z.object({ VirtualMedia: linkSchema.optional() });

export function redfishVirtualMedia(system: RedfishSystem): BmcVirtualMedia {
  const { client } = system;

  /** The virtual CD: under the system (sushy-tools, newer BMCs) or under its manager (most vendors). */
  const virtualCd = async () => {
    const { path: systemPath, system: current } = await system.get();
    let collectionLink = current.VirtualMedia;
    for (const manager of collectionLink ? [] : (current.Links?.ManagedBy ?? [])) {
      collectionLink = (await client.getAs(managerSchema, manager['@odata.id'])).VirtualMedia;
      if (collectionLink) break;
    }
    for (const path of collectionLink ? await system.members(collectionLink['@odata.id']) : []) {
      const media = await client.getAs(virtualMediaSchema, path);
      if (media.MediaTypes?.some((type) => type === 'CD' || type === 'DVD')) return { path, media };
    }
    throw client.error('unsupported', `offers no virtual CD for ${systemPath}`);
  };

  const eject = async (path: string, media: VirtualMedia) => {
    const action = media.Actions?.['#VirtualMedia.EjectMedia'];
    if (!action) throw client.error('unsupported', `offers no VirtualMedia.EjectMedia action on ${path}`);
    await client.request('POST', action.target, {});
  };

  return {
    async insertVirtualMedia(imageUrl) {
      const { path, media } = await virtualCd();
      if (media.Inserted && media.Image === imageUrl) return;
      if (media.Inserted) await eject(path, media);
      const insert = media.Actions?.['#VirtualMedia.InsertMedia'];
      if (!insert) throw client.error('unsupported', `offers no VirtualMedia.InsertMedia action on ${path}`);
      await client.request('POST', insert.target, { Image: imageUrl, Inserted: true, WriteProtected: true });
    },

    async ejectVirtualMedia() {
      const { path, media } = await virtualCd();
      if (media.Inserted) await eject(path, media);
    },
  };
}
