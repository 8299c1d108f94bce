// Management calls an operator makes on a node's BMC outside any provision operation (Ironic's
// /v1/nodes/{id}/management/*): short, run under the node's lock like every operation.
import { bmc } from './activities.js';
import type { BootDeviceInput, BootDeviceSetting } from './contract.js';

export async function bootDeviceWorkflow({
  nodeUuid,
  device,
  persistent,
}: BootDeviceInput): Promise<BootDeviceSetting> {
  if (device) await bmc.bmcSetBootDevice(nodeUuid, device, persistent ?? false);
  return bmc.bmcGetBootDevice(nodeUuid);
}
