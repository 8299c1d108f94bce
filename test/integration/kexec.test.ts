// Final boot by kexec on lab machines: from a warm node (pre-booted by the boot verb, or by
// fast-track cleaning) a deploy with kexec reaches active with no reboot and no power change; where
// kexec cannot work (no kernel on the image, secure boot) the instance is rebooted into, and the
// node's history says why. Bad kexec settings are refused before anything changes.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import type { SimMachine } from '../../src/sim/machine.js';
import { startHarness, type Harness } from '../support/harness.js';
import { ended, provisioned } from '../support/workflows.js';

const MiB = 1024 ** 2;
const KERNEL = '6.1.0-13-amd64';

describe('final boot by kexec', () => {
  let h: Harness;
  let images: ImageServer;
  let withKernel: string;
  let withoutKernel: string;

  before(async () => {
    h = await startHarness({ labCount: 3, powerDelayMs: 100 });
    const file = (name: string) => path.join(path.dirname(h.logFile), name);
    withKernel = await writeDiskImage(file('linux.raw'), 32 * MiB, { kernel: KERNEL });
    withoutKernel = await writeDiskImage(file('blank.raw'), 32 * MiB);
    images = await startImageServer({ 'linux.raw': file('linux.raw'), 'blank.raw': file('blank.raw') });
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  const node = async (uuid: string) => (await h.get(`/v1/nodes/${uuid}`)).body;
  const provision = (uuid: string, body: Record<string, unknown>) => provisioned(h, uuid, body);
  const image = (name: 'linux.raw' | 'blank.raw') => ({
    image_source: images.url(name),
    image_os_hash_algo: 'sha256',
    image_os_hash_value: name === 'linux.raw' ? withKernel : withoutKernel,
    image_disk_format: 'raw',
  });
  const powerEvents = async (uuid: string) =>
    (await h.get(`/v1/nodes/${uuid}/history?kind=power&limit=1000`)).body.history as {
      uuid: string;
      event: string;
      message: string | null;
    }[];

  /**
   * Warm: pre-booted by the boot verb after plain cleaning (the machine rests, then boots into the
   * agent and stays), or by fast-track cleaning (the node's driver_info.fast_track).
   */
  async function warm(uuid: string, machine: SimMachine, by: 'boot verb' | 'fast-track cleaning'): Promise<void> {
    if (by === 'fast-track cleaning') await h.http('PATCH', `/v1/nodes/${uuid}`, { driver_info: { fast_track: true } });
    await provision(uuid, { target: 'manage' });
    let available = await provision(uuid, { target: 'provide' });
    if (by === 'boot verb') {
      assert.equal(machine.powerState, 'Off');
      available = await provision(uuid, { target: 'boot' });
    }
    assert.equal(available.provision_state, 'available', available.last_error);
    assert.equal(machine.system, 'ramdisk');
    assert.ok(available.traits.includes('CUSTOM_PREBOOTED'), 'the node shows it is pre-booted');
  }

  /** Counts the machine's power changes and kexecs while `work` runs. */
  async function counting(machine: SimMachine, work: () => Promise<void>): Promise<{ power: number; kexec: number }> {
    const counts = { power: 0, kexec: 0 };
    const onPower = () => counts.power++;
    const onKexec = () => counts.kexec++;
    machine.on('power', onPower);
    machine.on('kexec', onKexec);
    try {
      await work();
      return counts;
    } finally {
      machine.off('power', onPower);
      machine.off('kexec', onKexec);
    }
  }

  it('deploys a warm node with kexec: active with 0 reboots and 0 power changes, the disk set to boot next', async () => {
    const uuid = h.nodeUuids[0];
    const { machine } = h.lab!.machines[0];
    await warm(uuid, machine, 'boot verb');
    const before = await node(uuid);
    const eventsBefore = new Set((await powerEvents(uuid)).map((e) => e.uuid));

    const counts = await counting(machine, async () => {
      await h.http('PATCH', `/v1/nodes/${uuid}`, { instance_info: { ...image('linux.raw'), final_boot: 'kexec' } });
      const deployed = await provision(uuid, { target: 'active' });
      assert.equal(deployed.provision_state, 'active', deployed.last_error);
    });
    assert.deepEqual(counts, { power: 0, kexec: 1 });
    assert.equal(machine.system, 'instance');
    assert.equal(machine.powerState, 'On');
    // The next power cycle boots the same instance from its disk.
    assert.deepEqual([machine.bootOverride.target, machine.bootOverride.enabled], ['Hdd', 'Continuous']);

    const deployed = await node(uuid);
    const counted = (key: string) =>
      Number(deployed.driver_internal_info[key] ?? 0) - Number(before.driver_internal_info[key] ?? 0);
    assert.deepEqual({ boots: counted('boots'), kexecs: counted('kexecs') }, { boots: 0, kexecs: 1 });
    assert.equal(deployed.driver_internal_info.agent_url, undefined, 'the agent went with the ramdisk');
    assert.ok(!deployed.traits.includes('CUSTOM_PREBOOTED'), 'no longer pre-booted');
    assert.equal(deployed.power_state, 'power on');
    const during = (await powerEvents(uuid)).filter((e) => !eventsBefore.has(e.uuid));
    assert.deepEqual(
      during.map((e) => e.event),
      ['kexec instance', 'prebooted ended'],
    );
    assert.match(during[0].message ?? '', new RegExp(`/boot/vmlinuz-${KERNEL} root=PARTUUID=\\S+ ro`));
  });

  it('reboots into the instance when the image carries no kernel, saying so (node default kexec)', async () => {
    const uuid = h.nodeUuids[1];
    const { machine } = h.lab!.machines[1];
    await h.http('PATCH', `/v1/nodes/${uuid}`, { properties: { final_boot: 'kexec' } });
    await warm(uuid, machine, 'fast-track cleaning');
    await h.http('PATCH', `/v1/nodes/${uuid}`, { instance_info: image('blank.raw') });
    const counts = await counting(machine, async () => {
      const deployed = await provision(uuid, { target: 'active' });
      assert.equal(deployed.provision_state, 'active', deployed.last_error);
    });
    assert.equal(counts.kexec, 0);
    assert.ok(counts.power > 0, 'the BMC power-cycled the machine');
    const [boot] = await powerEvents(uuid).then((events) => events.filter((e) => e.event === 'boot instance'));
    assert.match(boot.message ?? '', /^no kernel to kexec: no vmlinuz-<version> in \/boot .*; rebooted instead$/);
  });

  it('reboots when secure boot is on, though kexec was asked for', async () => {
    const uuid = h.nodeUuids[2];
    const { machine } = h.lab!.machines[2];
    await warm(uuid, machine, 'fast-track cleaning');
    await h.http('PATCH', `/v1/nodes/${uuid}`, {
      instance_info: { ...image('linux.raw'), final_boot: 'kexec', capabilities: { secure_boot: 'true' } },
    });
    const counts = await counting(machine, async () => {
      const deployed = await provision(uuid, { target: 'active' });
      assert.equal(deployed.provision_state, 'active', deployed.last_error);
    });
    assert.equal(counts.kexec, 0);
    const [boot] = (await powerEvents(uuid)).filter((e) => e.event === 'boot instance');
    assert.match(boot.message ?? '', /secure boot is on/);
  });

  it('takes final_boot in a deployment request: a cold node kexecs after its one ramdisk boot', async () => {
    const uuid = h.nodeUuids[1];
    const { machine } = h.lab!.machines[1];
    const undeployed = await provision(uuid, { target: 'deleted' });
    assert.equal(undeployed.provision_state, 'available', undeployed.last_error);
    await h.http('PATCH', `/v1/nodes/${uuid}`, {
      driver_info: { fast_track: false },
      properties: { final_boot: null },
    });
    const cleaned = await provision(uuid, { target: 'manage' }).then(() => provision(uuid, { target: 'provide' }));
    assert.equal(machine.powerState, 'Off', cleaned.last_error);
    const request = {
      node: uuid,
      image_source: images.url('linux.raw'),
      os_hash_algo: 'sha256',
      os_hash_value: withKernel,
      final_boot: 'kexec',
    };
    const refused = await h.http('POST', '/v1/deployments', { ...request, final_boot: 'soon' });
    assert.equal(refused.status, 400);
    assert.equal(refused.body.error.field, 'final_boot');

    const before = await node(uuid);
    const counts = await counting(machine, async () => {
      const created = await h.http('POST', '/v1/deployments', request);
      assert.equal(created.status, 201, JSON.stringify(created.body));
      await ended(h, uuid);
    });
    const deployed = await node(uuid);
    assert.equal(deployed.provision_state, 'active', deployed.last_error);
    assert.equal(deployed.instance_info.final_boot, 'kexec');
    assert.deepEqual(counts, { power: 1, kexec: 1 }, 'powered on into the ramdisk, then kexec');
    assert.equal(Number(deployed.driver_internal_info.boots) - Number(before.driver_internal_info.boots ?? 0), 1);
  });

  it('refuses bad kexec settings with a 400 naming the field, changing nothing', async () => {
    const uuid = h.nodeUuids[0];
    const badProperty = await h.http('PATCH', `/v1/nodes/${uuid}`, { properties: { final_boot: 'warp' } });
    assert.equal(badProperty.status, 400);
    assert.equal(badProperty.body.error.field, 'properties.final_boot');
    assert.notEqual((await node(uuid)).properties.final_boot, 'warp');

    const undeployed = await provision(uuid, { target: 'deleted' });
    assert.equal(undeployed.provision_state, 'available', undeployed.last_error);
    for (const [info, field] of [
      [{ final_boot: 'now' }, 'instance_info.final_boot'],
      [{ kernel: '/boot/../../etc/shadow' }, 'instance_info.kernel'],
      [{ kernel: 'vmlinuz' }, 'instance_info.kernel'],
      [{ ramdisk: '/boot/initrd.img' }, 'instance_info.kernel'],
    ] as const) {
      // A merge patch: null drops what the last round set.
      const cleared = { final_boot: null, kernel: null, ramdisk: null };
      await h.http('PATCH', `/v1/nodes/${uuid}`, { instance_info: { ...image('linux.raw'), ...cleared, ...info } });
      const refused = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'active' });
      assert.equal(refused.status, 400, JSON.stringify(refused.body));
      assert.equal(refused.body.error.field, field);
      assert.equal((await node(uuid)).provision_state, 'available');
    }
  });
});
