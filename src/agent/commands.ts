// The commands the agent runs, after ironic-python-agent's: inventory, clean, deploy and service
// steps, power, kexec and rescue. Each command checks its params before it starts (a bad call is a 400, not a
// failed command) and then runs with the platform.
import { createReadStream } from 'node:fs';
import type { Logger } from 'pino';
import { z } from 'zod';
import { writeConfigDrive } from './configdrive.js';
import { imagePath } from '../domain/final-boot.js';
import { DISK_FORMATS, HASH_ALGORITHMS } from '../domain/image.js';
import type { HardwareInventory } from '../domain/inventory.js';
import { rootDeviceHintsSchema, selectRootDevice, type RootDeviceHints } from '../domain/root-device.js';
import type { StepKind } from '../domain/steps.js';
import { writeImage } from './image.js';
import { findKernel } from './kernel.js';
import type { Disk, Inventory, Platform } from './platform/types.js';

export const AGENT_VERSION = '1.0.0';

export interface CommandContext {
  platform: Platform;
  logger: Logger;
  /** Ends the agent's session and stops it once the answer is sent (rescue hands the machine over); absent in tests. */
  stopAgent?: () => void;
}

type Run = (context: CommandContext) => Promise<unknown>;

export interface CommandSpec {
  /** Async commands answer RUNNING at once; the others finish before their POST is answered. */
  async: boolean;
  /** Checks `params` and returns the work; throws InvalidParams for a bad call. */
  prepare(params: unknown): Run;
}

export class InvalidParams extends Error {
  override name = 'InvalidParams';
}

function parseParams<T extends z.ZodType>(schema: T, value: unknown, where: string): z.infer<T> {
  const result = schema.safeParse(value ?? {});
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new InvalidParams(`${[where, ...issue.path.map(String)].join('.')}: ${issue.message}`);
}

/** What the control plane tells the agent about the node; the root device hints are all it needs. */
const nodeParams = z
  .object({ properties: z.object({ root_device: rootDeviceHintsSchema.optional() }).loose().default({}) })
  .loose();

async function rootDevice(platform: Platform, hints: RootDeviceHints | undefined): Promise<Disk> {
  return selectRootDevice((await platform.inventory()).disks, hints);
}

/** The platform's view in Ironic's inventory shape, as ironic-python-agent answers get_hardware_info. */
function hardwareInventory(inventory: Inventory): HardwareInventory {
  return {
    cpu: { ...inventory.cpu },
    memory: { total: inventory.memory.total_bytes, physical_mb: Math.round(inventory.memory.total_bytes / 1024 ** 2) },
    disks: inventory.disks.map((disk) => ({
      name: `/dev/${disk.name}`,
      size: disk.sizeBytes,
      model: disk.model,
      vendor: disk.vendor,
      serial: disk.serial,
      wwn: disk.wwn,
      rotational: disk.rotational,
    })),
    interfaces: inventory.interfaces,
    boot: inventory.boot,
    system_vendor: inventory.system_vendor,
  };
}

async function everyDisk(platform: Platform, work: (disk: Disk) => Promise<void>): Promise<{ disks: string[] }> {
  const { disks } = await platform.inventory();
  for (const disk of disks) await work(disk);
  return { disks: disks.map((d) => d.path) };
}

interface StepSpec<A extends z.ZodType = z.ZodType> {
  priority: number;
  abortable: boolean;
  args: A;
  run(args: z.infer<A>, context: CommandContext & { hints: RootDeviceHints | undefined }): Promise<unknown>;
}

const step = <A extends z.ZodType>(spec: StepSpec<A>): StepSpec => spec as StepSpec;

/** Ironic's priorities: metadata first (99), then the slow full erase (10), which operators often turn off. */
const CLEAN_STEPS: Record<string, StepSpec> = {
  erase_devices_metadata: step({
    priority: 99,
    abortable: true,
    args: z.strictObject({}),
    run: (_args, { platform }) => everyDisk(platform, (disk) => platform.eraseDeviceMetadata(disk)),
  }),
  erase_devices: step({
    priority: 10,
    abortable: true,
    args: z.strictObject({}),
    run: (_args, { platform }) => everyDisk(platform, (disk) => platform.eraseDevice(disk)),
  }),
};

