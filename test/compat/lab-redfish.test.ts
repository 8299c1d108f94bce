// The lab's own Redfish BMC, checked with clients we did not write (python3-sushy, Ironic's
// Redfish library, and DMTF's redfishtool), then used to prove what sushy-tools cannot do:
// BIOS settings, firmware update with a task, UefiHttp boot, inventory and session auth.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { rm } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { createRedfishDriver } from '../../src/drivers/redfish.js';
import type { StepResult } from '../../src/domain/steps.js';
import type { Bmc, BiosApplyState, FirmwareUpdateState } from '../../src/drivers/types.js';
import { SimMachine } from '../../src/sim/machine.js';
import { startRedfishBmc, type RedfishBmc } from '../../src/sim/redfish/server.js';
import { scratchDir, serveFiles, type FileServer } from './emulators.js';
import { rejectsWithKind, waitForPower } from '../support/bmc.js';

const run = promisify(execFile);
const USERNAME = 'admin';
const PASSWORD = 'lab-S3cret!';
/** Debian's python3, where python3-sushy lives (not the project's venv). */
const SYSTEM_PYTHON = '/usr/bin/python3';

// Reads the power state, resets the system and sets a one-time boot override with sushy, the way
// Ironic's redfish driver does. The password comes through the environment.
const SUSHY_CLIENT = `
import os, sys, sushy
root = sushy.Sushy(sys.argv[1] + '/redfish/v1', username=os.environ['BMC_USER'], password=os.environ['BMC_PASSWORD'])
system = root.get_system(root.get_system_collection().members_identities[0])
action = sys.argv[2]
if action == 'power':
    print(system.power_state.value)
elif action == 'reset':
    system.reset_system(sushy.ResetType(sys.argv[3]))
elif action == 'boot':
    system.set_system_boot_options(sushy.BootSource(sys.argv[3]), enabled=sushy.BootSourceOverrideEnabled.ONCE)
`;

