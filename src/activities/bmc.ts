// Activities that talk to a node's BMC. They take a node UUID and read the credentials from
// the database themselves, so no secret ever enters a workflow's history.
import { ApplicationFailure } from '@temporalio/common';
import type { NodeRecord } from '../db/nodes.js';
import type { Pool } from '../db/pool.js';
import { requireNode } from './nodes.js';
import type { PowerState, PowerTarget } from '../domain/power.js';
import { stepName, type Step, type StepKind, type StepResult } from '../domain/steps.js';
import { getDriver } from '../drivers/registry.js';
import { driverSteps } from '../drivers/steps.js';
import { BmcError, type Bmc } from '../drivers/types.js';

/** Calls `call` with the node's BMC; failures that retrying cannot mend become non-retryable. */
export async function connectBmc<T>(node: NodeRecord, call: (bmc: Bmc) => Promise<T>): Promise<T> {
  try {
    return await call(getDriver(node.driver).connect({ nodeUuid: node.uuid, driverInfo: node.driver_info }));
  } catch (err) {
    if (err instanceof BmcError && !err.retryable) {
      throw ApplicationFailure.nonRetryable(err.message, `Bmc${err.kind[0].toUpperCase()}${err.kind.slice(1)}Error`);
    }
    throw err;
  }
}

export interface BmcActivityOptions {
  /** The ramdisk ISO a virtual-media boot inserts. */
  ramdiskIsoUrl?: string;
}

export function createBmcActivities(pool: Pool, options: BmcActivityOptions = {}) {
  async function withBmc<T>(nodeUuid: string, call: (bmc: Bmc, node: NodeRecord) => Promise<T>): Promise<T> {
    const node = await requireNode(pool, nodeUuid);
    return connectBmc(node, (bmc) => call(bmc, node));
  }

  return {
    /** Verify: the BMC answers with the stored credentials; returns the power state it reports. */
    bmcVerify(nodeUuid: string): Promise<PowerState> {
      return withBmc(nodeUuid, async (bmc) => {
        await bmc.validate();
        return bmc.getPowerState();
      });
    },
    bmcGetPowerState(nodeUuid: string): Promise<PowerState> {
      return withBmc(nodeUuid, (bmc) => bmc.getPowerState());
    },
    /** Asks for the change and answers the power state read right after it, sparing a round trip when the BMC is quick. */
    bmcSetPowerState(nodeUuid: string, target: PowerTarget): Promise<PowerState> {
      return withBmc(nodeUuid, async (bmc) => {
        await bmc.setPowerState(target);
        return bmc.getPowerState();
      });
    },

    /** Next boot goes to the ramdisk: the network (pxe), or the ramdisk ISO on virtual media. */
    bmcPrepareRamdiskBoot(nodeUuid: string): Promise<void> {
      return withBmc(nodeUuid, async (bmc, node) => {
        if (node.boot_interface !== 'virtual-media') return bmc.setBootDevice('pxe', { persistent: false });
        if (!bmc.insertVirtualMedia) {
          throw ApplicationFailure.nonRetryable(`driver ${node.driver} cannot boot virtual media; use boot_interface pxe`, 'Unsupported');
        }
        if (!options.ramdiskIsoUrl) {
          throw ApplicationFailure.nonRetryable('RAMDISK_ISO_URL is not set on the worker: virtual-media boot has no ISO', 'Misconfigured');
        }
        await bmc.insertVirtualMedia(options.ramdiskIsoUrl);
        await bmc.setBootDevice('cdrom', { persistent: false });
      });
    },

    /** After the ramdisk: eject its virtual media, so the instance boots its own disk. */
    bmcFinishRamdiskBoot(nodeUuid: string): Promise<void> {
      return withBmc(nodeUuid, async (bmc, node) => {
        if (node.boot_interface === 'virtual-media') await bmc.ejectVirtualMedia?.();
      });
    },

    /** One attempt of an out-of-band step; `state` is what its previous attempt asked to be given back. */
    async bmcRunStep(nodeUuid: string, kind: StepKind, step: Step, attempt: number, state: unknown): Promise<StepResult> {
      const node = await requireNode(pool, nodeUuid);
      const implementation = driverSteps(node.driver, kind).find((s) => stepName(s.definition) === stepName(step));
      if (!implementation) {
        throw ApplicationFailure.nonRetryable(`driver ${node.driver} has no ${kind} step ${stepName(step)}`, 'UnknownStep');
      }
      return connectBmc(node, (bmc) => implementation.run(bmc, step.args, attempt, state));
    },
  };
}