const hex = z.string().regex(/^[0-9a-fA-F]+$/, 'must be a hexadecimal digest');
/** The removable-media path every UEFI image has: the one loader that needs no knowledge of the OS. */
const DEFAULT_EFI_LOADER = '\\EFI\\BOOT\\BOOTX64.EFI';

/** Ironic's split deploy: write_image 80, then the config drive, then the boot entry (prepare_instance_boot 60). */
const DEPLOY_STEPS: Record<string, StepSpec> = {
  write_image: step({
    priority: 80,
    abortable: false,
    args: z.strictObject({
      image_source: z.url({ protocol: /^https?$/, message: 'must be an http(s) URL' }),
      disk_format: z.enum(DISK_FORMATS).default('raw'),
      os_hash_algo: z.enum(HASH_ALGORITHMS),
      os_hash_value: hex,
    }),
    run: async (args, { platform, hints }) => writeImage(platform, await rootDevice(platform, hints), args),
  }),
  write_configdrive: step({
    priority: 70,
    abortable: false,
    args: z.strictObject({
      configdrive: z.strictObject({
        meta_data: z.record(z.string(), z.unknown()),
        network_data: z.record(z.string(), z.unknown()).optional(),
        user_data: z
          .string()
          .max(64 * 1024)
          .optional(),
      }),
    }),
    run: async (args, { platform, hints }) =>
      writeConfigDrive(platform, await rootDevice(platform, hints), args.configdrive),
  }),
  install_bootloader: step({
    priority: 60,
    abortable: false,
    args: z.strictObject({
      target_boot_mode: z.enum(['uefi', 'bios']).default('uefi'),
      efi_system_part_uuid: z.uuid().optional(),
      loader: z.string().min(1).default(DEFAULT_EFI_LOADER),
      label: z.string().min(1).max(64).default('tempered'),
    }),
    run: async (args, { platform, hints }) => {
      // A whole-disk image for BIOS carries its own boot code in its MBR: there is nothing to install.
      if (args.target_boot_mode === 'bios') return { boot_mode: 'bios', installed: false };
      const disk = await rootDevice(platform, hints);
      const entry = await platform.installBootloader(disk, {
        efiSystemPartitionUuid: args.efi_system_part_uuid,
        loader: args.loader,
        label: args.label,
      });
      return { boot_mode: 'uefi', installed: true, ...entry };
    },
  }),
};

/** Reads every disk end to end and fails on the first read error; it writes nothing, so it is safe on a tenant's machine. */
async function readWholeDisk(disk: Disk): Promise<{ disk: string; bytes_read: number }> {
  let bytesRead = 0;
  for await (const chunk of createReadStream(disk.path, { highWaterMark: 4 * 1024 ** 2 }))
    bytesRead += (chunk as Buffer).length;
  if (bytesRead < disk.sizeBytes) throw new Error(`${disk.path} ended after ${bytesRead} of ${disk.sizeBytes} bytes`);
  return { disk: disk.path, bytes_read: bytesRead };
}

/**
 * Service steps (priority 0: a service runs only the steps asked for). In-band work on an active
 * machine must leave the tenant's disk as it is: here a read check of every disk.
 */
const SERVICE_STEPS: Record<string, StepSpec> = {
  read_disks: step({
    priority: 0,
    abortable: true,
    args: z.strictObject({}),
    run: async (_args, { platform }) => {
      const { disks } = await platform.inventory();
      const results = [];
      for (const disk of disks) results.push(await readWholeDisk(disk));
      return { disks: results };
    },
  }),
};

const stepCall = z.object({
  step: z
    .object({
      step: z.string(),
      interface: z.string().default('deploy'),
      args: z.record(z.string(), z.unknown()).default({}),
    })
    .loose(),
  node: nodeParams.default({ properties: {} }),
});

