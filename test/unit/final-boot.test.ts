// The final-boot rules: which of kexec and reboot starts a deployed instance, and which kernel the
// agent picks from the partitions of a written image.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { findKernel } from '../../src/agent/kernel.js';
import type { Disk, PartitionDirectory, Platform } from '../../src/agent/platform/types.js';
import { chooseFinalBoot, kernelRequest } from '../../src/domain/final-boot.js';

describe('choosing the final boot', () => {
  it('takes the deployment over the node default, and reboots by default', () => {
    assert.deepEqual(chooseFinalBoot({ instance_info: {}, properties: {} }), { method: 'reboot' });
    assert.deepEqual(chooseFinalBoot({ instance_info: {}, properties: { final_boot: 'kexec' } }), {
      method: 'kexec',
    });
    assert.deepEqual(
      chooseFinalBoot({ instance_info: { final_boot: 'reboot' }, properties: { final_boot: 'kexec' } }),
      { method: 'reboot' },
    );
    assert.deepEqual(chooseFinalBoot({ instance_info: { final_boot: 'kexec' }, properties: {} }), {
      method: 'kexec',
    });
  });

  it('falls back to a reboot under secure boot, given either way Ironic takes capabilities', () => {
    for (const [instanceCaps, nodeCaps] of [
      [{ secure_boot: 'true' }, undefined],
      [undefined, 'boot_mode:uefi,secure_boot:true'],
      [undefined, { secure_boot: true }],
    ]) {
      const choice = chooseFinalBoot({
        instance_info: { final_boot: 'kexec', capabilities: instanceCaps },
        properties: { capabilities: nodeCaps },
      });
      assert.equal(choice.method, 'reboot');
      assert.match((choice as { fallback: string }).fallback, /secure boot is on/);
    }
    assert.deepEqual(
      chooseFinalBoot({
        instance_info: { final_boot: 'kexec' },
        properties: { capabilities: 'secure_boot:false' },
      }),
      { method: 'kexec' },
    );
  });

  it('reads instance_info kernel, ramdisk and kernel_append_params', () => {
    assert.deepEqual(
      kernelRequest({ kernel: '/boot/vmlinuz-6', ramdisk: '/boot/initrd.img-6', kernel_append_params: 'quiet' }),
      { kernel: '/boot/vmlinuz-6', initrd: '/boot/initrd.img-6', appendParams: 'quiet' },
    );
  });
});

const DISK: Disk = {
  name: 'sda',
  path: '/dev/sda',
  sizeBytes: 8 * 1024 ** 3,
  model: null,
  vendor: null,
  serial: null,
  wwn: null,
  rotational: false,
};
const LINUX = '0fc63daf-8483-4772-8e79-3d69d8477de4';
const ROOT = '4f68bce3-e8cd-4db1-96e7-fbcaf984b709';

/** A platform whose disk has these partitions, each with a listing per directory. */
function imageWith(partitions: { uuid: string; type: string; dirs: Record<string, string[]> }[]): Platform {
  return {
    async listPartitionDirectory(_disk: Disk, dir: string): Promise<PartitionDirectory[]> {
      return partitions
        .filter((p) => p.dirs[dir])
        .map((p) => ({ partitionUuid: p.uuid, typeGuid: p.type, names: p.dirs[dir] }));
    },
  } as Platform;
}

describe('finding the kernel on a written image', () => {
  it('takes the newest kernel of /boot (by version, not by text), leaving rescue kernels out', async () => {
    const image = imageWith([
      {
        uuid: 'r',
        type: LINUX,
        dirs: {
          '/': ['boot', 'etc', 'vmlinuz'],
          '/boot': [
            'vmlinuz-6.1.0-9-amd64',
            'initrd.img-6.1.0-9-amd64',
            'vmlinuz-6.1.0-13-amd64',
            'initrd.img-6.1.0-13-amd64',
            'vmlinuz-0-rescue-abc',
          ],
        },
      },
    ]);
    assert.deepEqual(await findKernel(image, DISK, {}), {
      found: {
        root_partition_uuid: 'r',
        kernel: '/boot/vmlinuz-6.1.0-13-amd64',
        initrd: '/boot/initrd.img-6.1.0-13-amd64',
        cmdline: 'root=PARTUUID=r ro',
      },
    });
  });

  it('loads from a separate /boot partition and roots the instance on the root partition', async () => {
    const image = imageWith([
      {
        uuid: 'b',
        type: LINUX,
        dirs: { '/': ['vmlinuz-6.5.6-300.fc39.x86_64', 'initramfs-6.5.6-300.fc39.x86_64.img', 'loader'] },
      },
      { uuid: 'r', type: ROOT, dirs: { '/': ['boot', 'etc', 'usr'], '/boot': [] } },
    ]);
    assert.deepEqual(await findKernel(image, DISK, { appendParams: 'console=ttyS0' }), {
      found: {
        root_partition_uuid: 'b',
        kernel: '/vmlinuz-6.5.6-300.fc39.x86_64',
        initrd: '/initramfs-6.5.6-300.fc39.x86_64.img',
        cmdline: 'root=PARTUUID=r ro console=ttyS0',
      },
    });
  });
});
