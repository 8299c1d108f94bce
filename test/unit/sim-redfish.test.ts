// The simulated lab's Redfish BMC, exercised through our Redfish driver and plain HTTP.
import assert from 'node:assert/strict';
import { mkdtemp, rm, stat } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRedfishDriver, redfishDriver } from '../../src/drivers/redfish.js';
import type { Bmc } from '../../src/drivers/types.js';
import { startLab } from '../../src/sim/lab.js';
import { DEFAULT_DISK_SIZE_BYTES, SimMachine, type ResetType, type SimPowerState } from '../../src/sim/machine.js';
import { startRedfishBmc, type RedfishBmc } from '../../src/sim/redfish/server.js';
import { rejectsWithKind, waitForPower } from '../support/bmc.js';

const USERNAME = 'admin';
const PASSWORD = 'Sup3r-s3cret!';
const BASIC_AUTH = `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')}`;

let dataDir: string;
let machine: SimMachine;
let bmc: RedfishBmc;

const driverInfo = (address: string, overrides: Record<string, unknown> = {}) => ({
  redfish_address: address,
  redfish_username: USERNAME,
  redfish_password: PASSWORD,
  ...overrides,
});
const connect = (overrides: Record<string, unknown> = {}): Bmc =>
  redfishDriver.connect({ nodeUuid: 'x', driverInfo: driverInfo(bmc.url, overrides) });

/** The lab machines here settle within their 200 ms power delay. */
const LAB_POLL = { timeoutMs: 5_000, pollMs: 20 };

/** Runs `action` and returns the power changes the machine went through meanwhile. */
async function powerChangesDuring(subject: SimMachine, action: () => Promise<void>): Promise<SimPowerState[]> {
  const changes: SimPowerState[] = [];
  const record = (state: SimPowerState) => changes.push(state);
  subject.on('power', record);
  try {
    await action();
  } finally {
    subject.off('power', record);
  }
  return changes;
}

before(async () => {
  dataDir = await mkdtemp(path.join(tmpdir(), 'tempered-sim-'));
  machine = await SimMachine.create({ index: 0, diskDir: dataDir, powerDelayMs: 200 });
  bmc = await startRedfishBmc(machine, { port: 0, username: USERNAME, password: PASSWORD });
});

after(async () => {
  machine.stop();
  await bmc.close();
  await rm(dataDir, { recursive: true, force: true });
});

describe('simulated Redfish BMC over HTTP', () => {
  it('serves the service root without credentials and nothing else', async () => {
    const root = await fetch(`${bmc.url}/redfish/v1/`);
    assert.equal(root.status, 200);
    const body = await root.json();
    assert.equal(typeof body.RedfishVersion, 'string');
    assert.equal(body.Systems['@odata.id'], '/redfish/v1/Systems');

    const systems = await fetch(`${bmc.url}/redfish/v1/Systems`);
    assert.equal(systems.status, 401);
    assert.match(systems.headers.get('www-authenticate') ?? '', /^Basic/);
    const error = await systems.json();
    assert.equal(error.error.code, 'Base.1.0.GeneralError');
    assert.equal(typeof error.error['@Message.ExtendedInfo'][0].MessageId, 'string');
  });

  it('answers an unknown path with a Redfish 404', async () => {
    const response = await fetch(`${bmc.url}/redfish/v1/Nowhere`, { headers: { Authorization: BASIC_AUTH } });
    assert.equal(response.status, 404);
    assert.match(response.headers.get('content-type') ?? '', /application\/json/);
    const body = await response.json();
    assert.match(body.error['@Message.ExtendedInfo'][0].Message, /Nowhere/);
  });

  it('rejects a bad boot target and reset type with a Redfish 400, changing nothing', async () => {
    const systemPath = `/redfish/v1/Systems/${machine.systemId}`;
    const before = machine.bootOverride;
    const patch = await fetch(`${bmc.url}${systemPath}`, {
      method: 'PATCH',
      headers: { Authorization: BASIC_AUTH, 'Content-Type': 'application/json' },
      body: JSON.stringify({ Boot: { BootSourceOverrideEnabled: 'Once', BootSourceOverrideTarget: 'Floppy' } }),
    });
    assert.equal(patch.status, 400);
    assert.match((await patch.json()).error['@Message.ExtendedInfo'][0].MessageId, /PropertyValueNotInList/);
    assert.deepEqual(machine.bootOverride, before);

    const reset = await fetch(`${bmc.url}${systemPath}/Actions/ComputerSystem.Reset`, {
      method: 'POST',
      headers: { Authorization: BASIC_AUTH, 'Content-Type': 'application/json' },
      body: JSON.stringify({ ResetType: 'Nmi' }),
    });
    assert.equal(reset.status, 400);
  });

  it("lists the machine's MAC addresses", async () => {
    const nicsPath = `/redfish/v1/Systems/${machine.systemId}/EthernetInterfaces`;
    const get = async (url: string) =>
      (await fetch(`${bmc.url}${url}`, { headers: { Authorization: BASIC_AUTH } })).json();
    const collection = await get(nicsPath);
    const macs = await Promise.all(
      collection.Members.map(async (member: { '@odata.id': string }) => (await get(member['@odata.id'])).MACAddress),
    );
    assert.deepEqual(macs, machine.macs);
  });
});