describe('lab Redfish BMC through independent clients', () => {
  let dir: string;
  let machine: SimMachine;
  let bmc: RedfishBmc;

  const sushyClient = async (...args: string[]) =>
    (
      await run(SYSTEM_PYTHON, ['-c', SUSHY_CLIENT, bmc.url, ...args], {
        env: { PATH: process.env.PATH, BMC_USER: USERNAME, BMC_PASSWORD: PASSWORD },
      })
    ).stdout.trim();
  // redfishtool takes the password only as an argument; this one is a throwaway for the test.
  const redfishtool = async (...args: string[]) =>
    (
      await run('redfishtool', [
        '-r',
        bmc.url.replace('http://', ''),
        '-u',
        USERNAME,
        '-p',
        PASSWORD,
        '-S',
        'Never',
        ...args,
      ])
    ).stdout;

  before(async () => {
    dir = await scratchDir('lab-redfish');
    machine = await SimMachine.create({ index: 0, diskDir: dir });
    bmc = await startRedfishBmc(machine, { username: USERNAME, password: PASSWORD });
  });
  after(async () => {
    machine?.stop();
    await bmc?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('python3-sushy reads the power state, resets the system and sets the boot override', async () => {
    assert.equal(await sushyClient('power'), 'Off');
    await sushyClient('reset', 'On');
    assert.equal(machine.powerState, 'On');
    assert.equal(await sushyClient('power'), 'On');
    await sushyClient('boot', 'Pxe');
    assert.deepEqual(machine.bootOverride, { target: 'Pxe', enabled: 'Once', mode: 'UEFI' });
  });

  it('redfishtool reads the power state, resets the system and sets the boot override', async () => {
    const system = JSON.parse(await redfishtool('Systems', '-1', 'get'));
    assert.equal(system.PowerState, machine.powerState);
    await redfishtool('Systems', '-1', 'reset', 'ForceOff');
    assert.equal(machine.powerState, 'Off');
    await redfishtool('Systems', '-1', 'setBootOverride', 'Continuous', 'Cd');
    assert.deepEqual(machine.bootOverride, { target: 'Cd', enabled: 'Continuous', mode: 'UEFI' });
  });
});

describe('redfish driver against the lab BMC: what sushy-tools cannot do', () => {
  let dir: string;
  let machine: SimMachine;
  let bmc: RedfishBmc;
  let files: FileServer;
  let connect: (overrides?: Record<string, unknown>) => Bmc;

  before(async () => {
    dir = await scratchDir('lab-oob');
    machine = await SimMachine.create({ index: 3, diskDir: dir, diskSizeBytes: 2 * 1024 ** 3, powerDelayMs: 50 });
    bmc = await startRedfishBmc(machine, { username: USERNAME, password: PASSWORD });
    files = await serveFiles({ 'bios-1.0.1.bin': Buffer.alloc(4096, 1), 'ramdisk.iso': Buffer.alloc(4096, 2) });
    const driver = createRedfishDriver({ stepPollSeconds: 1 });
    connect = (overrides = {}) =>
      driver.connect({
        nodeUuid: 'n',
        driverInfo: { redfish_address: bmc.url, redfish_username: USERNAME, redfish_password: PASSWORD, ...overrides },
      });
  });
  after(async () => {
    machine?.stop();
    await bmc?.close();
    await files?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('logs in with a session (auto and session) or uses basic auth, and refuses a wrong password either way', async () => {
    for (const authType of ['auto', 'auto', 'session', 'session', 'basic'])
      await connect({ redfish_auth_type: authType }).validate();
    const sessions = await fetch(`${bmc.url}/redfish/v1/SessionService/Sessions`, {
      headers: { Authorization: `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')}` },
    }).then((r) => r.json());
    assert.equal(
      sessions['Members@odata.count'],
      2,
      'one session each for auto and session, reused across connections',
    );
    for (const authType of ['session', 'basic']) {
      await rejectsWithKind(connect({ redfish_auth_type: authType, redfish_password: 'wrong' }).validate(), 'auth');
    }
  });

  it('reads CPUs, memory, disks and NICs', async () => {
    const inventory = await connect().getInventory!();
    assert.equal(inventory.cpus.count, 4);
    assert.equal(inventory.cpus.architecture, 'x86_64', "from the processor's InstructionSet");
    assert.equal(inventory.memoryMiB, 8192);
    assert.deepEqual(
      inventory.disks.map((d) => d.sizeBytes),
      [2 * 1024 ** 3],
    );
    assert.deepEqual(
      inventory.nics.map((n) => n.macAddress),
      machine.macs,
    );
  });

  it('sets UefiHttp once or persistently with a boot mode, and refuses a target the BMC does not offer', async () => {
    const driver = connect();
    await driver.setBootDevice('uefi-http', { persistent: true, mode: 'uefi' });
    assert.deepEqual(await driver.getBootDevice(), { device: 'uefi-http', persistent: true, mode: 'uefi' });
    await driver.setBootDevice('cdrom', { persistent: false, mode: 'legacy' });
    assert.deepEqual(await driver.getBootDevice(), { device: 'cdrom', persistent: false, mode: 'legacy' });
    const error = await rejectsWithKind(driver.setBootDevice('bios', { persistent: false }), 'unsupported');
    assert.match(error.message, /BiosSetup/);
    assert.equal(machine.bootOverride.target, 'Cd', 'a refused target changes nothing');
  });

  it('inserts and ejects virtual media on the system, as the BMC then reports', async () => {
    const driver = connect();
    const readCd = async () =>
      fetch(`${bmc.url}/redfish/v1/Systems/${machine.systemId}/VirtualMedia/Cd`, {
        headers: { Authorization: `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')}` },
      }).then((r) => r.json());
    await driver.insertVirtualMedia!(files.url('ramdisk.iso'));
    let cd = await readCd();
    assert.deepEqual([cd.Inserted, cd.Image, cd.ConnectedVia], [true, files.url('ramdisk.iso'), 'URI']);
    await driver.ejectVirtualMedia!();
    cd = await readCd();
    assert.deepEqual([cd.Inserted, cd.Image], [false, '']);
    await rejectsWithKind(driver.insertVirtualMedia!(files.url('absent.iso')), 'protocol');
    assert.equal((await readCd()).Inserted, false, 'a failed insert leaves the CD empty');
  });

  it('applies BIOS settings with a reboot, as a step that reruns until they hold', async () => {
    const driver = connect();
    assert.equal((await driver.getBiosSettings!()).ProcTurboMode, 'Enabled');
    await driver.setPowerState('power on');
    await waitForPower(driver, 'power on');
    const powerChanges: string[] = [];
    machine.on('power', (state) => powerChanges.push(state));

    let result: StepResult<BiosApplyState> = await driver.applyBiosSettings!({
      ProcTurboMode: 'Disabled',
      NumLock: 'Off',
    });
    assert.ok(result.kind === 'rerun_after' && result.seconds === 1);
    for (let checks = 0; result.kind === 'rerun_after'; checks++) {
      assert.ok(checks < 100, 'BIOS settings never took effect');
      await new Promise((resolve) => setTimeout(resolve, 50));
      result = await driver.applyBiosSettings!({ ProcTurboMode: 'Disabled', NumLock: 'Off' }, result.state);
    }
    assert.equal(result.kind, 'done');
    assert.deepEqual(powerChanges, ['Off', 'On'], 'exactly one reboot');
    const settings = await driver.getBiosSettings!();
    assert.deepEqual([settings.ProcTurboMode, settings.NumLock], ['Disabled', 'Off']);

    const error = await rejectsWithKind(driver.applyBiosSettings!({ NoSuchSetting: 'x' }), 'protocol');
    assert.match(error.message, /HTTP 400: The BIOS attribute NoSuchSetting is not known/);
  });

  it('updates firmware through SimpleUpdate, following the task until it completes', async () => {
    const driver = connect();
    const readBiosVersion = async () =>
      (
        await fetch(`${bmc.url}/redfish/v1/UpdateService/FirmwareInventory/BIOS`, {
          headers: { Authorization: `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')}` },
        }).then((r) => r.json())
      ).Version;
    assert.equal(await readBiosVersion(), '1.0.0');
    const request = { imageUrl: files.url('bios-1.0.1.bin') };
    let result: StepResult<FirmwareUpdateState> = await driver.updateFirmware!(request);
    assert.ok(result.kind === 'rerun_after' && result.state?.taskMonitor.startsWith('/redfish/v1/TaskService/Tasks/'));
    for (let checks = 0; result.kind === 'rerun_after'; checks++) {
      assert.ok(checks < 100, 'the firmware task never finished');
      await new Promise((resolve) => setTimeout(resolve, 50));
      result = await driver.updateFirmware!(request, result.state);
    }
    assert.equal(result.kind, 'done');
    assert.equal(await readBiosVersion(), '1.0.1');
  });

  it("reports a failed firmware task as a failed step with the BMC's message", async () => {
    const driver = connect();
    const request = { imageUrl: files.url('missing.bin') };
    let result = await driver.updateFirmware!(request);
    for (let checks = 0; checks < 100 && result.kind === 'rerun_after'; checks++) {
      await new Promise((resolve) => setTimeout(resolve, 50));
      result = await driver.updateFirmware!(request, result.state);
    }
    assert.equal(result.kind, 'failed', 'the failed task was not reported as failed');
    assert.match(
      result.kind === 'failed' ? result.message : '',
      /failed the firmware update .*Exception.*missing\.bin answered HTTP 404/,
    );
  });
});
