// Two identical operations in a row on one node's workflow id each do their own work: the agent
// command an earlier run started is never taken for this run's.
import assert from 'node:assert/strict';
import { open } from 'node:fs/promises';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.js';
import { provisioned } from '../support/workflows.js';

const MARK = Buffer.from('a tenant left this behind');
const MARK_OFFSET = 8 * 1024 ** 2;

async function writeMark(diskPath: string): Promise<void> {
  const disk = await open(diskPath, 'r+');
  await disk.write(MARK, 0, MARK.length, MARK_OFFSET);
  await disk.close();
}

async function markIsThere(diskPath: string): Promise<boolean> {
  const disk = await open(diskPath, 'r');
  const read = Buffer.alloc(MARK.length);
  await disk.read(read, 0, MARK.length, MARK_OFFSET);
  await disk.close();
  return read.equals(MARK);
}

describe('fast-track cleans in a row', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness({ labCount: 1, fastTrack: true });
  });
  after(() => h?.close());

  const provision = (uuid: string, body: Record<string, unknown>) => provisioned(h, uuid, body);

  it('erases the disk each time', async () => {
    const uuid = h.nodeUuids[0];
    const { diskPath } = h.lab!.machines[0].machine;
    await provision(uuid, { target: 'manage' });
    assert.equal((await provision(uuid, { target: 'provide' })).provision_state, 'available');
    assert.equal((await provision(uuid, { target: 'manage' })).provision_state, 'manageable');
    for (const round of [1, 2]) {
      await writeMark(diskPath);
      const cleaned = await provision(uuid, {
        target: 'clean',
        clean_steps: [{ interface: 'deploy', step: 'erase_devices' }],
      });
      assert.equal(cleaned.provision_state, 'manageable', cleaned.last_error);
      assert.equal(await markIsThere(diskPath), false, `clean ${round} erased the disk`);
    }
  });
});