describe('redfish driver against the simulated BMC', () => {
  it('validates with the right credentials', async () => {
    await connect().validate();
  });

  it('reports wrong credentials as an auth error without the password', async () => {
    const wrongPassword = 'not-the-Sup3r-s3cret';
    const error = await rejectsWithKind(connect({ redfish_password: wrongPassword }).validate(), 'auth');
    assert.match(error.message, new RegExp(`user ${USERNAME}`));
    assert.ok(!error.message.includes(wrongPassword));
    assert.equal(error.retryable, false);
  });

  it('powers on, off and reboots, waiting out the power delay', async (t) => {
    const driver = connect();
    await driver.setPowerState('power on');
    await waitForPower(driver, 'power on', LAB_POLL);

    const reset = t.mock.method(machine, 'reset');
    await driver.setPowerState('power on');
    assert.equal(reset.mock.callCount(), 0, 'power on when on must not reset the machine');
    reset.mock.restore();

    await driver.setPowerState('power off');
    await waitForPower(driver, 'power off', LAB_POLL);

    await driver.setPowerState('power on');
    await waitForPower(driver, 'power on', LAB_POLL);
    const changes = await powerChangesDuring(machine, async () => {
      await driver.setPowerState('rebooting');
      assert.equal(await driver.getPowerState(), 'power off', 'a restart drops power at once');
      await waitForPower(driver, 'power on', LAB_POLL);
    });
    assert.deepEqual(changes, ['Off', 'On']);
  });

  it('powers a machine that is off on when asked to reboot', async (t) => {
    const driver = connect();
    await driver.setPowerState('power off');
    await waitForPower(driver, 'power off', LAB_POLL);
    const reset = t.mock.method(machine, 'reset');
    await driver.setPowerState('rebooting');
    assert.deepEqual(
      reset.mock.calls.map((call) => call.arguments[0]),
      ['On'],
    );
    await waitForPower(driver, 'power on', LAB_POLL);
  });

  it('sets the boot device once or persistently', async () => {
    const driver = connect();
    await driver.setBootDevice('pxe', { persistent: true });
    assert.deepEqual(machine.bootOverride, { target: 'Pxe', enabled: 'Continuous', mode: 'UEFI' });
    await driver.setBootDevice('disk', { persistent: false });
    assert.deepEqual(machine.bootOverride, { target: 'Hdd', enabled: 'Once', mode: 'UEFI' });
  });

  it('finds the system by id or path, and reports an unknown one as a protocol error', async () => {
    await connect({ redfish_system_id: machine.systemId }).validate();
    await connect({ redfish_system_id: `/redfish/v1/Systems/${machine.systemId}` }).validate();
    const error = await rejectsWithKind(connect({ redfish_system_id: 'no-such-system' }).validate(), 'protocol');
    assert.match(error.message, /HTTP 404: .*no-such-system.*not found/);
  });

  it('falls back to the reset types a BMC offers', async (t) => {
    const offered: ResetType[] = ['ForceOn', 'GracefulShutdown', 'PowerCycle'];
    const limited = await SimMachine.create({ index: 1, diskDir: dataDir, resetTypes: offered });
    const limitedBmc = await startRedfishBmc(limited, { username: USERNAME, password: PASSWORD });
    t.after(() => limitedBmc.close());
    const driver = redfishDriver.connect({ nodeUuid: 'x', driverInfo: driverInfo(limitedBmc.url) });
    const reset = t.mock.method(limited, 'reset');

    await driver.setPowerState('power on');
    await driver.setPowerState('rebooting');
    await driver.setPowerState('power off');
    assert.deepEqual(
      reset.mock.calls.map((call) => call.arguments[0]),
      ['ForceOn', 'PowerCycle', 'GracefulShutdown'],
    );
  });

  it('reports a closed port as unreachable and retryable', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const { port } = closed.address() as AddressInfo;
    await new Promise((resolve) => closed.close(resolve));

    const driver = redfishDriver.connect({ nodeUuid: 'x', driverInfo: driverInfo(`http://127.0.0.1:${port}`) });
    const error = await rejectsWithKind(driver.validate(), 'unreachable');
    assert.equal(error.retryable, true);
  });

  it('reports a BMC that never answers as unreachable', async (t) => {
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    t.after(() => {
      silent.closeAllConnections();
      silent.close();
    });
    const { port } = silent.address() as AddressInfo;
    const driver = createRedfishDriver({ requestTimeoutMs: 100 }).connect({
      nodeUuid: 'x',
      driverInfo: driverInfo(`http://127.0.0.1:${port}`),
    });
    await rejectsWithKind(driver.getPowerState(), 'unreachable');
  });
});

describe('lab', () => {
  it('starts machines with their own BMC, MACs and sparse disk', async () => {
    const labDir = path.join(dataDir, 'lab');
    const lab = await startLab({ count: 2, dataDir: labDir, username: USERNAME, password: PASSWORD });
    try {
      assert.equal(lab.machines.length, 2);
      assert.notEqual(lab.machines[0].bmcUrl, lab.machines[1].bmcUrl);
      assert.deepEqual(
        lab.machines.map((entry) => entry.name),
        ['lab-000', 'lab-001'],
      );
      assert.equal(new Set(lab.machines.flatMap((entry) => entry.macs)).size, 4);
      for (const { machine: labMachine, bmcUrl } of lab.machines) {
        assert.equal((await stat(labMachine.diskPath)).size, DEFAULT_DISK_SIZE_BYTES);
        await redfishDriver.connect({ nodeUuid: 'x', driverInfo: driverInfo(bmcUrl) }).validate();
      }
    } finally {
      await lab.close();
    }
  });
});
