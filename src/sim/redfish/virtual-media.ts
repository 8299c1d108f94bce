// One virtual CD. Like sushy-tools, the BMC downloads the image at insert, so a bad URL fails the insert.
import type { SimMachine } from '../machine.js';
import { downloadProblem } from './image-download.js';
import { systemPaths } from './paths.js';
import { collection, noContent, RedfishRequestError, requireObject, type RouteTable } from './routes.js';

export function addVirtualMediaRoutes(routes: RouteTable, machine: SimMachine): void {
  const { virtualMedia } = systemPaths(machine.systemId);
  const cd = `${virtualMedia}/Cd`;
  const insert = `${cd}/Actions/VirtualMedia.InsertMedia`;
  const eject = `${cd}/Actions/VirtualMedia.EjectMedia`;
  routes
    .resource(virtualMedia, () => collection(virtualMedia, 'VirtualMediaCollection', 'Virtual Media', [cd]))
    .resource(cd, () => {
      const media = machine.virtualMedia;
      return {
        '@odata.id': cd,
        '@odata.type': '#VirtualMedia.v1_4_0.VirtualMedia',
        Id: 'Cd',
        Name: 'Virtual CD',
        MediaTypes: ['CD', 'DVD'],
        ConnectedVia: media.inserted ? 'URI' : 'NotConnected',
        Image: media.image,
        Inserted: media.inserted,
        WriteProtected: true,
        Actions: { '#VirtualMedia.InsertMedia': { target: insert }, '#VirtualMedia.EjectMedia': { target: eject } },
      };
    })
    .post(insert, async (body) => {
      const { Image: image } = requireObject(body, 'VirtualMedia.InsertMedia');
      const problem = await downloadProblem(image);
      if (problem) throw new RedfishRequestError(400, 'Base.1.0.ActionParameterValueFormatError', problem);
      machine.insertMedia(image as string);
      return noContent;
    })
    .post(eject, () => {
      machine.ejectMedia();
      return noContent;
    });
}
