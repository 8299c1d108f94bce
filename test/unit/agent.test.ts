// The agent program's core, in this process against a fake control plane, with the simulated
// platform on a sparse 4 GiB disk file: lookup and heartbeats (through an outage), the token on
// the command API, and the commands' work on the disk, read back with sgdisk, wipefs and isoinfo.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import {
  closeSync,
  ftruncateSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import pino from 'pino';
import { encrypt } from 'unixcrypt';
import { startAgent, type RunningAgent } from '../../src/agent/agent.js';
import { AgentClient, resultOf, type CommandRecord } from '../../src/agent/client.js';
import { configDriveExtent } from '../../src/agent/disks.js';
import { readGpt } from '../../src/agent/gpt.js';
import { SimPlatform, simRescuePasswordPath } from '../../src/agent/platform/sim.js';
import type { KexecRequest } from '../../src/agent/platform/types.js';
import { freePort } from '../../src/cli/ports.js';
import { startFakeControlPlane, type FakeControlPlane } from '../support/fake-control-plane.js';
import { hashFilePrefix, startImageServer, writeRandomImage, type ImageServer } from '../../src/sim/images.js';
import { readBytes } from '../support/files.js';

const GiB = 1024 ** 3;
const MiB = 1024 ** 2;
const NODE_UUID = '5e1ab000-0000-4000-8000-00000000abcd';
const TOKEN = 'unit-test-agent-token-0123456789-abcdefghij';
const MACS = ['52:54:00:aa:00:00', '52:54:00:aa:00:01'];

