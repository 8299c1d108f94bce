// The light lab: many simulated machines in one process, their agents running the agent code
// inside it (not one process each) yet speaking the same HTTP protocol to the same API. A few
// nodes go through provide and deploy at once, end to end through the API.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { hashFilePrefix, startImageServerProcess, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { startHarness, type Harness } from '../support/harness.js';
import { ended } from '../support/workflows.js';

const MiB = 1024 ** 2;

describe('light lab', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;
  const imageBytes = 16 * MiB;

  before(async () => {
    h = await startHarness({ labCount: 3, lightLab: true });
    const file = path.join(path.dirname(h.logFile), 'disk.raw');
    imageHash = await writeDiskImage(file, imageBytes);
    // In its own process, as the light-lab benchmark and `up --lab --light` run it.
    images = await startImageServerProcess({ 'disk.raw': file });
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  const provision = async (uuid: string, target: string) => {
    const response = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    await ended(h, uuid);
    return (await h.get(`/v1/nodes/${uuid}`)).body;
  };

  it('provides and deploys three nodes at once; each disk holds the image', async () => {
    await Promise.all(
      h.nodeUuids.map(async (uuid) => {
        await provision(uuid, 'manage');
        const provided = await provision(uuid, 'provide');
        assert.equal(provided.provision_state, 'available', provided.last_error);
        const patched = await h.http('PATCH', `/v1/nodes/${uuid}`, {
          instance_info: {
            image_source: images.url('disk.raw'),
            image_os_hash_algo: 'sha256',
            image_os_hash_value: imageHash,
            image_disk_format: 'raw',
          },
        });
        assert.equal(patched.status, 200);
        const deployed = await provision(uuid, 'active');
        assert.equal(deployed.provision_state, 'active', deployed.last_error);
        assert.deepEqual(
          [deployed.driver_internal_info.ramdisk_boots, deployed.driver_internal_info.instance_boots],
          [2, 1],
        );
      }),
    );
    for (const { machine } of h.lab!.machines) {
      assert.equal(
        await hashFilePrefix(machine.diskPath, imageBytes),
        imageHash,
        `${machine.id}'s disk holds the image`,
      );
      assert.deepEqual([machine.powerState, machine.bootOverride.target], ['On', 'Hdd']);
    }

    // Every agent looked up and heartbeated over HTTP from this very process, naming its machine.
    const agentLines = h
      .logs()
      .split('\n')
      .filter((line) => line.includes('"name":"agent"'))
      .map((line) => JSON.parse(line));
    const lookedUp = agentLines.filter((l) => l.msg === 'looked up');
    assert.deepEqual(new Set(lookedUp.map((l) => l.machine)), new Set(h.lab!.machines.map((m) => m.machine.id)));
    assert.ok(
      agentLines.every((l) => l.pid === process.pid),
      'no agent ran as a process of its own',
    );
    const heartbeats = (await h.get(`/v1/nodes/${h.nodeUuids[0]}/history?limit=1000`)).body.history;
    assert.ok(heartbeats.some((e: any) => e.event === 'boot ramdisk'));
  });
});
