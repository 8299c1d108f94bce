// kill -9 of the worker twice in one deploy: while it waits for the agent to heartbeat, and while
// the agent writes the image. Each time a new worker carries on; the deploy ends active with the
// right bytes on the disk, and no step ran twice.
import assert from 'node:assert/strict';
import { once } from 'node:events';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashFilePrefix, startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { startHarness, type Harness } from '../support/harness.js';
import { finished } from '../support/workflows.js';

const MiB = 1024 ** 2;

describe('deploy with a worker killed twice', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;
  const imageBytes = 48 * MiB; // six seconds at the slow server's 8 MiB/s

  before(async () => {
    // Slow power changes: the boot into the ramdisk takes seconds, time enough to kill the worker.
    h = await startHarness({ labCount: 1, powerDelayMs: 3000, inProcessWorker: false });
    const image = path.join(path.dirname(h.logFile), 'disk.raw');
    imageHash = await writeDiskImage(image, imageBytes);
    images = await startImageServer({ 'disk.raw': image });
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  async function killWorker(worker: ReturnType<Harness['spawnWorker']>) {
    worker.kill('SIGKILL');
    await once(worker, 'exit');
  }

  it('finishes the deploy with a new worker each time', async () => {
    const uuid = h.nodeUuids[0];
    const machine = h.lab!.machines[0].machine;
    let worker = h.spawnWorker();
    for (const target of ['manage', 'provide']) {
      assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target })).status, 202);
      await finished(h, uuid);
    }
    assert.equal((await h.get(`/v1/nodes/${uuid}`)).body.provision_state, 'available');
    await h.http('PATCH', `/v1/nodes/${uuid}`, {
      instance_info: {
        image_source: images.url('slow/disk.raw'),
        image_os_hash_algo: 'sha256',
        image_os_hash_value: imageHash,
      },
    });

    assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target: 'active' })).status, 202);
    // 1: the ramdisk is booting; the workflow waits for the agent's heartbeat.
    await h.waitFor(
      `/v1/nodes/${uuid}`,
      (n) => n.provision_state === 'wait call-back' && !n.driver_internal_info.agent_url,
    );
    await killWorker(worker);
    worker = h.spawnWorker();

    // 2: the agent is writing the image. (An activity the killed worker had in flight is retried only
    // once its start-to-close timeout, a minute, has passed: hence the generous wait.)
    await h.waitFor(
      `/v1/nodes/${uuid}`,
      (n) => n.deploy_step?.step === 'write_image' && n.provision_state === 'wait call-back',
      150_000,
    );
    await new Promise((r) => setTimeout(r, 1000));
    await killWorker(worker);
    worker = h.spawnWorker();

    const node = await h.waitFor(
      `/v1/nodes/${uuid}`,
      (n) => n.provision_state !== 'deploying' && n.provision_state !== 'wait call-back',
      180_000,
    );
    assert.equal(node.provision_state, 'active', node.last_error);
    assert.equal(await hashFilePrefix(machine.diskPath, imageBytes), imageHash);
    const history = (await h.get(`/v1/nodes/${uuid}/history?limit=1000`)).body.history;
    const starts = history.filter((e: any) => e.event === 'start deploy step').map((e: any) => e.message);
    assert.deepEqual(
      starts,
      ['deploy.write_image', 'deploy.install_bootloader', 'deploy.prepare_instance_boot'],
      'each step ran once',
    );
    assert.equal(
      history.filter((e: any) => e.event === 'boot ramdisk').length,
      2,
      'one ramdisk boot for cleaning, one for the deploy',
    );
    await killWorker(worker);
  });
});
