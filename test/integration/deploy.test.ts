// Provisioning lab machines end to end: provide (cleaning) → available, deploy raw and qcow2
// images with a config drive → active, undeploy → cleaning → available; deploy templates; and
// the failures an operator must be able to read: no heartbeat, a bad checksum.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { configDriveExtent } from '../../src/agent/disks.js';
import { hashFilePrefix, startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { startHarness, type Harness } from '../support/harness.js';
import { ended } from '../support/workflows.js';
import { readBytes } from '../support/files.js';

const MiB = 1024 ** 2;

describe('clean and deploy lab machines', () => {
  let h: Harness;
  let images: ImageServer;
  let rawHash: string;
  let qcowHash: string;
  let qcowRawHash: string;
  const imageBytes = 64 * MiB;

  before(async () => {
    h = await startHarness({ labCount: 3, powerDelayMs: 200 });
    const file = (name: string) => path.join(path.dirname(h.logFile), name);
    rawHash = await writeDiskImage(file('disk.raw'), imageBytes);
    execFileSync('qemu-img', ['convert', '-f', 'raw', '-O', 'qcow2', file('disk.raw'), file('disk.qcow2')]);
    qcowRawHash = rawHash;
    qcowHash = await hashFilePrefix(file('disk.qcow2'), statSync(file('disk.qcow2')).size);
    images = await startImageServer({ 'disk.raw': file('disk.raw'), 'disk.qcow2': file('disk.qcow2') });
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  const provision = async (uuid: string, body: Record<string, unknown>) => {
    const response = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, body);
    assert.equal(response.status, 202, JSON.stringify(response.body));
    return ended(h, uuid);
  };
  const node = async (uuid: string) => (await h.get(`/v1/nodes/${uuid}`)).body;
  const setImage = (uuid: string, name: string, hash: string, format: string) =>
    h.http('PATCH', `/v1/nodes/${uuid}`, {
      instance_info: {
        image_source: images.url(name),
        image_os_hash_algo: 'sha256',
        image_os_hash_value: hash,
        image_disk_format: format,
      },
    });

  async function makeAvailable(uuid: string): Promise<void> {
    await provision(uuid, { target: 'manage' });
    await provision(uuid, { target: 'provide' });
    const n = await node(uuid);
    assert.equal(n.provision_state, 'available', n.last_error);
  }

  it('provides, deploys a raw image with a config drive, boots it from disk, and undeploys', async () => {
    const uuid = h.nodeUuids[0];
    const machine = h.lab!.machines[0].machine;
    await makeAvailable(uuid);
    assert.equal(machine.powerState, 'Off', 'cleaning ends with the machine off');
    const cleaned = (await h.get(`/v1/nodes/${uuid}/history?kind=provision&limit=1000`)).body.history;
    assert.ok(
      cleaned.some((e: any) => e.event === 'finish clean step' && e.message === 'deploy.erase_devices_metadata'),
    );

    await setImage(uuid, 'disk.raw', rawHash, 'raw');
    await provision(uuid, {
      target: 'active',
      configdrive: { meta_data: { hostname: 'web-1' }, user_data: '#cloud-config\nruncmd: [echo hello]\n' },
    });
    const deployed = await node(uuid);
    assert.equal(deployed.provision_state, 'active', deployed.last_error);
    assert.equal(deployed.deployed_by, 'admin');
    assert.equal(deployed.deploy_step, null);
    assert.equal(deployed.instance_info.configdrive, '******');
    assert.equal(await hashFilePrefix(machine.diskPath, imageBytes), rawHash, 'the disk holds the image');
    const extent = configDriveExtent(statSync(machine.diskPath).size);
    assert.equal(
      readBytes(machine.diskPath, extent.offset + 0x8001, 5).toString('latin1'),
      'CD001',
      'a config drive was written',
    );
    assert.match(readBytes(machine.diskPath, extent.offset + 0x8028, 32).toString('latin1'), /^config-2/);
    assert.deepEqual(
      [machine.powerState, machine.bootOverride.target, machine.bootOverride.enabled],
      ['On', 'Hdd', 'Continuous'],
    );
    // One ramdisk boot for cleaning, one for deploying, one into the instance.
    assert.deepEqual(
      [deployed.driver_internal_info.ramdisk_boots, deployed.driver_internal_info.instance_boots],
      [2, 1],
    );
    const steps = (await h.get(`/v1/nodes/${uuid}/history?limit=1000`)).body.history
      .filter((e: any) => e.event === 'start deploy step')
      .map((e: any) => e.message);
    assert.deepEqual(steps, [
      'deploy.write_image',
      'deploy.write_configdrive',
      'deploy.install_bootloader',
      'deploy.prepare_instance_boot',
    ]);

    await provision(uuid, { target: 'deleted' });
    const undeployed = await node(uuid);
    assert.equal(undeployed.provision_state, 'available', undeployed.last_error);
    assert.equal(undeployed.deployed_by, null);
    assert.ok(
      readBytes(machine.diskPath, 0, MiB).every((b) => b === 0),
      'the partition table is erased',
    );
    const path_ = (await h.get(`/v1/nodes/${uuid}/history?kind=provision&limit=1000`)).body.history
      .filter((e: any) => e.from_state === 'active' || e.from_state === 'deleting')
      .map((e: any) => `${e.from_state}→${e.to_state}`);
    assert.deepEqual(path_, ['active→deleting', 'deleting→cleaning']);
  });

  it('deploys a qcow2 image, and runs a CUSTOM_RAID template only on nodes with that trait', async () => {
    const template = await h.http('POST', '/v1/deploy_templates', {
      name: 'CUSTOM_RAID',
      steps: [
        {
          interface: 'bios',
          step: 'apply_configuration',
          args: { settings: { SriovGlobalEnable: 'Disabled' } },
          priority: 90,
        },
      ],
    });
    assert.equal(template.status, 201, JSON.stringify(template.body));
    const [withTrait, without] = [h.nodeUuids[1], h.nodeUuids[0]];
    await h.http('PUT', `/v1/nodes/${withTrait}/traits/CUSTOM_RAID`);
    await makeAvailable(withTrait);
    await setImage(withTrait, 'disk.qcow2', qcowHash, 'qcow2');
    await setImage(without, 'disk.raw', rawHash, 'raw');
    await Promise.all([provision(withTrait, { target: 'active' }), provision(without, { target: 'active' })]);
    for (const uuid of [withTrait, without])
      assert.equal((await node(uuid)).provision_state, 'active', (await node(uuid)).last_error);
    assert.equal(
      await hashFilePrefix(h.lab!.machines[1].machine.diskPath, imageBytes),
      qcowRawHash,
      'the qcow2 was written as raw',
    );

    const ranBios = async (uuid: string) =>
      (await h.get(`/v1/nodes/${uuid}/history?limit=1000`)).body.history.some(
        (e: any) => e.event === 'start deploy step' && e.message === 'bios.apply_configuration',
      );
    assert.equal(await ranBios(withTrait), true);
    assert.equal(await ranBios(without), false);

    // Rebuild: the same node, a new image, active again without passing through cleaning.
    await setImage(without, 'disk.qcow2', qcowHash, 'qcow2');
    const bootsBefore = (await node(without)).driver_internal_info.instance_boots;
    await provision(without, { target: 'rebuild' });
    const rebuilt = await node(without);
    assert.equal(rebuilt.provision_state, 'active', rebuilt.last_error);
    assert.equal(rebuilt.driver_internal_info.instance_boots, bootsBefore + 1);
    assert.equal(await hashFilePrefix(h.lab!.machines[0].machine.diskPath, imageBytes), qcowRawHash);
  });

  it('fails a deploy with a bad checksum naming write_image, and leaves the machine off', async () => {
    const uuid = h.nodeUuids[2];
    await makeAvailable(uuid);
    await setImage(uuid, 'disk.raw', '0'.repeat(64), 'raw');
    await provision(uuid, { target: 'active' });
    const failed = await node(uuid);
    assert.equal(failed.provision_state, 'deploy failed');
    assert.match(failed.last_error, /write_image/);
    assert.match(failed.last_error, /checksum/);
    assert.equal(h.lab!.machines[2].machine.powerState, 'Off');
  });
});
