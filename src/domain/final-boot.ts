// How a deployed instance is first started: by a BMC power cycle (reboot), or by the agent
// kexec-ing straight into the instance's kernel, which skips the firmware's POST (minutes on a
// server) and any power change. kexec is chosen per deployment (instance_info.final_boot) or per
// node (properties.final_boot); reboot is the default, as in Ironic, and the fallback where kexec
// cannot work. Shared by the API (validation) and the activities (the choice).
import { z } from 'zod';

export const FINAL_BOOT_METHODS = ['kexec', 'reboot'] as const;
export type FinalBootMethod = (typeof FINAL_BOOT_METHODS)[number];

/** What the first boot of the instance will be; `fallback` says why kexec, though asked for, cannot be used. */
export type FinalBootChoice = { method: 'kexec' } | { method: 'reboot'; fallback?: string };

/** An absolute path inside the deployed image's file system, e.g. /boot/vmlinuz-6.1.0-13-amd64. Plain characters only: it is handed to tools. */
export const imagePath = z
  .string()
  .max(1024)
  .regex(
    /^\/[A-Za-z0-9._+~\/-]*$/,
    'must be an absolute path inside the image of letters, digits and . _ + ~ - /, such as /boot/vmlinuz-6.1.0-13-amd64',
  )
  .refine((p) => !p.split('/').includes('..'), 'must not contain ".."');

/** instance_info's keys for the final boot (loose: the rest of instance_info is checked elsewhere). */
export const finalBootInstanceInfo = z.looseObject({
  final_boot: z.enum(FINAL_BOOT_METHODS).optional(),
  kernel: imagePath.optional(),
  ramdisk: imagePath.optional(),
  // Ironic's name for extra kernel parameters; appended after root=PARTUUID=… ro.
  kernel_append_params: z.string().max(2048).optional(),
});

/** properties' key for the node's default. */
export const finalBootProperties = z.looseObject({ final_boot: z.enum(FINAL_BOOT_METHODS).optional() });

/** Where the agent finds the kernel when instance_info names it; absent: it looks on the image. */
export interface KernelRequest {
  kernel?: string;
  initrd?: string;
  appendParams?: string;
}

/** The kernel the agent found (or was told of) on the written image: what its kexec command takes. */
export interface FoundKernel {
  /** The partition whose file system holds kernel and initrd. */
  root_partition_uuid: string;
  kernel: string;
  initrd?: string;
  cmdline: string;
}

export type KernelSearch = { found: FoundKernel } | { found: null; reason: string };

interface NodeBootInputs {
  instance_info: Record<string, unknown>;
  properties: Record<string, unknown>;
}

/**
 * Ironic's secure_boot capability, given as instance_info.capabilities {secure_boot: "true"} or
 * in properties.capabilities, either as an object or as Ironic's "key:value,key:value" string.
 */
function secureBootRequested(capabilities: unknown): boolean {
  if (typeof capabilities === 'string')
    return capabilities.split(',').some((pair) => pair.trim().toLowerCase() === 'secure_boot:true');
  if (capabilities && typeof capabilities === 'object')
    return String((capabilities as Record<string, unknown>).secure_boot).toLowerCase() === 'true';
  return false;
}

export function chooseFinalBoot(node: NodeBootInputs): FinalBootChoice {
  const deployment = finalBootInstanceInfo.safeParse(node.instance_info);
  const nodeDefault = finalBootProperties.safeParse(node.properties);
  const method =
    (deployment.success ? deployment.data.final_boot : undefined) ??
    (nodeDefault.success ? nodeDefault.data.final_boot : undefined) ??
    'reboot';
  if (method === 'reboot') return { method };
  if (secureBootRequested(node.instance_info.capabilities) || secureBootRequested(node.properties.capabilities)) {
    return {
      method: 'reboot',
      fallback: 'secure boot is on: only the firmware may start the instance, so it is rebooted instead of kexec',
    };
  }
  return { method };
}

/** The kernel, initrd and parameters instance_info names, if any. */
export function kernelRequest(instanceInfo: Record<string, unknown>): KernelRequest {
  const parsed = finalBootInstanceInfo.safeParse(instanceInfo);
  if (!parsed.success) return {};
  const { kernel, ramdisk, kernel_append_params } = parsed.data;
  return { kernel, initrd: ramdisk, appendParams: kernel_append_params };
}
