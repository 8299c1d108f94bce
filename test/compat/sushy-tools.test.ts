// The Redfish driver against sushy-tools' emulator (fake driver): a Redfish service we did not write.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { rm, symlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createRedfishDriver, redfishDriver } from '../../src/drivers/redfish.js';
import type { Bmc } from '../../src/drivers/types.js';
import {
  makeCertificates,
  scratchDir,
  recordRequests,
  serveFiles,
  startSushyEmulator,
  type Certificates,
  type FileServer,
  type RecordingProxy,
  type SushyEmulator,
} from './emulators.js';
import { rejectsWithKind, waitForPower } from '../support/bmc.js';

const USERNAME = 'operator';
const PASSWORD = 'sushy-S3cret!';

describe('redfish driver against sushy-tools', () => {
  let sushy: SushyEmulator;
  let files: FileServer;
  let recorder: RecordingProxy;
  const driverInfo = (systemIndex = 0) => ({
    redfish_address: sushy.url,
    redfish_system_id: sushy.systems[systemIndex].uuid,
    redfish_username: USERNAME,
    redfish_password: PASSWORD,
  });
  const connect = (overrides: Record<string, unknown> = {}, systemIndex = 0): Bmc =>
    redfishDriver.connect({ nodeUuid: 'n', driverInfo: { ...driverInfo(systemIndex), ...overrides } });
  /** A connection through the recording proxy, so the test sees the ResetTypes the driver chose. */
  const connectRecorded = (systemIndex: number): Bmc =>
    redfishDriver.connect({ nodeUuid: 'n', driverInfo: { ...driverInfo(systemIndex), redfish_address: recorder.url } });
  /** The ResetTypes POSTed since the first `count` recorded requests. */
  const resetTypesSince = (count: number) =>
    recorder.requests
      .slice(count)
      .filter((r) => r.method === 'POST' && r.path.endsWith('/Actions/ComputerSystem.Reset'))
      .map((r) => (r.body as { ResetType?: string }).ResetType);
  /** Powers the machine on and waits for it; the number of requests recorded by then. */
  const powerOnThenCount = async (bmc: Bmc) => {
    await bmc.setPowerState('power on');
    await waitForPower(bmc, 'power on');
    return recorder.requests.length;
  };
  const getAsOperator = async (path: string) =>
    (
      await fetch(`${sushy.url}${path}`, {
        headers: { Authorization: `Basic ${Buffer.from(`${USERNAME}:${PASSWORD}`).toString('base64')}` },
      })
    ).json();

  before(async () => {
    [sushy, files] = await Promise.all([
      startSushyEmulator({ systems: 3, username: USERNAME, password: PASSWORD }),
      serveFiles({ 'ramdisk.iso': Buffer.alloc(64 * 1024, 7) }),
    ]);
    recorder = await recordRequests(sushy.url);
  });
  after(async () => {
    await recorder?.close();
    await sushy?.stop();
    await files?.close();
  });

  it('verifies with the right credentials, the system named by UUID, path or name', async () => {
    await connect().validate();
    await connect({ redfish_system_id: `/redfish/v1/Systems/${sushy.systems[0].uuid}` }).validate();
    // sushy-tools answers a name with a redirect to the UUID, which the driver follows.
    await connect({ redfish_system_id: sushy.systems[0].name }).validate();
  });

  it('refuses to guess among several systems', async () => {
    const { redfish_system_id: _, ...withoutSystem } = driverInfo();
    const error = await rejectsWithKind(
      redfishDriver.connect({ nodeUuid: 'n', driverInfo: withoutSystem }).validate(),
      'protocol',
    );
    assert.match(error.message, /manages 3 systems.*redfish_system_id/);
  });

  it('reports a wrong password as a non-retryable auth error without the password', async () => {
    const wrong = 'not-the-sushy-password';
    const error = await rejectsWithKind(connect({ redfish_password: wrong }).validate(), 'auth');
    assert.equal(error.retryable, false);
    assert.match(error.message, new RegExp(`user ${USERNAME}`));
    assert.ok(!error.message.includes(wrong) && !error.message.includes(PASSWORD));
  });

  it('powers on, off and reboots, polling out the late power changes', async () => {
    const bmc = connectRecorded(0);
    assert.equal(await bmc.getPowerState(), 'power off');
    let seen = recorder.requests.length;
    await bmc.setPowerState('power on');
    await waitForPower(bmc, 'power on');
    assert.deepEqual(resetTypesSince(seen), ['On']);

    seen = recorder.requests.length;
    await bmc.setPowerState('rebooting');
    assert.deepEqual(resetTypesSince(seen), ['ForceRestart']);
    // sushy-tools drops the power at once on a restart and brings it back 1-11 s later.
    assert.equal(await bmc.getPowerState(), 'power off', 'the reboot cut the power');
    await waitForPower(bmc, 'power on');

    seen = recorder.requests.length;
    await bmc.setPowerState('power off');
    await waitForPower(bmc, 'power off');
    assert.deepEqual(resetTypesSince(seen), ['ForceOff']);
  });

  it('power-cycles a running machine through ForceRestart (no PowerCycle offered)', async () => {
    const bmc = connectRecorded(1);
    const seen = await powerOnThenCount(bmc);
    await bmc.setPowerState('power cycle');
    assert.deepEqual(resetTypesSince(seen), ['ForceRestart']);
    assert.equal(await bmc.getPowerState(), 'power off', 'the cycle cut the power');
    await waitForPower(bmc, 'power on');
  });

  it('shuts down gracefully with GracefulShutdown, never forcing', async () => {
    const bmc = connectRecorded(1);
    const seen = await powerOnThenCount(bmc);
    await bmc.setPowerState('soft power off');
    await waitForPower(bmc, 'power off');
    assert.deepEqual(resetTypesSince(seen), ['GracefulShutdown']);
  });

  it('sets the boot override target and mode', async () => {
    const bmc = connect({}, 2);
    // Not uefi-http: sushy-tools turns UefiHttp without an HttpBootUri into Pxe.
    for (const [device, mode] of [
      ['pxe', 'uefi'],
      ['cdrom', 'legacy'],
      ['disk', 'uefi'],
    ] as const) {
      await bmc.setBootDevice(device, { persistent: false, mode });
      const settings = await bmc.getBootDevice();
      // sushy-tools ignores BootSourceOverrideEnabled (it always reads Continuous), so only these count.
      assert.deepEqual([settings.device, settings.mode], [device, mode]);
    }
    const error = await rejectsWithKind(bmc.setBootDevice('bios', { persistent: false }), 'unsupported');
    assert.match(error.message, /BiosSetup.*offered: Pxe, Cd, Hdd, UefiHttp/);
  });

  it('inserts and ejects an ISO on the virtual CD, which sushy-tools downloads', async () => {
    const bmc = connect();
    const cdPath = `/redfish/v1/Systems/${sushy.systems[0].uuid}/VirtualMedia/Cd`;
    await bmc.insertVirtualMedia!(files.url('ramdisk.iso'));
    await bmc.insertVirtualMedia!(files.url('ramdisk.iso'));
    let cd = await getAsOperator(cdPath);
    assert.deepEqual([cd.Inserted, cd.Image], [true, files.url('ramdisk.iso')]);
    await bmc.ejectVirtualMedia!();
    await bmc.ejectVirtualMedia!();
    cd = await getAsOperator(cdPath);
    assert.equal(cd.Inserted, false);

    const error = await rejectsWithKind(bmc.insertVirtualMedia!(files.url('missing.iso')), 'protocol');
    assert.match(error.message, /HTTP 400/);
  });

  it('reads disks and NICs for inspection, and says what it lacks', async () => {
    const inventory = await connect().getInventory!();
    assert.deepEqual(inventory.nics, [{ name: sushy.systems[0].mac, macAddress: sushy.systems[0].mac }]);
    assert.deepEqual(
      inventory.disks.map((d) => [d.name, d.sizeBytes]),
      [['Drive 0', 899527000000]],
    );
    // The fake driver implements neither Processors nor Memory.
    assert.deepEqual([inventory.cpus.count, inventory.memoryMiB], [undefined, undefined]);
  });

  it('reports BIOS as unsupported (sushy-tools has none with its fake driver)', async () => {
    const error = await rejectsWithKind(connect().getBiosSettings!(), 'unsupported');
    assert.match(error.message, /no Bios resource/);
  });
});

