// The IPMI driver (ipmitool) against OpenIPMI's ipmi_sim: power and boot device round trips,
// the soft power off, and the faults an operator meets.
import assert from 'node:assert/strict';
import dgram from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { createIpmiDriver, ipmiDriver } from '../../src/drivers/ipmi.js';
import type { Bmc } from '../../src/drivers/types.js';
import { freeUdpPort, startIpmiSim, type IpmiSim } from './emulators.js';
import { rejectsWithKind } from '../support/bmc.js';

const USERNAME = 'admin';
const PASSWORD = 'ipmi-S3cret';

describe('ipmi driver against ipmi_sim', () => {
  let sim: IpmiSim;
  const driverInfo = (port: number, overrides: Record<string, unknown> = {}) => ({
    ipmi_address: '127.0.0.1',
    ipmi_port: port,
    ipmi_username: USERNAME,
    ipmi_password: PASSWORD,
    ...overrides,
  });
  const connect = (overrides: Record<string, unknown> = {}): Bmc =>
    ipmiDriver.connect({ nodeUuid: 'n', driverInfo: driverInfo(sim.port, overrides) });

  before(async () => {
    sim = await startIpmiSim({ username: USERNAME, password: PASSWORD });
  });
  after(() => sim?.stop());

  it('verifies with mc info, the port given as a number or a string', async () => {
    await connect().validate();
    await connect({ ipmi_port: String(sim.port) }).validate();
  });

  it('powers on, off, resets and cycles, each reaching the chassis', async () => {
    const bmc = connect();
    await bmc.setPowerState('power on');
    assert.equal(await sim.chassis('power'), '1');
    assert.equal(await bmc.getPowerState(), 'power on');
    /** The chassis requests after the first `count`, once there are `expected` of them (ipmi_sim acts a little late). */
    const logSince = async (count: number, expected: number) => {
      const deadline = Date.now() + 10_000;
      let log = (await sim.chassisLog()).slice(count);
      while (log.length < expected && Date.now() < deadline) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        log = (await sim.chassisLog()).slice(count);
      }
      return log;
    };
    let seen = (await sim.chassisLog()).length;
    await bmc.setPowerState('rebooting');
    assert.deepEqual(await logSince(seen, 1), ['reset 1'], 'the reboot reached the chassis as a hard reset');
    assert.equal(await bmc.getPowerState(), 'power on', 'a hard reset keeps the power on');
    // ipmi_sim cuts the power, then restores it about a second later.
    seen = (await sim.chassisLog()).length;
    await bmc.setPowerState('power cycle');
    assert.deepEqual(await logSince(seen, 2), ['power 0', 'power 1'], 'the cycle cut the power and restored it');
    assert.equal(await bmc.getPowerState(), 'power on');
    await bmc.setPowerState('power off');
    assert.equal(await sim.chassis('power'), '0');
    assert.equal(await bmc.getPowerState(), 'power off');
    // A cycle of a machine that is off would leave it off in IPMI; the driver powers it on.
    await bmc.setPowerState('power cycle');
    assert.equal(await bmc.getPowerState(), 'power on');
    await rejectsWithKind(bmc.setPowerState('soft rebooting'), 'unsupported');
  });

  it('asks the OS to shut down with a soft power off, which it may ignore', async () => {
    const bmc = connect();
    await bmc.setPowerState('power on');
    await sim.ignoreSoftPowerOff(true);
    try {
      await bmc.setPowerState('soft power off');
      assert.equal(await sim.chassis('power'), '1', 'an OS that ignores ACPI keeps running');
    } finally {
      await sim.ignoreSoftPowerOff(false);
    }
    await bmc.setPowerState('soft power off');
    assert.equal(await sim.chassis('power'), '0');
    assert.equal(await bmc.getPowerState(), 'power off');
  });

  it('sets the boot device pxe, disk, cdrom and bios, and refuses uefi-http', async () => {
    const bmc = connect();
    const stored = { pxe: 'pxe', disk: 'default', cdrom: 'cdrom', bios: 'bios' } as const;
    for (const [device, chassisValue] of Object.entries(stored)) {
      await bmc.setBootDevice(device as keyof typeof stored, { persistent: true, mode: 'uefi' });
      assert.equal(await sim.chassis('boot'), chassisValue);
    }
    await bmc.setBootDevice('pxe', { persistent: false });
    // ipmi_sim drops the persistent and efiboot flags, so only the device reads back.
    assert.equal((await bmc.getBootDevice()).device, 'pxe');
    await rejectsWithKind(bmc.setBootDevice('uefi-http', { persistent: false }), 'unsupported');
  });

  it('reports a wrong password as a non-retryable auth error, without the password', async () => {
    const wrong = 'not-the-password';
    const error = await rejectsWithKind(connect({ ipmi_password: wrong }).validate(), 'auth');
    assert.equal(error.retryable, false);
    assert.match(error.message, /rejected the user name or password.*RAKP 2 HMAC is invalid/);
    assert.ok(!error.message.includes(wrong));
    await rejectsWithKind(connect({ ipmi_username: 'nobody' }).getPowerState(), 'auth');
  });

  it('reports a BMC that is down as unreachable and retryable', async () => {
    const down = ipmiDriver.connect({ nodeUuid: 'n', driverInfo: driverInfo(await freeUdpPort()) });
    const error = await rejectsWithKind(down.getPowerState(), 'unreachable');
    assert.equal(error.retryable, true);
    assert.match(error.message, /did not answer/);
  });

  it('kills ipmitool when a BMC swallows requests, so no worker hangs', async (t) => {
    const silent = dgram.createSocket('udp4');
    await new Promise<void>((resolve) => silent.bind(0, '127.0.0.1', resolve));
    t.after(() => silent.close());
    const slow = createIpmiDriver({ lanRetries: 5, lanTimeoutSeconds: 5, commandTimeoutMs: 500 }).connect({
      nodeUuid: 'n',
      driverInfo: driverInfo(silent.address().port),
    });
    const error = await rejectsWithKind(slow.getPowerState(), 'unreachable');
    assert.match(error.message, /gave no answer to ipmitool power status within 500 ms/);
  });
});
