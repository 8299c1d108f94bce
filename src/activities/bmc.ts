// Activities that talk to a node's BMC. They take a node UUID and read the credentials from
// the database themselves, so no secret ever enters a workflow's history.
import { ApplicationFailure } from '@temporalio/common';
import { findNode } from '../db/nodes.js';
import type { Pool } from '../db/pool.js';
import type { PowerState, PowerTarget } from '../domain/power.js';
import { getDriver } from '../drivers/registry.js';
import { BmcError, type Bmc } from '../drivers/types.js';

export function createBmcActivities(pool: Pool) {
  async function withBmc<T>(nodeUuid: string, call: (bmc: Bmc) => Promise<T>): Promise<T> {
    const node = await findNode(pool, nodeUuid);
    if (!node) throw ApplicationFailure.nonRetryable(`node ${nodeUuid} no longer exists`, 'NodeNotFound');
    try {
      return await call(getDriver(node.driver).connect({ nodeUuid, driverInfo: node.driver_info }));
    } catch (err) {
      if (err instanceof BmcError && !err.retryable) {
        throw ApplicationFailure.nonRetryable(err.message, `Bmc${err.kind[0].toUpperCase()}${err.kind.slice(1)}Error`);
      }
      throw err;
    }
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
    bmcSetPowerState(nodeUuid: string, target: PowerTarget): Promise<void> {
      return withBmc(nodeUuid, (bmc) => bmc.setPowerState(target));
    },
  };
}
