// A reservation on the lab (real API, worker, Temporal dev server, simulated machines): with a
// deploy spec its nodes are deployed for the lessee at the start, the lessee finds its allocation
// by the reservation's UUID, and after the end the nodes are undeployed, cleaned and available.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { startHarness, type Harness } from '../support/harness.js';
import { finished } from '../support/workflows.js';

const MiB = 1024 ** 2;

describe('reservation on the lab', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;
  const tokens: Record<'alice' | 'bob', string> = { alice: '', bob: '' };

  before(async () => {
    h = await startHarness({ labCount: 2, powerDelayMs: 100 });
    const file = path.join(path.dirname(h.logFile), 'disk.raw');
    imageHash = await writeDiskImage(file, 16 * MiB);
    images = await startImageServer({ 'disk.raw': file });
    for (const [user, project] of [
      ['alice', 'acme'],
      ['bob', 'bigco'],
    ] as const) {
      tokens[user] = (
        await h.http('POST', '/v1/auth/tokens', { project_id: project, user_id: user, role: 'member' })
      ).body.token;
    }
    await Promise.all(
      h.nodeUuids.map(async (uuid) => {
        assert.equal(
          (await h.http('PATCH', `/v1/nodes/${uuid}`, { owner: 'acme', resource_class: 'lab' })).status,
          200,
        );
        for (const target of ['manage', 'provide']) {
          assert.equal((await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target })).status, 202);
          await finished(h, uuid);
        }
      }),
    );
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  it('deploys the nodes for the lessee at the start, then cleans them and makes them available after the end', async () => {
    const window = {
      start_at: new Date(Date.now() + 2000).toISOString(),
      end_at: new Date(Date.now() + 120_000).toISOString(),
    };
    const deploy = {
      image_source: images.url('disk.raw'),
      os_hash_algo: 'sha256',
      os_hash_value: imageHash,
      user_data: '#cloud-config\n',
    };
    const created = await h.http(
      'POST',
      '/v1/reservations',
      { resource_class: 'lab', count: 2, lessee: 'bigco', ...window, deploy },
      tokens.alice,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.equal(created.body.deploy.configdrive, '******', 'the deploy spec is shown with its config drive masked');
    const self = `/v1/reservations/${created.body.uuid}`;

    const deployed = (node: any) => node.provision_state === 'active' && node.lessee === 'bigco';
    await h.waitFor('/v1/nodes', (body: any) => body.nodes.every(deployed), 240_000);
    const during = await h.http('GET', self, undefined, tokens.bob);
    assert.deepEqual([during.body.status, during.body.shortfall, during.body.allocations.length], ['active', 0, 2]);
    // As in the seed's Blazar flow: the lessee finds its allocation under the reservation's UUID.
    const allocation = await h.http('GET', `/v1/allocations/${created.body.uuid}`, undefined, tokens.bob);
    assert.deepEqual([allocation.status, allocation.body.state, allocation.body.owner], [200, 'active', 'bigco']);
    assert.ok(h.nodeUuids.includes(allocation.body.node_uuid));
    const bobsNodes = (await h.http('GET', '/v1/nodes', undefined, tokens.bob)).body.nodes
      .map((n: any) => n.uuid)
      .sort();
    assert.deepEqual(bobsNodes, [...h.nodeUuids].sort());

    const ended = await h.waitFor(self, (r: any) => r.status === 'ended', 300_000);
    assert.deepEqual(ended.allocations, []);
    for (const uuid of h.nodeUuids) {
      const node = (await h.get(`/v1/nodes/${uuid}`)).body;
      assert.deepEqual(
        [node.provision_state, node.lessee, node.allocation_uuid, node.instance_uuid, node.last_error],
        ['available', null, null, null, null],
      );
    }
    assert.deepEqual(
      (await h.http('GET', '/v1/nodes', undefined, tokens.bob)).body.nodes,
      [],
      'the lessee no longer sees the nodes',
    );

    // Everything it did is in the event log under its UUID: the deploys and undeploys included.
    const story = (await h.get(`${self}/events?limit=1000`)).body.events.map((e: any) => `${e.kind} ${e.event}`);
    for (const step of [
      'reservation create',
      'reservation active',
      'reservation claim',
      'provision deploy',
      'provision undeploy',
      'reservation release',
      'reservation ended',
    ]) {
      assert.ok(story.includes(step), `${step} in ${story.join(', ')}`);
    }
  });
});