/** get_<kind>_steps and execute_<kind>_step for one table of steps. */
function stepCommands(kind: StepKind, steps: Record<string, StepSpec>): Record<string, CommandSpec> {
  return {
    [`get_${kind}_steps`]: {
      async: false,
      prepare: () => async () => ({
        [`${kind}_steps`]: Object.entries(steps).map(([name, spec]) => ({
          step: name,
          interface: 'deploy',
          priority: spec.priority,
          abortable: spec.abortable,
          reboot_requested: false,
          requires_ramdisk: true,
        })),
        hardware_manager_version: { generic: AGENT_VERSION },
      }),
    },
    [`execute_${kind}_step`]: {
      async: true,
      prepare: (params) => {
        const call = parseParams(stepCall, params, 'params');
        const spec = steps[call.step.step];
        if (!spec)
          throw new InvalidParams(`unknown ${kind} step "${call.step.step}"; known: ${Object.keys(steps).join(', ')}`);
        const args = parseParams(spec.args, call.step.args, `${call.step.step}.args`);
        return async (context) => ({
          [`${kind}_result`]: await spec.run(args, { ...context, hints: call.node.properties.root_device }),
          // The step named, never its arguments: they hold the config drive and maybe pre-signed image URLs.
          [`${kind}_step`]: { step: call.step.step, interface: call.step.interface },
        });
      },
    },
  };
}

const noParams = z.strictObject({});
const withoutParams = (async: boolean, run: Run): CommandSpec => ({
  async,
  prepare: (params) => {
    parseParams(noParams, params, 'params');
    return run;
  },
});

/** Flushes the disks first: the machine goes down the moment the platform acts. */
const powerCommand = (action: 'powerOff' | 'reboot') =>
  withoutParams(true, async ({ platform }) => {
    await platform.sync();
    await platform[action]();
    return {};
  });

/** Only a crypt(3) SHA-256/SHA-512 hash is taken: the rescue password itself never leaves the API. */
const rescueParams = z.strictObject({
  rescue_password: z.string().regex(/^\$[56]\$[^\s:]+$/, 'must be a crypt(3) SHA-256 or SHA-512 hash'),
  hashed: z.literal(true),
});

const kexecParams = z.strictObject({
  root_partition_uuid: z.uuid(),
  kernel: imagePath,
  initrd: imagePath.optional(),
  cmdline: z.string().max(4096).default(''),
  node: nodeParams.optional(),
});

/** What the control plane knows of the kernel: instance_info's paths and parameters, or nothing (the agent looks). */
const findKernelParams = z.strictObject({
  kernel: imagePath.optional(),
  initrd: imagePath.optional(),
  append_params: z.string().max(2048).optional(),
  node: nodeParams.optional(),
});

export const COMMANDS: Readonly<Record<string, CommandSpec>> = {
  get_hardware_info: withoutParams(false, async ({ platform }) => hardwareInventory(await platform.inventory())),
  ...stepCommands('clean', CLEAN_STEPS),
  ...stepCommands('deploy', DEPLOY_STEPS),
  ...stepCommands('service', SERVICE_STEPS),
  // As ironic-python-agent's rescue.finalize_rescue: set the password, answer, then stop.
  finalize_rescue: {
    async: false,
    prepare: (params) => {
      const { rescue_password } = parseParams(rescueParams, params, 'params');
      return async ({ platform, stopAgent }) => {
        await platform.setRescuePassword(rescue_password);
        stopAgent?.();
        return {};
      };
    },
  },
  sync: withoutParams(false, async ({ platform }) => {
    await platform.sync();
    return {};
  }),
  /** Which kernel a kexec into the written image would load: { found } or { found: null, reason }. */
  find_kernel: {
    async: false,
    prepare: (params) => {
      const { kernel, initrd, append_params, node } = parseParams(findKernelParams, params, 'params');
      if (initrd && !kernel) throw new InvalidParams('params.initrd: give the kernel it goes with too');
      return async ({ platform }) =>
        findKernel(platform, await rootDevice(platform, node?.properties.root_device), {
          kernel,
          initrd,
          appendParams: append_params,
        });
    },
  },
  power_off: powerCommand('powerOff'),
  reboot: powerCommand('reboot'),
  kexec: {
    async: true,
    prepare: (params) => {
      const { root_partition_uuid, kernel, initrd, cmdline, node } = parseParams(kexecParams, params, 'params');
      return async ({ platform }) => {
        const disk = await rootDevice(platform, node?.properties.root_device);
        await platform.sync();
        await platform.kexec(disk, { rootPartitionUuid: root_partition_uuid, kernel, initrd, cmdline });
        return {};
      };
    },
  },
};