describe('redfish driver over TLS against sushy-tools', () => {
  let dir: string;
  let certificates: Certificates;
  let sushy: SushyEmulator;
  const connect = (verifyCa: boolean | string | undefined) =>
    createRedfishDriver({ retry: { attempts: 1, initialDelayMs: 0 } }).connect({
      nodeUuid: 'n',
      driverInfo: {
        redfish_address: sushy.url,
        redfish_username: USERNAME,
        redfish_password: PASSWORD,
        ...(verifyCa === undefined ? {} : { redfish_verify_ca: verifyCa }),
      },
      // The operator's CA directory: bundles are named inside it.
      access: { allowedNetworks: [], caDir: dir },
    });

  before(async () => {
    dir = await scratchDir('tls');
    certificates = await makeCertificates(dir);
    sushy = await startSushyEmulator({ systems: 1, username: USERNAME, password: PASSWORD, tls: certificates });
  });
  after(async () => {
    await sushy?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('works with verify_ca false and with the CA bundle that signed the certificate', async () => {
    assert.ok(sushy.url.startsWith('https://'));
    await connect(false).validate();
    await connect('false').validate();
    await connect(path.basename(certificates.caPath)).validate();
    await connect(certificates.caPath).validate();
  });

  it('fails clearly with the system CA store or another CA, naming the fix', async () => {
    for (const verifyCa of [undefined, true, certificates.otherCaPath]) {
      const error = await rejectsWithKind(connect(verifyCa).validate(), 'protocol');
      assert.match(error.message, /TLS certificate that could not be verified.*redfish_verify_ca/);
    }
  });

  it('refuses a CA bundle that is missing, no regular file, too big or outside the CA directory, alike and at once', async () => {
    // A FIFO would hang a blocking read; /dev/zero would grow memory without bound.
    execFileSync('mkfifo', [path.join(dir, 'fifo.pem')]);
    await symlink('/dev/zero', path.join(dir, 'zero.pem'));
    await writeFile(path.join(dir, 'huge.pem'), Buffer.alloc(2 * 1024 * 1024, 65));
    const messages = new Set<string>();
    for (const name of ['no-such-ca.pem', 'fifo.pem', 'zero.pem', 'huge.pem', `${dir}/fifo.pem`]) {
      const error = await rejectsWithKind(connect(name).validate(), 'protocol');
      assert.match(error.message, /redfish_verify_ca does not name a usable CA bundle/);
      messages.add(error.message);
    }
    assert.equal(messages.size, 1, 'every refusal reads the same: none tells which files exist');
    const outside = new Set<string>();
    for (const name of ['/etc/passwd', '/etc/no-such-file', '../x.pem', '/dev/zero']) {
      outside.add(
        (
          await rejectsWithKind(
            Promise.resolve().then(() => connect(name).validate()),
            'protocol',
          )
        ).message,
      );
    }
    assert.equal(outside.size, 1);
    assert.match([...outside][0], /CA directory/);
  });
});
