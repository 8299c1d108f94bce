// Every rule of the access policy, written out here as an operator would state it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { POLICY, canSee, isAllowed, type Action, type Caller, type Role } from '../../src/domain/policy.js';

const node = { owner: 'project-a', lessee: 'project-b' };
const callers: Record<string, Caller> = {
  admin: { userId: 'root', projectId: 'ops', role: 'admin' },
  'owner member': { userId: 'alice', projectId: 'project-a', role: 'member' },
  'owner reader': { userId: 'auditor', projectId: 'project-a', role: 'reader' },
  'lessee member': { userId: 'bob', projectId: 'project-b', role: 'member' },
  'lessee reader': { userId: 'viewer', projectId: 'project-b', role: 'reader' },
  stranger: { userId: 'eve', projectId: 'project-z', role: 'member' },
};

// Y = allowed, . = refused; columns in the order of `callers`.
const EXPECTED: Record<Action, string> = {
  'node:create': 'Y . . . . .',
  'node:delete': 'Y . . . . .',
  'node:get': 'Y Y Y Y Y .',
  'node:update': 'Y Y . . . .',
  'node:set_owner': 'Y . . . . .',
  'node:set_lessee': 'Y Y . . . .',
  'node:power': 'Y Y . Y . .',
  'node:provision': 'Y Y . . . .',
  'node:deploy': 'Y Y . Y . .',
  'node:maintenance': 'Y Y . . . .',
  'port:create': 'Y Y . . . .',
  'port:delete': 'Y Y . . . .',
  'node:inventory': 'Y Y Y . . .',
  'deploy_template:manage': 'Y . . . . .',
  'inspection_rule:manage': 'Y . . . . .',
  'token:manage': 'Y . . . . .',
  'allocation:create': 'Y Y . . . .',
  'allocation:get': 'Y Y Y . . .',
  'allocation:change': 'Y Y . . . .',
  'reservation:create': 'Y Y . . . .',
  'reservation:get': 'Y Y Y Y Y .',
  'reservation:update': 'Y Y . . . .',
  'reservation:cancel': 'Y Y . Y . .',
  'warm_pool:get': 'Y Y Y . . .',
  'warm_pool:manage': 'Y Y . . . .',
};

describe('access policy', () => {
  it('has an expectation for every action', () => {
    assert.deepEqual(Object.keys(EXPECTED).sort(), Object.keys(POLICY).sort());
  });

  for (const [action, row] of Object.entries(EXPECTED) as [Action, string][]) {
    const cells = row.split(' ');
    for (const [index, [who, caller]] of Object.entries(callers).entries()) {
      const allowed = cells[index] === 'Y';
      it(`${action} by ${who}: ${allowed ? 'allowed' : 'refused'}`, () => {
        assert.equal(isAllowed(caller, action, node), allowed);
      });
    }
  }

  it('lets a caller see only nodes its project owns or leases', () => {
    assert.equal(canSee(callers.stranger, node), false);
    assert.equal(canSee(callers['lessee reader'], node), true);
    assert.equal(canSee(callers['owner member'], { owner: null, lessee: null }), false);
    assert.equal(canSee(callers.admin, { owner: null, lessee: null }), true);
  });

  it('never treats an unset owner or lessee as a match', () => {
    const roles: Role[] = ['member', 'reader'];
    for (const role of roles) {
      assert.equal(isAllowed({ userId: 'x', projectId: '', role }, 'node:get', { owner: null, lessee: null }), false);
    }
  });
});
