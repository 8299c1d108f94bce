// GET /v1/nodes/{id}/validate in Ironic's shape: per interface, whether the node's stored
// configuration would let it work ({result, reason}); null results for interfaces Tempered has not.
import type { NodeRecord } from '../db/nodes.js';
import { checkDriverInfo, DRIVERS } from '../domain/drivers.js';
import { deployImageInfo } from './schemas.js';

export interface InterfaceValidation {
  result: boolean | null;
  reason: string | null;
}

const ok: InterfaceValidation = { result: true, reason: null };
const failed = (reason: string): InterfaceValidation => ({ result: false, reason });
const NOT_SUPPORTED: InterfaceValidation = { result: null, reason: 'not supported' };
/** Interfaces Ironic validates that Tempered has no counterpart of. */
const UNSUPPORTED_INTERFACES = ['bios', 'console', 'inspect', 'raid', 'rescue', 'storage'] as const;

export function validateNode(node: NodeRecord): Record<string, InterfaceValidation> {
  const driver = DRIVERS[node.driver];
  const problem = checkDriverInfo(node.driver, node.driver_info);
  const bmc = problem ? failed(`driver_info.${problem.field}: ${problem.message}`) : ok;
  let boot = bmc;
  if (!problem && node.boot_interface === 'virtual-media' && !driver?.capabilities.includes('virtual_media')) {
    boot = failed(`driver "${node.driver}" cannot insert virtual media`);
  }
  const image = deployImageInfo.safeParse(node.instance_info);
  const deploy = image.success
    ? ok
    : failed(
        `instance_info.${image.error.issues[0].path.join('.') || 'image_source'}: ${image.error.issues[0].message}`,
      );
  return {
    boot,
    deploy,
    management: bmc,
    network: ok,
    power: bmc,
    ...Object.fromEntries(UNSUPPORTED_INTERFACES.map((name) => [name, NOT_SUPPORTED])),
  };
}
