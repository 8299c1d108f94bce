// Ironic's own clients from PyPI, unmodified, against Tempered with a lab of simulated machines:
// openstacksdk and python-ironicclient's `baremetal` CLI each enroll a machine, manage, provide,
// deploy it (waiting as they do), power it off and on, and undeploy it.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { MAX_API_VERSION } from '../../src/api/ironic.js';
import { startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { startHarness, type Harness } from '../support/harness.js';

const run = promisify(execFile);
const VENV_BIN = path.resolve('.tools/venv/bin');
const TIMEOUT_SECONDS = 240;
const IMAGE_BYTES = 32 * 1024 ** 2;

describe("Ironic's clients", () => {
  let h: Harness;
  let images: ImageServer;
  let imageSha256: string;

  before(async () => {
    h = await startHarness({ labCount: 2, powerDelayMs: 20 });
    // The clients enroll the lab machines themselves.
    for (const uuid of h.nodeUuids) assert.equal((await h.http('DELETE', `/v1/nodes/${uuid}`)).status, 204);
    const imageFile = path.join(path.dirname(h.logFile), 'disk.raw');
    imageSha256 = await writeDiskImage(imageFile, IMAGE_BYTES);
    images = await startImageServer({ 'disk.raw': imageFile });
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  const machine = (index: number) => h.lab!.machines[index];

  it('openstacksdk: enroll, manage, provide, deploy with wait, power, undeploy', async () => {
    const { name, bmcUrl, macs } = machine(0);
    const { stdout } = await run(path.join(VENV_BIN, 'python'), ['test/compat/fixtures/ironic_sdk_walk.py'], {
      env: {
        PATH: process.env.PATH,
        TEMPERED_URL: h.apiUrl,
        TEMPERED_TOKEN: h.config.adminToken!,
        NODE_NAME: name,
        BMC_URL: bmcUrl,
        BMC_USER: h.credentials.username,
        BMC_PASSWORD: h.credentials.password,
        NODE_MACS: macs.join(','),
        IMAGE_URL: images.url('disk.raw'),
        IMAGE_SHA256: imageSha256,
      },
      timeout: 10 * TIMEOUT_SECONDS * 1000,
    });
    const checkpoints = Object.fromEntries(
      stdout
        .trim()
        .split('\n')
        .map((line) => {
          const { checkpoint, ...rest } = JSON.parse(line);
          return [checkpoint, rest];
        }),
    );
    assert.equal(checkpoints.microversion.version, MAX_API_VERSION, 'the SDK negotiated our newest microversion');
    assert.deepEqual(checkpoints.enrolled, { provision_state: 'enroll', password: '******' });
    assert.equal(checkpoints.managed.provision_state, 'manageable');
    assert.equal(checkpoints.provided.provision_state, 'available');
    assert.deepEqual(checkpoints.listed.names, [name]);
    assert.ok(
      checkpoints.listed.picked_keys.includes('provision_state') &&
        !checkpoints.listed.picked_keys.includes('driver_info'),
      'fields= picked',
    );
    assert.deepEqual(checkpoints.boot_device.current, { boot_device: 'pxe', persistent: false });
    // The SDK hands back Ironic's body: {supported_boot_devices: [...]}.
    assert.ok(checkpoints.boot_device.supported.supported_boot_devices.includes('pxe'));
    assert.deepEqual(checkpoints.validated.results, {
      bios: null,
      boot: true,
      console: null,
      deploy: true,
      inspect: null,
      management: true,
      network: true,
      power: true,
      raid: null,
      rescue: null,
      storage: null,
    });
    assert.deepEqual(checkpoints.deployed, { provision_state: 'active', power_state: 'power on' });
    assert.equal(checkpoints.powered.power_state, 'power on');
    assert.equal(checkpoints.refused.status, 409);
    assert.match(
      checkpoints.refused.message,
      /cannot provide a node in state "active"/,
      'our message reached the SDK through error_message',
    );
    assert.equal(checkpoints.undeployed.provision_state, 'available');
  });

  it('the baremetal CLI: enroll, manage, provide, deploy with --wait, power, undeploy', async () => {
    const { name, bmcUrl, macs } = machine(1);
    const env = {
      PATH: process.env.PATH,
      OS_AUTH_TYPE: 'admin_token',
      OS_ENDPOINT: h.apiUrl,
      OS_TOKEN: h.config.adminToken!,
    };
    const baremetal = async (...args: string[]) =>
      (await run(path.join(VENV_BIN, 'baremetal'), args, { env, timeout: 2 * TIMEOUT_SECONDS * 1000 })).stdout;
    const show = async () => JSON.parse(await baremetal('node', 'show', name, '-f', 'json'));

    const created = JSON.parse(
      await baremetal(
        'node',
        'create',
        '--driver',
        'redfish',
        '--name',
        name,
        '--resource-class',
        'lab',
        '--driver-info',
        `redfish_address=${bmcUrl}`,
        '--driver-info',
        `redfish_username=${h.credentials.username}`,
        // A throwaway password of the test's lab; a real operator would not put one on a command line.
        '--driver-info',
        `redfish_password=${h.credentials.password}`,
        '-f',
        'json',
      ),
    );
    assert.equal(created.provision_state, 'enroll');
    assert.equal(created.driver_info.redfish_password, '******');
    for (const mac of macs) await baremetal('port', 'create', mac, '--node', created.uuid);

    await baremetal('node', 'manage', name, '--wait', String(TIMEOUT_SECONDS));
    assert.equal((await show()).provision_state, 'manageable');
    await baremetal('node', 'provide', name, '--wait', String(TIMEOUT_SECONDS));
    assert.equal((await show()).provision_state, 'available');

    await baremetal(
      'node',
      'set',
      name,
      '--instance-info',
      `image_source=${images.url('disk.raw')}`,
      '--instance-info',
      'image_os_hash_algo=sha256',
      '--instance-info',
      `image_os_hash_value=${imageSha256}`,
    );
    const validation = JSON.parse(await baremetal('node', 'validate', name, '-f', 'json'));
    assert.deepEqual(
      validation.filter((v: any) => v.Result === true).map((v: any) => v.Interface),
      ['boot', 'deploy', 'management', 'network', 'power'],
    );
    await baremetal('node', 'boot', 'device', 'set', name, 'pxe');
    assert.equal(JSON.parse(await baremetal('node', 'boot', 'device', 'show', name, '-f', 'json')).boot_device, 'pxe');

    await baremetal(
      'node',
      'deploy',
      name,
      '--config-drive',
      JSON.stringify({ meta_data: { hostname: name } }),
      '--wait',
      String(TIMEOUT_SECONDS),
    );
    const deployed = await show();
    assert.deepEqual(
      [deployed.provision_state, deployed.power_state, deployed.last_error],
      ['active', 'power on', null],
    );

    await baremetal('node', 'power', 'off', name);
    await h.waitFor(`/v1/nodes/${created.uuid}`, (n) => n.power_state === 'power off' && !n.target_power_state);
    await baremetal('node', 'power', 'on', name);
    await h.waitFor(`/v1/nodes/${created.uuid}`, (n) => n.power_state === 'power on' && !n.target_power_state);

    await baremetal('node', 'undeploy', name, '--wait', String(TIMEOUT_SECONDS));
    const listed = JSON.parse(
      await baremetal(
        'node',
        'list',
        '--fields',
        'uuid',
        'name',
        'provision_state',
        '--sort',
        'name:desc',
        '-f',
        'json',
      ),
    );
    assert.deepEqual(
      listed.map((n: any) => [n.Name ?? n.name, n['Provisioning State'] ?? n.provision_state]),
      [
        [machine(1).name, 'available'],
        [machine(0).name, 'available'],
      ],
    );
  });
});
