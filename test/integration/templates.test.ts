import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startHarness, type Harness } from '../support/harness.js';

describe('deploy templates and node traits', () => {
  let h: Harness;
  before(async () => {
    h = await startHarness();
  });
  after(() => h?.close());

  const raid = {
    name: 'CUSTOM_RAID',
    steps: [
      {
        interface: 'raid',
        step: 'apply_configuration',
        args: { raid_config: { logical_disks: [{ size_gb: 'MAX', raid_level: '1' }] } },
        priority: 90,
      },
    ],
  };

  it('creates, reads by name or uuid, patches and deletes a template', async () => {
    const created = await h.http('POST', '/v1/deploy_templates', raid);
    assert.equal(created.status, 201, JSON.stringify(created.body));
    assert.deepEqual(created.body.steps, raid.steps);
    assert.equal((await h.get('/v1/deploy_templates/CUSTOM_RAID')).body.uuid, created.body.uuid);
    assert.equal((await h.get(`/v1/deploy_templates/${created.body.uuid}`)).body.name, 'CUSTOM_RAID');
    const patched = await h.http('PATCH', '/v1/deploy_templates/CUSTOM_RAID', [
      { op: 'replace', path: '/steps/0/priority', value: 95 },
    ]);
    assert.equal(patched.status, 200);
    assert.equal(patched.body.steps[0].priority, 95);
    assert.equal((await h.http('POST', '/v1/deploy_templates', raid)).status, 409);
    assert.deepEqual(
      (await h.get('/v1/deploy_templates')).body.deploy_templates.map((t: any) => t.name),
      ['CUSTOM_RAID'],
    );
    assert.equal((await h.http('DELETE', `/v1/deploy_templates/${created.body.uuid}`)).status, 204);
    assert.equal((await h.get('/v1/deploy_templates/CUSTOM_RAID')).status, 404);
  });

  it('refuses bad templates naming the field', async () => {
    const cases: Array<[unknown, string]> = [
      [{ ...raid, name: 'RAID' }, 'name'],
      [{ ...raid, name: 'custom_raid' }, 'name'],
      [{ ...raid, steps: [] }, 'steps'],
      [{ ...raid, steps: [{ ...raid.steps[0], interface: 'teleport' }] }, 'steps.0.interface'],
      [{ ...raid, steps: [{ ...raid.steps[0], priority: -1 }] }, 'steps.0.priority'],
      [{ ...raid, steps: [raid.steps[0], raid.steps[0]] }, 'steps'],
      [{ ...raid, colour: 'red' }, 'colour'],
      [{ ...raid, steps: [{ interface: 'deploy', step: 'hold', priority: 10 }] }, 'steps.0.step'],
      [
        { ...raid, steps: [{ interface: 'deploy', step: 'wait', args: { seconds: 0 }, priority: 10 }] },
        'steps.0.args.seconds',
      ],
      [
        { ...raid, steps: [{ interface: 'deploy', step: 'wait', args: { seconds: 5, x: 1 }, priority: 10 }] },
        'steps.0.args.x',
      ],
    ];
    for (const [body, field] of cases) {
      const response = await h.http('POST', '/v1/deploy_templates', body);
      assert.equal(response.status, 400, JSON.stringify(body));
      assert.equal(response.body.error.field, field);
    }
    assert.equal((await h.get('/v1/deploy_templates')).body.deploy_templates.length, 0);
  });

  it('sets, adds and removes node traits', async () => {
    const node = (await h.http('POST', '/v1/nodes', { driver: 'fake' })).body;
    assert.equal(
      (await h.http('PUT', `/v1/nodes/${node.uuid}/traits`, { traits: ['CUSTOM_RAID', 'HW_CPU_X86_AVX2'] })).status,
      204,
    );
    assert.equal((await h.http('PUT', `/v1/nodes/${node.uuid}/traits/CUSTOM_GPU`)).status, 204);
    assert.deepEqual((await h.get(`/v1/nodes/${node.uuid}/traits`)).body.traits, [
      'CUSTOM_RAID',
      'HW_CPU_X86_AVX2',
      'CUSTOM_GPU',
    ]);
    assert.equal((await h.http('DELETE', `/v1/nodes/${node.uuid}/traits/CUSTOM_RAID`)).status, 204);
    assert.equal((await h.http('DELETE', `/v1/nodes/${node.uuid}/traits/CUSTOM_RAID`)).status, 404);
    assert.equal((await h.http('PUT', `/v1/nodes/${node.uuid}/traits/not-a-trait`)).status, 400);
    assert.deepEqual((await h.get(`/v1/nodes/${node.uuid}`)).body.traits, ['HW_CPU_X86_AVX2', 'CUSTOM_GPU']);
    assert.equal((await h.http('DELETE', `/v1/nodes/${node.uuid}/traits`)).status, 204);
    assert.deepEqual((await h.get(`/v1/nodes/${node.uuid}/traits`)).body.traits, []);
  });
});