async function waitUntil(what: string, done: () => boolean, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!done()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

const sh = (command: string, args: string[]) =>
  execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('the agent', () => {
  const scratch = mkdtempSync(path.join(process.env.TEST_SCRATCH_DIR ?? os.tmpdir(), 'agent-'));
  const disk = path.join(scratch, 'disk.img');
  const machineCalls: string[] = [];
  const kexecs: KexecRequest[] = [];
  let controlPlane: FakeControlPlane;
  let agent: RunningAgent;
  let client: AgentClient;
  let images: ImageServer;
  let smallImageHash: string;
  let backedImageHash: string;

  before(async () => {
    const fd = openSync(disk, 'w');
    ftruncateSync(fd, 4 * GiB);
    closeSync(fd);
    smallImageHash = await writeRandomImage(path.join(scratch, 'small.raw'), 8 * MiB);
    sh('qemu-img', [
      'create',
      '-q',
      '-f',
      'qcow2',
      '-F',
      'raw',
      '-b',
      path.join(scratch, 'small.raw'),
      path.join(scratch, 'backed.qcow2'),
    ]);
    backedImageHash = await hashFilePrefix(
      path.join(scratch, 'backed.qcow2'),
      statSync(path.join(scratch, 'backed.qcow2')).size,
    );
    images = await startImageServer({
      'small.raw': path.join(scratch, 'small.raw'),
      'backed.qcow2': path.join(scratch, 'backed.qcow2'),
    });

    // The control plane is down when the agent starts: it must keep trying.
    const port = await freePort();
    agent = await startAgent({
      apiUrl: `http://127.0.0.1:${port}`,
      platform: new SimPlatform({
        diskPath: disk,
        macs: MACS,
        serial: 'unit-disk',
        scratchDir: scratch,
        control: {
          powerOff: () => machineCalls.push('power off'),
          reboot: () => machineCalls.push('reboot'),
          kexec: (request) => kexecs.push(request),
        },
      }),
      logger: pino({ level: 'silent' }),
      listenHost: '127.0.0.1',
      listenPort: 0,
      retry: { initialMs: 20, maxMs: 100 },
    });
    await new Promise((r) => setTimeout(r, 300));
    controlPlane = await startFakeControlPlane({ port, nodeUuid: NODE_UUID, token: TOKEN, heartbeatInterval: 0.05 });
    client = new AgentClient(agent.url, TOKEN, { timeoutMs: 60_000 });
  });
  after(async () => {
    await agent?.stop();
    await controlPlane?.close();
    await images?.close();
  });

  /** Runs an async command and waits for its end. */
  const finished = async (record: Promise<CommandRecord>) => client.getCommand((await record).id, { wait: true });
  const deployStep = (step: string, args: Record<string, unknown>) =>
    finished(client.executeStep('deploy', { step, args }));

  it('looks itself up by its MACs once the control plane answers, then heartbeats with its token', async () => {
    await waitUntil('three heartbeats', () => controlPlane.heartbeats.length >= 3);
    assert.deepEqual(controlPlane.lookups, [MACS.join(',')]);
    for (const heartbeat of controlPlane.heartbeats.slice(0, 3)) {
      assert.deepEqual(heartbeat, {
        path: `/v1/heartbeat/${NODE_UUID}`,
        callback_url: agent.url,
        agent_version: '1.0.0',
        agent_token: TOKEN,
      });
    }
  });

  it('refuses every command call without the token, and takes it as a header or ?agent_token=', async () => {
    const post = (query: string, headers: Record<string, string> = {}) =>
      fetch(`${agent.url}/v1/commands${query}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...headers },
        body: '{"name":"sync"}',
      });
    assert.equal((await post('')).status, 401);
    assert.equal((await post('', { 'x-agent-token': 'wrong' })).status, 401);
    assert.equal((await fetch(`${agent.url}/v1/commands`)).status, 401);
    await assert.rejects(
      new AgentClient(agent.url, 'not-the-token').listCommands(),
      (err: any) => err.status === 401 && !err.retryable,
    );
    assert.equal((await post(`?agent_token=${TOKEN}`)).status, 200);
    assert.equal((await fetch(`${agent.url}/v1/status`)).status, 200, 'status needs no token');
  });

  it('reports the hardware and its steps; refuses unknown commands and bad params with 400', async () => {
    const inventory = await client.getHardwareInfo();
    assert.deepEqual(
      inventory.disks.map((d) => [d.name, d.size, d.rotational]),
      [['/dev/vda', 4 * GiB, false]],
    );
    assert.deepEqual(
      inventory.interfaces.map((i) => i.mac_address),
      MACS,
    );
    assert.deepEqual(
      (await client.getSteps('clean')).map((s) => [s.step, s.priority]),
      [
        ['erase_devices_metadata', 99],
        ['erase_devices', 10],
      ],
    );
    assert.deepEqual(
      (await client.getSteps('deploy')).map((s) => s.step),
      ['write_image', 'write_configdrive', 'install_bootloader'],
    );
    await assert.rejects(
      client.runCommand('format_c'),
      (err: any) => err.status === 400 && /unknown command/.test(err.message),
    );
    await assert.rejects(
      client.executeStep('deploy', {
        step: 'write_image',
        args: { image_source: 'ftp://x/y', os_hash_algo: 'md5', os_hash_value: 'ab' },
      }),
      (err: any) => err.status === 400 && /write_image\.args\.image_source/.test(err.message),
    );
  });

  it('writes a config-2 drive at the end of the disk that isoinfo reads back', async () => {
    const configdrive = {
      meta_data: { uuid: NODE_UUID, hostname: 'lab-000' },
      network_data: { links: [] },
      user_data: '#cloud-config\n',
    };
    const record = await deployStep('write_configdrive', { configdrive });
    assert.equal(record.command_status, 'SUCCEEDED', JSON.stringify(record.command_error));
    const extent = configDriveExtent(4 * GiB);
    const iso = path.join(scratch, 'configdrive.iso');
    writeFileSync(iso, readBytes(disk, extent.offset, extent.length));
    assert.match(sh('isoinfo', ['-d', '-i', iso]), /Volume id: config-2/);
    const metaData = sh('isoinfo', ['-R', '-i', iso, '-x', '/openstack/latest/meta_data.json']);
    assert.deepEqual(JSON.parse(metaData), configdrive.meta_data);
    assert.equal(sh('isoinfo', ['-R', '-i', iso, '-x', '/openstack/latest/user_data']), configdrive.user_data);
  });

  it("installs the UEFI boot entry, finds the image's newest kernel and kexecs into the root partition", async () => {
    sh('sgdisk', ['--clear', '--new=1:1M:+100M', '--typecode=1:ef00', '--new=2:0:+1G', '--typecode=2:8300', disk]);
    const [esp, root] = await readGpt(disk);
    // The root file system as a Debian image has it: two kernels in /boot, each with its initrd.
    const tree = mkdtempSync(path.join(scratch, 'root-'));
    mkdirSync(path.join(tree, 'boot'));
    for (const version of ['6.1.0-9-amd64', '6.1.0-13-amd64'])
      for (const name of [`vmlinuz-${version}`, `initrd.img-${version}`])
        writeFileSync(path.join(tree, 'boot', name), name);
    sh('mkfs.ext4', ['-q', '-F', '-d', tree, '-E', `offset=${root.firstByte}`, disk, '1G']);

    const record = await deployStep('install_bootloader', { efi_system_part_uuid: esp.uniqueGuid });
    assert.equal(record.command_status, 'SUCCEEDED', JSON.stringify(record.command_error));
    const nvram = JSON.parse(readFileSync(`${disk}.nvram.json`, 'utf8'));
    assert.deepEqual(nvram.boot_order, [
      { label: 'tempered', loader: '\\EFI\\BOOT\\BOOTX64.EFI', partitionNumber: 1, partitionUuid: esp.uniqueGuid },
    ]);

    const found = {
      root_partition_uuid: root.uniqueGuid,
      kernel: '/boot/vmlinuz-6.1.0-13-amd64',
      initrd: '/boot/initrd.img-6.1.0-13-amd64',
      cmdline: `root=PARTUUID=${root.uniqueGuid} ro console=ttyS0`,
    };
    assert.deepEqual(await client.findKernel({ append_params: 'console=ttyS0' }), { found });
    assert.deepEqual(
      await client.findKernel({ kernel: '/boot/vmlinuz-6.1.0-9-amd64', initrd: '/boot/initrd.img-6.1.0-9-amd64' }),
      {
        found: {
          ...found,
          kernel: '/boot/vmlinuz-6.1.0-9-amd64',
          initrd: '/boot/initrd.img-6.1.0-9-amd64',
          cmdline: `root=PARTUUID=${root.uniqueGuid} ro`,
        },
      },
    );
    assert.deepEqual(await client.findKernel({ kernel: '/boot/vmlinuz-7' }), {
      found: null,
      reason: '/boot/vmlinuz-7 is on no Linux partition of vda',
    });

    const missing = await finished(client.kexec({ ...found, kernel: '/boot/vmlinuz-7' }));
    assert.equal(missing.command_status, 'FAILED');
    assert.match(missing.command_error?.message ?? '', /no \/boot\/vmlinuz-7 on partition/);
    const kexec = await finished(client.kexec(found));
    assert.equal(kexec.command_status, 'SUCCEEDED', JSON.stringify(kexec.command_error));
    assert.deepEqual(kexecs, [
      {
        rootPartitionUuid: found.root_partition_uuid,
        kernel: found.kernel,
        initrd: found.initrd,
        cmdline: found.cmdline,
      },
    ]);
  });

  it('finds no kernel on an image without a Linux file system', async () => {
    // The root partition now starts where the last test's file system does not.
    sh('sgdisk', ['--clear', '--new=1:1M:+50M', '--typecode=1:ef00', '--new=2:0:+1G', '--typecode=2:8300', disk]);
    const search = await client.findKernel();
    assert.equal(search.found, null);
    assert.match((search as { reason: string }).reason, /no vmlinuz-<version> in \/boot of any Linux partition/);
  });

  it('erase_devices_metadata clears the partition tables and every signature on the disk', async () => {
    sh('sgdisk', ['--clear', '--new=1:1M:+100M', '--typecode=1:ef00', '--new=2:0:+1G', disk]);
    assert.match(sh('wipefs', ['--no-act', disk]), /gpt[\s\S]*PMBR/);
    // ISO9660 says "CD001" in its first volume descriptor, 32 KiB into the config drive.
    const isoSignature = () => readBytes(disk, configDriveExtent(4 * GiB).offset + 0x8001, 5).toString('latin1');
    assert.equal(isoSignature(), 'CD001', 'the config drive of the earlier test is there');
    const record = await finished(client.executeStep('clean', { step: 'erase_devices_metadata' }));
    assert.equal(record.command_status, 'SUCCEEDED', JSON.stringify(record.command_error));
    assert.equal(sh('wipefs', ['--no-act', disk]).trim(), '', 'no signature left on the disk');
    assert.notEqual(isoSignature(), 'CD001', 'nor on the config drive');
    assert.deepEqual(await readGpt(disk), []);
    assert.match(sh('sgdisk', ['--print', disk]), /Creating new GPT entries|GPT: not present/);
  });

  it('reports the end of each async command nobody waits on to the control plane at once: id and status with its token', async () => {
    // Started, not waited on: the end is reported, then read.
    const unwaited = async (step: string, args: Record<string, unknown>) => {
      const started = await client.executeStep('deploy', { step, args });
      await waitUntil(`the report of ${step}`, () =>
        controlPlane.commandReports.some((c) => c.command_id === started.id),
      );
      return client.getCommand(started.id);
    };
    const ok = await unwaited('write_configdrive', { configdrive: { meta_data: { uuid: NODE_UUID } } });
    const failed = await unwaited('write_image', {
      image_source: images.url('missing.raw'),
      os_hash_algo: 'sha256',
      os_hash_value: smallImageHash,
    });
    assert.equal(ok.command_status, 'SUCCEEDED', JSON.stringify(ok.command_error));
    assert.equal(failed.command_status, 'FAILED');
    const report = (id: string) => controlPlane.commandReports.find((c) => c.command_id === id);
    const path = `/v1/command_result/${NODE_UUID}`;
    assert.deepEqual(report(ok.id), { path, agent_token: TOKEN, command_id: ok.id, command_status: 'SUCCEEDED' });
    assert.deepEqual(
      report(failed.id),
      { path, agent_token: TOKEN, command_id: failed.id, command_status: 'FAILED' },
      'no error message in the report',
    );
    // Its end answered to a call waiting on it: a report would only wake the workflow twice.
    const waited = await deployStep('write_configdrive', { configdrive: { meta_data: { uuid: NODE_UUID } } });
    assert.equal(waited.command_status, 'SUCCEEDED');
    const sync = await client.runCommand('get_deploy_steps', {}, { wait: true });
    await new Promise((r) => setTimeout(r, 200));
    assert.equal(report(waited.id), undefined, 'an end answered to a waiting call: no report');
    assert.equal(report(sync.id), undefined, 'a sync command ends in its own answer: no report');
  });

  it('refuses a corrupted image, and leaves what it wrote unbootable', async () => {
    sh('sgdisk', ['--clear', '--new=1:1M:+100M', disk]);
    const wrongHash = smallImageHash.replace(/^./, (c) => (c === '0' ? '1' : '0'));
    const record = await deployStep('write_image', {
      image_source: images.url('small.raw'),
      os_hash_algo: 'sha256',
      os_hash_value: wrongHash,
    });
    assert.equal(record.command_status, 'FAILED');
    assert.match(
      record.command_error!.message,
      new RegExp(`checksum mismatch: the sha256 of .*small.raw is ${smallImageHash}, expected ${wrongHash}`),
    );
    assert.ok(readBytes(disk, 0, MiB).equals(Buffer.alloc(MiB)), 'the start of the disk is zeroed');
    assert.throws(() => resultOf(record), /execute_deploy_step failed: image checksum mismatch/);
  });

  it('fails clearly on a missing image, a truncated download, a qcow2 posing as raw and a qcow2 with a backing file', async () => {
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ image_source: images.url('missing.raw') }, /GET http:\/\/127\.0\.0\.1:\d+\/missing\.raw answered 404/],
      [
        { image_source: `${images.url('truncated')}/small.raw` },
        /image download truncated: received \d+ of 8388608 bytes/,
      ],
      [
        { image_source: images.url('backed.qcow2'), os_hash_value: backedImageHash },
        /qcow2, but its disk_format says raw/,
      ],
      [
        { image_source: images.url('backed.qcow2'), os_hash_value: backedImageHash, disk_format: 'qcow2' },
        /backing file/,
      ],
    ];
    for (const [args, error] of cases) {
      const record = await deployStep('write_image', {
        os_hash_algo: 'sha256',
        os_hash_value: smallImageHash,
        ...args,
      });
      assert.equal(record.command_status, 'FAILED', JSON.stringify(args));
      assert.match(record.command_error!.message, error);
    }
  });

  it("follows an image store's redirects, and not endlessly", async () => {
    // A store answering with a redirect to where the image is (a signed URL), or to itself.
    const store = createServer((request, response) =>
      response.writeHead(302, { location: request.url === '/loop' ? '/loop' : images.url('small.raw') }).end('moved'),
    );
    await new Promise<void>((resolve) => store.listen(0, '127.0.0.1', resolve));
    const storeUrl = `http://127.0.0.1:${(store.address() as AddressInfo).port}`;
    try {
      const image = { os_hash_algo: 'sha256', os_hash_value: smallImageHash };
      const written = await deployStep('write_image', { ...image, image_source: `${storeUrl}/small.raw` });
      assert.equal(written.command_status, 'SUCCEEDED', JSON.stringify(written.command_error));
      assert.equal(await hashFilePrefix(disk, 8 * MiB), smallImageHash);
      const looping = await deployStep('write_image', { ...image, image_source: `${storeUrl}/loop` });
      assert.equal(looping.command_status, 'FAILED');
      assert.match(looping.command_error!.message, /image download failed: .*\/loop: more than 5 redirects/);
    } finally {
      store.close();
    }
  });

  it('reboots and powers off the machine around it', async () => {
    assert.equal((await finished(client.reboot())).command_status, 'SUCCEEDED');
    assert.equal((await finished(client.powerOff())).command_status, 'SUCCEEDED');
    assert.deepEqual(machineCalls, ['reboot', 'power off']);
    const commands = await client.listCommands();
    assert.ok(
      commands.every((c) => c.command_status !== 'RUNNING'),
      'the command list shows every command, all finished',
    );
  });

  it('checks every disk in service without writing, and hands a rescue only a hashed password, then stops', async () => {
    assert.deepEqual(
      (await client.getSteps('service')).map((s) => [s.step, s.priority]),
      [['read_disks', 0]],
    );
    const before = statSync(disk).mtimeMs;
    const checked = await finished(client.executeStep('service', { step: 'read_disks', args: {} }));
    assert.equal(checked.command_status, 'SUCCEEDED', JSON.stringify(checked.command_error));
    assert.deepEqual(resultOf<any>(checked).service_result, { disks: [{ disk, bytes_read: 4 * GiB }] });
    assert.equal(statSync(disk).mtimeMs, before, 'nothing was written');

    await assert.rejects(
      client.runCommand('finalize_rescue', { rescue_password: 'plain-text-password', hashed: false }),
      (err: any) => err.status === 400 && /rescue_password: must be a crypt\(3\)/.test(err.message),
    );
    const hash = encrypt('plain-text-password');
    await client.finalizeRescue(hash);
    assert.equal(readFileSync(simRescuePasswordPath(disk), 'utf8'), hash);
    // Handed over: no more heartbeats, and the command API is gone.
    const pause = () => new Promise((resolve) => setTimeout(resolve, 500));
    await pause();
    const heartbeats = controlPlane.heartbeats.length;
    await pause();
    assert.equal(controlPlane.heartbeats.length, heartbeats, 'no heartbeat after the hand-over');
    await assert.rejects(client.status());
  });
});
