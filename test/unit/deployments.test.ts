// A deployment's status, from its node and the node's deploy, rebuild and undeploy transitions
// since it began: every story a node can tell about it, including other callers taking over.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { deploymentState, type DeploymentFacts } from '../../src/domain/deployments.js';
import type { ProvisionState } from '../../src/domain/provision.js';

const OURS = 'req-ours';
const ours = (verb: string) => ({ verb, request_id: OURS });
const theirs = (verb: string) => ({ verb, request_id: 'req-theirs' });

function status(
  provision_state: ProvisionState | undefined,
  transitions: DeploymentFacts['transitions'],
  deleteRequested = false,
) {
  const node = provision_state && { provision_state, last_error: 'boom' };
  return deploymentState({ requestId: OURS, deleteRequested, node, transitions });
}

describe('deployment status', () => {
  it('follows its own deploy', () => {
    assert.deepEqual(status('available', []), { status: 'deploying', last_error: null }, 'started, not yet moved');
    assert.equal(status('deploying', [ours('deploy')]).status, 'deploying');
    assert.equal(status('wait call-back', [ours('deploy')]).status, 'deploying');
    assert.equal(status('active', [ours('deploy')]).status, 'active');
    assert.equal(status('quarantined', [ours('deploy')]).status, 'quarantined');
    assert.deepEqual(status('deploy failed', [ours('deploy')]), { status: 'failed', last_error: 'boom' });
    assert.deepEqual(
      status('manageable', [ours('deploy')]),
      { status: 'failed', last_error: null },
      'an owner managed the failed node',
    );
  });

  it('follows its undeploy, whoever asked for it', () => {
    assert.equal(status('active', [ours('deploy')], true).status, 'deleting', 'DELETE started, node not yet moved');
    for (const undeploy of [ours('undeploy'), theirs('undeploy')]) {
      assert.equal(status('deleting', [ours('deploy'), undeploy], true).status, 'deleting');
      assert.equal(status('cleaning', [ours('deploy'), undeploy], true).status, 'deleting');
      assert.equal(status('clean wait', [ours('deploy'), undeploy]).status, 'deleting');
      assert.equal(status('available', [ours('deploy'), undeploy]).status, 'deleted');
      assert.equal(
        status('clean failed', [ours('deploy'), undeploy]).status,
        'deleted',
        'the instance was stopped before cleaning',
      );
      assert.deepEqual(
        status('error', [ours('deploy'), undeploy]),
        { status: 'failed', last_error: 'boom' },
        'tear-down failed',
      );
    }
    assert.equal(
      status('active', [ours('deploy'), theirs('undeploy'), theirs('deploy')]).status,
      'deleted',
      'a later deploy is not ours',
    );
    assert.equal(status(undefined, [ours('deploy'), ours('undeploy')]).status, 'deleted', 'the node record is gone');
  });

  it('is superseded, not shown as the node, once another deploy takes the node', () => {
    assert.equal(status('active', [ours('deploy'), theirs('rebuild')]).status, 'superseded');
    assert.equal(
      status('deploying', [ours('deploy'), theirs('deploy')]).status,
      'superseded',
      'a retry from deploy failed',
    );
    assert.equal(status('active', [theirs('deploy')]).status, 'superseded', 'another deploy got there first');
  });
});
