// A real machine end to end: a QEMU virtual machine (UEFI, virtio disk and NIC on QEMU's
// user-mode network) behind the lab's Redfish BMC. Provide boots the real ramdisk (build:ramdisk)
// from a per-boot virtual-media ISO that carries the node's network_data and agent token, so the
// agent comes up with a static address and no DHCP; the agent erases the disk's metadata; deploy
// writes a real bootable image (build:test-image) and a config drive; the VM then boots its disk
// under OVMF and prints the config drive's hostname on its serial console; undeploy cleans again.
// Runs under TCG (no KVM needed); skipped only where QEMU is not installed.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { hashFilePrefix, startImageServer, type ImageServer } from '../../src/sim/images.js';
import { HOST_FROM_GUEST, qemuInstalled } from '../../src/sim/qemu/vm.js';
import { startHarness, type Harness } from '../support/harness.js';

const RAMDISK_DIR = path.resolve(process.env.RAMDISK_DIR ?? '.data/ramdisk');
const HOSTNAME = 'real-vm-1';
const noQemu = qemuInstalled()
  ? false
  : 'QEMU (qemu-system-x86_64 and OVMF) is not installed: bash scripts/install-tools.sh --test installs it as root';

describe('a real virtual machine under a Redfish BMC', { skip: noQemu }, () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;
  let uuid: string;
  const phases: [string, number][] = [];

  async function phase<T>(name: string, work: () => Promise<T>): Promise<T> {
    const started = Date.now();
    try {
      return await work();
    } finally {
      const seconds = (Date.now() - started) / 1000;
      phases.push([name, seconds]);
      console.log(`# real VM: ${name} took ${seconds.toFixed(1)} s`);
    }
  }

  const serial = () => {
    const log = h.lab!.machines[0].vm!.serialLog;
    return existsSync(log) ? readFileSync(log, 'latin1') : '';
  };
  const node = async () => (await h.get(`/v1/nodes/${uuid}`)).body;
  async function provision(body: Record<string, unknown>): Promise<void> {
    const response = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, body);
    assert.equal(response.status, 202, JSON.stringify(response.body));
    await h.client.workflow
      .getHandle(`node/${uuid}`)
      .result()
      .catch(() => undefined);
  }

  before(async () => {
    await phase('build ramdisk and test image (cached)', async () => {
      for (const script of ['scripts/build-ramdisk.sh', 'scripts/build-test-image.sh']) {
        execFileSync('bash', [script], {
          stdio: ['ignore', 'inherit', 'inherit'],
          env: { ...process.env, RAMDISK_DIR },
        });
      }
    });
    h = await startHarness({ labCount: 1, labVms: true, ramdiskDir: RAMDISK_DIR, agentBootTimeoutSeconds: 600 });
    uuid = h.nodeUuids[0];
    const image = path.join(RAMDISK_DIR, 'instance.img');
    imageHash = await hashFilePrefix(image, statSync(image).size);
    images = await startImageServer({ 'instance.img': image });
  });
  after(async () => {
    await images?.close();
    await h?.close();
    if (phases.length)
      console.log(`# real VM phases: ${phases.map(([name, s]) => `${name} ${s.toFixed(1)} s`).join('; ')}`);
  });

  it('cleans, deploys a bootable image with a config drive that the VM boots under OVMF, and cleans again', async () => {
    const mac = h.lab!.machines[0].macs[0];
    const patched = await h.http('PATCH', `/v1/nodes/${uuid}`, {
      boot_interface: 'virtual-media',
      network_data: {
        links: [{ id: 'nic0', type: 'phy', ethernet_mac_address: mac }],
        networks: [
          {
            id: 'provisioning',
            type: 'ipv4',
            link: 'nic0',
            ip_address: '10.0.2.15',
            netmask: '255.255.255.0',
            gateway: HOST_FROM_GUEST,
          },
        ],
        services: [{ type: 'dns', address: '10.0.2.3' }],
      },
    });
    assert.equal(patched.status, 200, JSON.stringify(patched.body));

    await phase('manage', () => provision({ target: 'manage' }));
    await phase('provide (boot the ramdisk, erase metadata)', () => provision({ target: 'provide' }));
    let n = await node();
    assert.equal(n.provision_state, 'available', n.last_error);
    const history = (await h.get(`/v1/nodes/${uuid}/history?kind=provision&limit=1000`)).body.history;
    assert.ok(
      history.some((e: any) => e.event === 'finish clean step' && e.message === 'deploy.erase_devices_metadata'),
      'the agent erased the disk metadata',
    );
    const ramdiskConsole = serial();
    assert.match(
      ramdiskConsole,
      /static network from the virtual media's network_data\.json/,
      'the ramdisk took its network from network_data',
    );
    assert.doesNotMatch(ramdiskConsole, /by DHCP/, 'no DHCP lease was taken');
    assert.match(ramdiskConsole, /looked up; using the token that came with the boot media/);
    const bootSeconds = /tempered-ramdisk: starting the agent at ([\d.]+) s/.exec(ramdiskConsole)?.[1];
    console.log(`# real VM: ramdisk kernel start to agent start ${bootSeconds} s (TCG)`);
    assert.equal(h.lab!.machines[0].machine.powerState, 'Off', 'cleaning ends with the machine off');

    const imagePort = new URL(images.url('instance.img')).port;
    await h.http('PATCH', `/v1/nodes/${uuid}`, {
      instance_info: {
        image_source: `http://${HOST_FROM_GUEST}:${imagePort}/instance.img`,
        image_os_hash_algo: 'sha256',
        image_os_hash_value: imageHash,
        image_disk_format: 'raw',
      },
    });
    const consoleBeforeDeploy = serial().length;
    await phase('deploy (boot the ramdisk, write image and config drive)', () =>
      provision({ target: 'active', configdrive: { meta_data: { hostname: HOSTNAME } } }),
    );
    n = await node();
    assert.equal(n.provision_state, 'active', n.last_error);
    await phase('instance boots from its disk under OVMF', async () => {
      const deadline = Date.now() + 300_000;
      while (!serial().slice(consoleBeforeDeploy).includes('tempered-instance:') && Date.now() < deadline)
        await sleep(500);
    });
    assert.match(
      serial().slice(consoleBeforeDeploy),
      new RegExp(`tempered-instance: booted from disk .*config drive hostname: ${HOSTNAME}`),
    );

    await phase('undeploy (clean again)', () => provision({ target: 'deleted' }));
    n = await node();
    assert.equal(n.provision_state, 'available', n.last_error);
    assert.equal(h.lab!.machines[0].machine.powerState, 'Off');
    assert.deepEqual(readdirSync(h.config.bootMedia!.dir), [], 'no boot ISO is left behind');
  });
});
