// network_data: what the API accepts on a node, and the `ip` commands the ramdisk runs for it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { networkDataSchema, prefixLength, resolvConf, staticNetworkCommands } from '../../src/domain/network-data.js';
import { grubConfig } from '../../src/boot/iso.js';
import { ramdiskKernelArguments } from '../../src/domain/ramdisk.js';

const example = {
  links: [{ id: 'port-1', type: 'phy', ethernet_mac_address: '52:54:00:AA:BB:01', mtu: 9000 }],
  networks: [
    {
      id: 'provisioning',
      type: 'ipv4',
      link: 'port-1',
      ip_address: '192.0.2.10',
      netmask: '255.255.255.0',
      gateway: '192.0.2.1',
      routes: [{ network: '198.51.100.0', netmask: '255.255.255.0', gateway: '192.0.2.254' }],
    },
  ],
  services: [{ type: 'dns', address: '192.0.2.53' }],
};

describe('network_data', () => {
  it("becomes ip commands on the NIC with the link's MAC, and a resolv.conf", () => {
    const data = networkDataSchema.parse(example);
    assert.deepEqual(staticNetworkCommands(data, new Map([['52:54:00:aa:bb:01', 'eth0']])), [
      ['ip', 'link', 'set', 'eth0', 'mtu', '9000', 'up'],
      ['ip', 'address', 'add', '192.0.2.10/24', 'dev', 'eth0'],
      ['ip', 'route', 'add', '198.51.100.0/24', 'via', '192.0.2.254', 'dev', 'eth0'],
      ['ip', 'route', 'add', 'default', 'via', '192.0.2.1', 'dev', 'eth0'],
    ]);
    assert.equal(resolvConf(data), 'nameserver 192.0.2.53\n');
  });

  it('fails naming the MAC when the machine has no such NIC', () => {
    assert.throws(
      () => staticNetworkCommands(networkDataSchema.parse(example), new Map()),
      /no NIC with MAC 52:54:00:aa:bb:01/,
    );
  });

  it('accepts {} (DHCP) and rejects bad addresses, masks and dangling links, naming the field', () => {
    assert.deepEqual(networkDataSchema.parse({}), { links: [], networks: [], services: [] });
    const bad = (change: (copy: any) => void) => {
      const copy = structuredClone(example) as any;
      change(copy);
      const result = networkDataSchema.safeParse(copy);
      assert.equal(result.success, false);
      return result.error!.issues.map((issue) => `${issue.path.join('.')}: ${issue.message}`).join('; ');
    };
    assert.match(
      bad((c) => (c.networks[0].ip_address = '192.0.2.300')),
      /networks\.0\.ip_address: must be an IPv4 address/,
    );
    assert.match(
      bad((c) => (c.networks[0].netmask = '255.0.255.0')),
      /networks\.0\.netmask: must be a netmask/,
    );
    assert.match(
      bad((c) => (c.networks[0].link = 'port-9')),
      /networks\.0\.link: names no link/,
    );
    assert.match(
      bad((c) => (c.links[0].ethernet_mac_address = 'nope')),
      /links\.0\.ethernet_mac_address: must be a MAC address/,
    );
    assert.match(
      bad((c) => (c.surprise = 1)),
      /surprise/,
    );
  });

  it('reads prefix lengths from netmasks', () => {
    assert.deepEqual(
      ['255.255.255.0', '255.255.0.0', '0.0.0.0', '255.255.255.255', '64', '255.0.255.0'].map(prefixLength),
      [24, 16, 0, 32, 64, undefined],
    );
  });
});

describe('ramdisk boot configuration', () => {
  it("puts the API URL on the kernel command line of the ISO's GRUB", () => {
    const cfg = grubConfig(ramdiskKernelArguments('http://10.0.2.2:6385'));
    assert.match(
      cfg,
      /linux \/boot\/vmlinuz console=tty0 console=ttyS0,115200 quiet tempered\.api_url=http:\/\/10\.0\.2\.2:6385\n/,
    );
    assert.match(cfg, /initrd \/boot\/initramfs\.img/);
    assert.throws(() => ramdiskKernelArguments('http://x/ y'), /white space/);
  });
});
