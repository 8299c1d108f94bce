// The deployment API as a lessee uses it: POST /v1/deployments deploys a lab machine, GET shows
// the status and the running steps, DELETE undeploys; the lock and state rules of the provision
// verbs hold, bad input changes nothing, and a deployment another deploy took over says so.
import assert from 'node:assert/strict';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { startHarness, type Harness } from '../support/harness.js';
import { tenantTokens, type Tenant } from '../support/tenants.js';
import { ended } from '../support/workflows.js';

const MiB = 1024 ** 2;
const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGJvYnMta2V5LWZvci10ZXN0cy1vbmx5LW5vdC1yZWFs bob@laptop';
const USER_DATA = '#cloud-config\nruncmd: [echo hello from bigco]\n';

describe('deployments', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;
  let tokens: Record<Tenant, string>;
  // lab-000 carries the trait CUSTOM_GPU; both are acme's, leased to bigco.
  let gpuNode: string;
  let plainNode: string;

  const finished = (uuid: string) => ended(h, uuid);
  const node = async (uuid: string) => (await h.get(`/v1/nodes/${uuid}`)).body;
  const instanceInfo = async (uuid: string) =>
    (await h.pool.query('SELECT instance_info FROM nodes WHERE uuid = $1', [uuid])).rows[0].instance_info;

  /** A deployment of the test image on `nodeName`; the slow path keeps the deploy in write_image for about 2 s. */
  const deployment = (nodeName: string, fields: Record<string, unknown> = {}) => ({
    node: nodeName,
    image_source: images.url('slow/disk.raw'),
    os_hash_algo: 'sha256',
    os_hash_value: imageHash,
    image_disk_format: 'raw',
    ...fields,
  });

  async function provision(uuid: string, target: string): Promise<void> {
    const response = await h.http('PUT', `/v1/nodes/${uuid}/states/provision`, { target });
    assert.equal(response.status, 202, JSON.stringify(response.body));
    await finished(uuid);
  }

  before(async () => {
    h = await startHarness({ labCount: 2, powerDelayMs: 200 });
    const file = path.join(path.dirname(h.logFile), 'disk.raw');
    imageHash = await writeDiskImage(file, 16 * MiB);
    images = await startImageServer({ 'disk.raw': file });
    tokens = await tenantTokens(h);
    [gpuNode, plainNode] = h.nodeUuids;
    for (const uuid of h.nodeUuids)
      assert.equal((await h.http('PATCH', `/v1/nodes/${uuid}`, { owner: 'acme', lessee: 'bigco' })).status, 200);
    assert.equal((await h.http('PUT', `/v1/nodes/${gpuNode}/traits/CUSTOM_GPU`)).status, 204);
    await Promise.all(
      h.nodeUuids.map(async (uuid) => {
        await provision(uuid, 'manage');
        await provision(uuid, 'provide');
        assert.equal((await node(uuid)).provision_state, 'available', (await node(uuid)).last_error);
      }),
    );
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  it('lets a lessee deploy and undeploy, recording who did it', async () => {
    const created = await h.http(
      'POST',
      '/v1/deployments',
      deployment('lab-000', { user_data: USER_DATA, ssh_keys: [SSH_KEY], traits: ['CUSTOM_GPU'] }),
      tokens.bob,
    );
    assert.equal(created.status, 201, JSON.stringify(created.body));
    const self = `/v1/deployments/${created.body.uuid}`;
    assert.equal(created.headers.get('location'), self);
    const { node_uuid, node_name, created_by, project, traits, status } = created.body;
    assert.deepEqual(
      { node_uuid, node_name, created_by, project, traits, status },
      {
        node_uuid: gpuNode,
        node_name: 'lab-000',
        created_by: 'bob',
        project: 'bigco',
        traits: ['CUSTOM_GPU'],
        status: 'deploying',
      },
    );

    // While the image downloads, the plan shows the step that runs and the ones to come.
    const progress = await h.waitFor(self, (d: any) =>
      d.steps?.some((s: any) => s.name === 'deploy.write_image' && s.status === 'running'),
    );
    assert.equal(progress.status, 'deploying');
    const names = progress.steps.map((s: any) => s.name);
    assert.ok(names.indexOf('deploy.write_image') < names.indexOf('deploy.write_configdrive'), names.join(', '));

    // Seen by the owner's reader, refused to change; unknown to a stranger.
    assert.equal((await h.http('GET', self, undefined, tokens.auditor)).status, 200);
    const readerPost = await h.http('POST', '/v1/deployments', deployment('lab-000'), tokens.auditor);
    assert.equal(readerPost.status, 403, JSON.stringify(readerPost.body));
    assert.equal((await h.http('GET', self, undefined, tokens.eve)).status, 404);
    assert.equal((await h.http('DELETE', self, undefined, tokens.eve)).status, 404);
    assert.equal((await h.http('GET', '/v1/nodes/lab-000', undefined, tokens.eve)).status, 404);
    const strangerPost = await h.http('POST', '/v1/deployments', deployment('lab-000'), tokens.eve);
    assert.deepEqual([strangerPost.status, strangerPost.body.error.field], [404, 'node']);
    assert.deepEqual((await h.http('GET', '/v1/deployments', undefined, tokens.eve)).body.deployments, []);
    const listed = await h.http('GET', '/v1/deployments?node=lab-000', undefined, tokens.alice);
    assert.deepEqual(
      listed.body.deployments.map((d: any) => d.uuid),
      [created.body.uuid],
    );

    await finished(gpuNode);
    const active = await h.http('GET', self, undefined, tokens.bob);
    assert.deepEqual([active.body.status, active.body.steps, active.body.last_error], ['active', null, null]);
    const deployed = await node(gpuNode);
    assert.equal(deployed.provision_state, 'active', deployed.last_error);
    assert.equal(deployed.deployed_by, 'bob');
    assert.equal(deployed.instance_info.configdrive, '******');
    assert.deepEqual(await instanceInfo(gpuNode), {
      image_source: images.url('slow/disk.raw'),
      image_os_hash_algo: 'sha256',
      image_os_hash_value: imageHash,
      image_disk_format: 'raw',
      traits: ['CUSTOM_GPU'],
      configdrive: { user_data: USER_DATA, meta_data: { public_keys: { 'key-0': SSH_KEY } } },
    });
    const patch = await h.http('PATCH', `/v1/nodes/${gpuNode}`, { extra: { x: 1 } }, tokens.bob);
    assert.equal(patch.status, 403, 'lessees run machines, owners change them');

    const deleted = await h.http('DELETE', self, undefined, tokens.bob);
    assert.equal(deleted.status, 202, JSON.stringify(deleted.body));
    assert.equal(deleted.headers.get('location'), self);
    assert.equal((await h.http('GET', self, undefined, tokens.bob)).body.status, 'deleting');
    await finished(gpuNode);
    const gone = await h.http('GET', self, undefined, tokens.bob);
    assert.equal(gone.body.status, 'deleted');
    assert.ok(gone.body.deleted_at);
    const undeployed = await node(gpuNode);
    assert.deepEqual([undeployed.provision_state, undeployed.deployed_by], ['available', null], undeployed.last_error);
    const again = await h.http('DELETE', self, undefined, tokens.bob);
    assert.deepEqual([again.status, again.body.error.code], [409, 'deployment_ended']);

    const events = (await h.http('GET', `/v1/events?node=${gpuNode}&kind=provision&limit=1000`, undefined, tokens.bob))
      .body.events;
    const byVerb = (verb: string) =>
      events.filter((e: any) => e.event === verb).map((e: any) => [e.user, e.project, e.request_id]);
    assert.deepEqual(byVerb('deploy'), [['bob', 'bigco', created.headers.get('x-openstack-request-id')]]);
    assert.deepEqual(byVerb('undeploy'), [['bob', 'bigco', deleted.headers.get('x-openstack-request-id')]]);
  });

  it('refuses bad input naming the field, and changes nothing', async () => {
    const before = { node: await node(plainNode), instanceInfo: await instanceInfo(plainNode) };
    const { image_source: _, ...withoutImage } = deployment('lab-001');
    const cases: Array<[Record<string, unknown>, number, string]> = [
      [withoutImage, 400, 'image_source'],
      [deployment('lab-001', { image_source: 'ftp://127.0.0.1/disk.raw' }), 400, 'image_source'],
      [deployment('lab-001', { os_hash_value: 'not-hex' }), 400, 'os_hash_value'],
      [deployment('lab-001', { os_hash_value: '0'.repeat(63) }), 400, 'os_hash_value'],
      [deployment('lab-001', { os_hash_algo: 'md5' }), 400, 'os_hash_algo'],
      [deployment('lab-001', { flavor: 'large' }), 400, 'flavor'],
      [deployment('lab-001', { traits: ['CUSTOM_GPU'] }), 400, 'traits'],
      [deployment('lab-001', { ssh_keys: ['not a key'] }), 400, 'ssh_keys.0'],
      [deployment('lab-001', { user_data: USER_DATA, configdrive: { user_data: USER_DATA } }), 400, 'user_data'],
      [deployment('lab-001', { node: undefined }), 400, 'node'],
      [deployment('lab-001', { node: undefined, allocation: 'any-gpu' }), 404, 'allocation'],
      [deployment('lab-001', { allocation: 'any-gpu' }), 400, 'allocation'],
      [deployment('no-such-node'), 404, 'node'],
    ];
    for (const [body, status, field] of cases) {
      const response = await h.http('POST', '/v1/deployments', body, tokens.bob);
      assert.deepEqual([response.status, response.body.error.field], [status, field], JSON.stringify(response.body));
    }
    assert.equal(
      (await h.http('GET', '/v1/deployments/not-a-uuid', undefined, tokens.bob)).body.error.field,
      'deployment',
    );
    assert.deepEqual(await node(plainNode), before.node);
    assert.deepEqual(await instanceInfo(plainNode), before.instanceInfo);
    assert.deepEqual((await h.http('GET', '/v1/deployments?node=lab-001')).body.deployments, []);
  });

  it('answers 409 while the node is locked or deployed, and shows a deployment taken over as superseded', async () => {
    const first = await h.http('POST', '/v1/deployments', deployment('lab-001'), tokens.bob);
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const self = `/v1/deployments/${first.body.uuid}`;
    const other = deployment('lab-001', { image_source: images.url('disk.raw') });

    const whileDeploying = await h.http('POST', '/v1/deployments', other, tokens.alice);
    assert.equal(whileDeploying.status, 409, JSON.stringify(whileDeploying.body));
    const undeployTooSoon = await h.http('DELETE', self, undefined, tokens.bob);
    assert.deepEqual([undeployTooSoon.status, undeployTooSoon.body.error.code], [409, 'illegal_state']);
    await finished(plainNode);
    assert.equal((await h.http('GET', self, undefined, tokens.bob)).body.status, 'active');

    const onActive = await h.http('POST', '/v1/deployments', other, tokens.alice);
    assert.deepEqual([onActive.status, onActive.body.error.code], [409, 'illegal_state']);
    assert.equal(
      (await instanceInfo(plainNode)).image_source,
      images.url('slow/disk.raw'),
      'the refused requests changed nothing',
    );
    assert.deepEqual(
      (await h.http('GET', '/v1/deployments?node=lab-001')).body.deployments.map((d: any) => d.uuid),
      [first.body.uuid],
    );
    assert.equal((await h.get(self)).body.deleted_at, null);

    // The owner's admin rebuilds the machine behind the lessee's back: the deployment no longer describes it.
    await provision(plainNode, 'rebuild');
    assert.equal((await node(plainNode)).deployed_by, 'admin');
    assert.equal((await h.http('GET', self, undefined, tokens.bob)).body.status, 'superseded');
    const deleteSuperseded = await h.http('DELETE', self, undefined, tokens.bob);
    assert.deepEqual([deleteSuperseded.status, deleteSuperseded.body.error.code], [409, 'deployment_ended']);
    assert.equal((await node(plainNode)).provision_state, 'active');
  });
});
