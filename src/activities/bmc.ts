// Activities that talk to a node's BMC. They take a node UUID and read the credentials from
// the database themselves, so no secret ever enters a workflow's history.
import { Context } from '@temporalio/activity';
import { ApplicationFailure } from '@temporalio/common';
import { mergeDriverInternalInfo, type NodeRecord } from '../db/nodes.js';
import type { Pool } from '../db/pool.js';
import type { BootDeviceSetting } from '../workflows/contract.js';
import { ANY_BMC, type BmcAccess } from '../domain/bmc-access.js';
import { requireNode } from './nodes.js';
import { savePowerState, showPowerTarget } from './node-state.js';
import type { RequestContext } from '../domain/context.js';
import type { BootDevice } from '../domain/drivers.js';
import {
  doneInBootCycle,
  settledPowerState,
  type BootPowerCycle,
  type PowerState,
  type PowerTarget,
} from '../domain/power.js';
import { stepName, type Step, type StepKind, type StepResult } from '../domain/steps.js';
import { getDriver } from '../drivers/registry.js';
import { driverSteps } from '../drivers/steps.js';
import { BmcError, type Bmc, type BiosSettings, type Inventory } from '../drivers/types.js';
import type { BootMedia } from '../boot/virtual-media.js';
import { clearPresetAgentToken, presetAgentToken } from '../db/agent.js';
import { deriveAgentToken, hashAgentToken, newAgentTokenNonce } from '../domain/agent.js';
import { networkDataSchema } from '../domain/network-data.js';
import { missingFromInventory, type HardwareInventory } from '../domain/inventory.js';
import { isSecretKey } from '../domain/secrets.js';
import { saveInventory } from '../db/inventories.js';

/** bmcAwaitPowerState's reads: the first pause, and the longest. */
const AWAIT_POWER_FIRST_MS = 100;
const AWAIT_POWER_MAX_MS = 1000;

/** Calls `call` with the node's BMC; failures that retrying cannot mend become non-retryable. */
export async function connectBmc<T>(node: NodeRecord, access: BmcAccess, call: (bmc: Bmc) => Promise<T>): Promise<T> {
  const started = performance.now();
  let outcome = 'failed';
  try {
    const result = await call(
      getDriver(node.driver).connect({ nodeUuid: node.uuid, driverInfo: node.driver_info, access }),
    );
    outcome = 'succeeded';
    return result;
  } catch (err) {
    if (err instanceof BmcError && !err.retryable) {
      throw ApplicationFailure.nonRetryable(err.message, `Bmc${err.kind[0].toUpperCase()}${err.kind.slice(1)}Error`);
    }
    throw err;
  } finally {
    Context.current()
      .metricMeter.createHistogram('tempered_bmc_call_duration', 'float', 's', 'BMC calls by driver and outcome')
      .record((performance.now() - started) / 1000, { driver: node.driver, outcome });
  }
}

/** What the BMC read, in the inventory's (Ironic's) shape; what it did not say is null. */
function inventoryFromBmc(found: Inventory, bootMode: 'uefi' | 'legacy' | undefined): HardwareInventory {
  return {
    cpu: {
      count: found.cpus.count ?? null,
      model_name: found.cpus.model ?? null,
      architecture: found.cpus.architecture ?? null,
      flags: [],
    },
    memory: {
      total: found.memoryMiB === undefined ? null : found.memoryMiB * 1024 ** 2,
      physical_mb: found.memoryMiB ?? null,
    },
    disks: found.disks
      .filter((disk) => disk.sizeBytes !== undefined)
      .map((disk) => ({
        name: disk.name,
        size: disk.sizeBytes!,
        model: disk.model ?? null,
        vendor: null,
        serial: disk.serialNumber ?? null,
        wwn: null,
        rotational: null,
      })),
    interfaces: found.nics.map((nic) => ({ name: nic.name, mac_address: nic.macAddress, has_carrier: null })),
    boot: { current_boot_mode: bootMode === undefined ? null : bootMode === 'legacy' ? 'bios' : 'uefi' },
    system_vendor: { manufacturer: null, product_name: null, serial_number: null },
  };
}

/** The BIOS settings, when the BMC reads them; password-like ones are never kept. */
async function readableBiosSettings(bmc: Bmc): Promise<BiosSettings | undefined> {
  try {
    const settings = (await bmc.getBiosSettings?.()) ?? undefined;
    return settings && Object.fromEntries(Object.entries(settings).filter(([name]) => !isSecretKey(name)));
  } catch (err) {
    if (err instanceof BmcError && err.kind === 'unsupported') return undefined;
    throw err;
  }
}

export interface OutOfBandInspection {
  /** The agent must be booted: asked for (inspect_interface agent), or the BMC left these unknown. */
  needsAgent: boolean;
  missing: string[];
}

