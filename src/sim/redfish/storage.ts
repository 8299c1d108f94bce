// The machine's one local disk, as inventory reads it.
import type { SimMachine } from '../machine.js';
import { systemPaths } from './paths.js';
import { collection, healthy, link, type RouteTable } from './routes.js';

export function addStorageRoutes(routes: RouteTable, machine: SimMachine): void {
  const { storage } = systemPaths(machine.systemId);
  const controller = `${storage}/1`;
  const disk = `${controller}/Drives/0`;
  routes
    .resource(storage, () => collection(storage, 'StorageCollection', 'Storage', [controller]))
    .resource(controller, () => ({
      '@odata.id': controller,
      '@odata.type': '#Storage.v1_8_0.Storage',
      Id: '1',
      Name: 'Local storage',
      Drives: [link(disk)],
    }))
    .resource(disk, () => ({
      '@odata.id': disk,
      '@odata.type': '#Drive.v1_9_0.Drive',
      Id: '0',
      Name: 'Disk 0',
      CapacityBytes: machine.diskSizeBytes,
      Model: 'Tempered Lab Disk',
      SerialNumber: machine.diskSerial,
      Status: healthy,
    }));
}
