// The warm pool's plan: which nodes to boot and which to power down, as an operator would state it.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { planWarmPool, type PoolMember } from '../../src/domain/warm-pools.js';

const member = (uuid: string, flags: Partial<PoolMember> = {}): PoolMember => ({
  uuid,
  warm: false,
  busy: false,
  usable: true,
  ...flags,
});
const count = (n: number) => ({ target_count: n, target_share: null });

describe('warm pool plan', () => {
  it('boots idle usable nodes up to the target, in enrolment order', () => {
    const plan = planWarmPool(count(2), [member('a', { warm: true }), member('b'), member('c')]);
    assert.deepEqual([plan.target, plan.warm, plan.boot, plan.powerOff], [2, 1, ['b'], []]);
  });

  it('counts boots under way, and never picks busy nodes or ones left for the operator', () => {
    const members = [
      member('booting', { busy: true }),
      member('maintenance', { usable: false }),
      member('failed-boot', { usable: false }),
      member('idle'),
    ];
    assert.deepEqual(planWarmPool(count(2), members).boot, ['idle']);
    assert.deepEqual(planWarmPool(count(5), members).boot, ['idle'], 'no more than there are');
  });

  it('powers down the latest enrolled warm nodes beyond the target, never a busy one', () => {
    const members = [member('a', { warm: true }), member('b', { warm: true }), member('c', { warm: true, busy: true })];
    assert.deepEqual(planWarmPool(count(1), members).powerOff, ['b']);
    assert.deepEqual(planWarmPool(count(0), members).powerOff, ['a', 'b']);
  });

  it('takes a share of the usable nodes, rounded up', () => {
    const members = ['a', 'b', 'c', 'd', 'e'].map((uuid) => member(uuid));
    assert.equal(planWarmPool({ target_count: null, target_share: 0.5 }, members).target, 3);
    assert.equal(planWarmPool({ target_count: null, target_share: 0.2 }, members).target, 1);
    assert.equal(planWarmPool({ target_count: null, target_share: 0 }, members).target, 0);
  });
});
