// Network boot: the iPXE script a machine gets from GET /v1/boot/ipxe?mac=…, by the state of the
// node owning that MAC and its boot interface; no token needed, bad input a 400 naming the field.
import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.js';
import { finished } from '../support/workflows.js';

describe('iPXE scripts for network boots', () => {
  let h: Harness;
  const networkBoot = { ramdiskUrl: 'http://192.0.2.5:8080/ramdisk/', agentApiUrl: 'http://192.0.2.5:6385' };

  before(async () => {
    // No lab agents: the node stays in clean wait, where a network boot must load the ramdisk.
    h = await startHarness({ labCount: 2, labAgents: false, networkBoot, agentBootTimeoutSeconds: 300 });
  });
  after(async () => h?.close());

  const script = async (mac: string) => {
    const response = await fetch(`${h.agentApiUrl}/v1/boot/ipxe?mac=${encodeURIComponent(mac)}`);
    return { status: response.status, text: await response.text() };
  };

  it('boots the next device while no operation needs the ramdisk, and for unknown MACs', async () => {
    const mac = h.lab!.machines[0].macs[0];
    for (const asked of [mac, '52:54:00:ff:ff:ff']) {
      const { status, text } = await script(asked);
      assert.equal(status, 200);
      assert.match(text, /^#!ipxe\n/);
      assert.match(text, /\nexit\n$/);
      assert.doesNotMatch(text, /kernel/);
    }
  });

  it('loads the ramdisk while the node is being cleaned, over the network only for pxe/ipxe nodes', async () => {
    const [ipxeNode, mediaNode] = h.nodeUuids;
    assert.equal((await h.http('PATCH', `/v1/nodes/${ipxeNode}`, { boot_interface: 'ipxe' })).status, 200);
    assert.equal((await h.http('PATCH', `/v1/nodes/${mediaNode}`, { boot_interface: 'virtual-media' })).status, 200);
    for (const uuid of h.nodeUuids) {
      await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'manage' });
      await finished(h, uuid);
    }
    assert.equal((await h.http('PUT', `/v1/nodes/${ipxeNode}/states/provision`, { target: 'provide' })).status, 202);
    await h.waitFor(`/v1/nodes/${ipxeNode}`, (n) => n.provision_state === 'clean wait');

    const { text } = await script(h.lab!.machines[0].macs[1].toUpperCase());
    assert.equal(
      text,
      [
        '#!ipxe',
        'echo Tempered: booting the ramdisk',
        'kernel http://192.0.2.5:8080/ramdisk/vmlinuz initrd=initramfs.img console=tty0 console=ttyS0,115200 quiet tempered.api_url=http://192.0.2.5:6385',
        'initrd http://192.0.2.5:8080/ramdisk/initramfs.img',
        'boot',
        '',
      ].join('\n'),
    );
    assert.doesNotMatch(text, /token/i, 'no token travels in a network boot script');
    // A virtual-media node never boots the ramdisk from the network.
    assert.match((await script(h.lab!.machines[1].macs[0])).text, /\nexit\n$/);
  });

  it('refuses a malformed MAC with a 400 naming the field', async () => {
    const response = await fetch(`${h.agentApiUrl}/v1/boot/ipxe?mac=nope`);
    assert.equal(response.status, 400);
    assert.match(await response.text(), /mac/);
    assert.equal((await fetch(`${h.agentApiUrl}/v1/boot/ipxe`)).status, 400);
  });
});