/** What a power change is besides its target: who asked, the boot it is a step of, whether the node shows it. */
export interface PowerChange {
  context: RequestContext;
  /** One step of this boot's power cycle, taken once (see doneInBootCycle). */
  bootKey?: string;
  /** A power verb's own change: the node shows the target until the state is recorded. */
  showTarget?: boolean;
}

export interface BmcActivityOptions {
  /** The ramdisk ISO a virtual-media boot inserts, when the worker builds none per boot. */
  ramdiskIsoUrl?: string;
  /** Builds and serves an ISO per virtual-media boot, with the node's network_data and agent token. */
  bootMedia?: BootMedia;
  /** Derives the agent token a per-boot ISO carries. */
  agentTokenKey?: string;
  bmcAccess?: BmcAccess;
}

export function createBmcActivities(pool: Pool, options: BmcActivityOptions = {}) {
  const access = options.bmcAccess ?? ANY_BMC;
  async function withBmc<T>(nodeUuid: string, call: (bmc: Bmc, node: NodeRecord) => Promise<T>): Promise<T> {
    const node = await requireNode(pool, nodeUuid);
    return connectBmc(node, access, (bmc) => call(bmc, node));
  }

  /**
   * Asks for the change and answers the power state read right after it, sparing a round trip when
   * the BMC is quick. With `bootKey` the call is one step of that boot's power cycle, taken once
   * however often it runs (see doneInBootCycle).
   */
  async function setPowerState(node: NodeRecord, target: PowerTarget, bootKey?: string): Promise<PowerState> {
    if (bootKey && doneInBootCycle(node.driver_internal_info.boot_power_cycle, bootKey, target))
      return settledPowerState(target);
    const state = await connectBmc(node, access, async (bmc) => {
      await bmc.setPowerState(target);
      return bmc.getPowerState();
    });
    if (bootKey) {
      const done: BootPowerCycle = { boot: bootKey, done: target === 'power off' ? 'power off' : 'power on' };
      await mergeDriverInternalInfo(pool, node.uuid, { boot_power_cycle: done });
    }
    return state;
  }

  /**
   * The agent token of this boot, issued now so the ISO can carry it. Stored as nonce and hash only;
   * the ramdisk's lookup adopts it as its session's token (and is never sent it).
   */
  async function agentTokenForBoot(nodeUuid: string): Promise<string> {
    const key = options.agentTokenKey;
    if (!key)
      throw ApplicationFailure.nonRetryable(
        'AGENT_TOKEN_KEY is not set on the worker: a boot ISO cannot carry an agent token',
        'Misconfigured',
      );
    const nonce = newAgentTokenNonce();
    const token = deriveAgentToken(key, nodeUuid, nonce);
    await presetAgentToken(pool, nodeUuid, { nonce, hash: hashAgentToken(token) });
    return token;
  }

  /** The ISO this boot inserts: built for it, or the one configured for every node. */
  async function ramdiskIsoUrl(node: NodeRecord): Promise<string> {
    if (options.bootMedia) {
      const networkData = networkDataSchema.parse(node.network_data);
      return options.bootMedia.publish(node.uuid, { agentToken: await agentTokenForBoot(node.uuid), networkData });
    }
    if (options.ramdiskIsoUrl) return options.ramdiskIsoUrl;
    throw ApplicationFailure.nonRetryable(
      'neither RAMDISK_DIR nor RAMDISK_ISO_URL is set on the worker: virtual-media boot has no ISO',
      'Misconfigured',
    );
  }

  return {
    /**
     * Verify: the BMC answers with the stored credentials; returns the power state it reports, and
     * with `recordFor` (the request) also records it on the node, sparing the workflow a call.
     */
    async bmcVerify(nodeUuid: string, recordFor?: RequestContext): Promise<PowerState> {
      const state = await withBmc(nodeUuid, async (bmc) => {
        await bmc.validate();
        return bmc.getPowerState();
      });
      if (recordFor) await savePowerState(pool, nodeUuid, state, null, recordFor);
      return state;
    },
    bmcGetPowerState(nodeUuid: string): Promise<PowerState> {
      return withBmc(nodeUuid, (bmc) => bmc.getPowerState());
    },
    /** Operations begun before bmcChangePower set the state with this, then recorded it. */
    async bmcSetPowerState(nodeUuid: string, target: PowerTarget, bootKey?: string): Promise<PowerState> {
      return setPowerState(await requireNode(pool, nodeUuid), target, bootKey);
    },

    /**
     * A power change in one call, where it took three: shows `target` on the node when asked (a
     * power verb's change, not a boot's), asks the BMC, and records the state when the machine is
     * there at once, as most are. One still on its way is answered as it is; the workflow awaits it.
     */
    async bmcChangePower(nodeUuid: string, target: PowerTarget, change: PowerChange): Promise<PowerState> {
      const node = change.showTarget
        ? await showPowerTarget(pool, nodeUuid, target)
        : await requireNode(pool, nodeUuid);
      const state = await setPowerState(node, target, change.bootKey);
      if (state === settledPowerState(target)) await savePowerState(pool, nodeUuid, state, target, change.context);
      return state;
    },

    /**
     * Reads the power state until the machine is in `wanted` or `withinSeconds` have passed, first
     * after 100 ms, then each pause half as long again, up to 1 s: a BMC that takes a few seconds is
     * seen there within a fraction of a second, in one activity instead of a durable timer and a
     * workflow task per read. Answers whether the machine got there.
     */
    async bmcAwaitPowerState(nodeUuid: string, wanted: PowerState, withinSeconds: number): Promise<boolean> {
      const node = await requireNode(pool, nodeUuid);
      const deadline = Date.now() + withinSeconds * 1000;
      for (let pause = AWAIT_POWER_FIRST_MS; ; pause = Math.min(pause * 1.5, AWAIT_POWER_MAX_MS)) {
        if ((await connectBmc(node, access, (bmc) => bmc.getPowerState())) === wanted) return true;
        if (Date.now() + pause > deadline) return false;
        await Context.current().sleep(pause);
      }
    },

    /** The boot override the BMC reports, in Ironic's names. */
    bmcGetBootDevice(nodeUuid: string): Promise<BootDeviceSetting> {
      return withBmc(nodeUuid, async (bmc) => {
        const { device, persistent } = await bmc.getBootDevice();
        return { boot_device: device ?? null, persistent: device ? persistent : null };
      });
    },
    bmcSetBootDevice(nodeUuid: string, device: BootDevice, persistent: boolean): Promise<void> {
      return withBmc(nodeUuid, (bmc) => bmc.setBootDevice(device, { persistent }));
    },

    /** Next boot goes to the ramdisk: the network (pxe), or the ramdisk ISO on virtual media. */
    bmcPrepareRamdiskBoot(nodeUuid: string): Promise<void> {
      return withBmc(nodeUuid, async (bmc, node) => {
        if (node.boot_interface !== 'virtual-media') return bmc.setBootDevice('pxe', { persistent: false });
        if (!bmc.insertVirtualMedia) {
          throw ApplicationFailure.nonRetryable(
            `driver ${node.driver} cannot boot virtual media; use boot_interface pxe`,
            'Unsupported',
          );
        }
        await bmc.insertVirtualMedia(await ramdiskIsoUrl(node));
        await bmc.setBootDevice('cdrom', { persistent: false });
      });
    },

    /** After the ramdisk: eject its virtual media, so the instance boots its own disk. */
    bmcFinishRamdiskBoot(nodeUuid: string): Promise<void> {
      return withBmc(nodeUuid, async (bmc, node) => {
        if (node.boot_interface !== 'virtual-media') return;
        await bmc.ejectVirtualMedia?.();
        // The ISO (and the token on it) is no longer served once the boot is over.
        await options.bootMedia?.withdraw(node.uuid);
        await clearPresetAgentToken(pool, node.uuid);
      });
    },

    /**
     * Out-of-band inspection: reads CPUs, memory, disks, NICs, boot mode and BIOS settings from the
     * BMC and keeps them as the node's inventory; answers whether the agent must add to it.
     */
    bmcInspect(nodeUuid: string): Promise<OutOfBandInspection> {
      return withBmc(nodeUuid, async (bmc, node) => {
        if (node.inspect_interface === 'agent') return { needsAgent: true, missing: [] };
        if (!bmc.getInventory) {
          if (node.inspect_interface === 'redfish')
            throw ApplicationFailure.nonRetryable(
              `driver ${node.driver} reads no inventory out of band`,
              'Unsupported',
            );
          return { needsAgent: true, missing: ['everything: the driver reads no inventory out of band'] };
        }
        const inventory = inventoryFromBmc(await bmc.getInventory(), (await bmc.getBootDevice()).mode);
        const bios = await readableBiosSettings(bmc);
        await saveInventory(pool, node.uuid, inventory, { inspected_by: 'bmc', ...(bios && { bios_settings: bios }) });
        const missing = missingFromInventory(inventory);
        return { needsAgent: node.inspect_interface === 'auto' && missing.length > 0, missing };
      });
    },

    /** One attempt of an out-of-band step; `state` is what its previous attempt asked to be given back. */
    async bmcRunStep(
      nodeUuid: string,
      kind: StepKind,
      step: Step,
      attempt: number,
      state: unknown,
    ): Promise<StepResult> {
      const node = await requireNode(pool, nodeUuid);
      const implementation = driverSteps(node.driver, kind).find((s) => stepName(s.definition) === stepName(step));
      if (!implementation) {
        throw ApplicationFailure.nonRetryable(
          `driver ${node.driver} has no ${kind} step ${stepName(step)}`,
          'UnknownStep',
        );
      }
      return connectBmc(node, access, (bmc) => implementation.run(bmc, step.args, attempt, state));
    },
  };
}
