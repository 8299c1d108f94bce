// Power sync's rules: the pace of a run, which BMC endpoint a node's calls count against, when a
// silent BMC becomes a fault.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  addTallies,
  afterFailure,
  bmcHostKey,
  DEFAULT_POWER_SYNC_SETTINGS,
  EMPTY_TALLY,
  periodReachable,
  syncCallsPerSecond,
} from '../../src/domain/power-sync.js';

const settings = DEFAULT_POWER_SYNC_SETTINGS;

describe('power sync rules', () => {
  it('spreads a run over most of the period, never above the global limit', () => {
    assert.equal(syncCallsPerSecond(0, settings), 1);
    assert.equal(syncCallsPerSecond(10, settings), 1);
    // 10,000 nodes in a 60 s period: spread over 36 s.
    assert.equal(syncCallsPerSecond(10_000, settings), 278);
    assert.equal(syncCallsPerSecond(1_000_000, settings), settings.maxCallsPerSecond);
    assert.equal(periodReachable(30_000, settings), true);
    assert.equal(periodReachable(30_001, settings), false);
  });

  it('counts nodes behind one BMC endpoint together, and each node without a network BMC alone', () => {
    const uuid = '00000000-0000-4000-8000-000000000001';
    assert.equal(bmcHostKey(uuid, { redfish_address: 'https://10.0.0.5' }), 'https://10.0.0.5');
    assert.equal(bmcHostKey(uuid, { redfish_address: '10.0.0.5:8443' }), 'https://10.0.0.5:8443');
    assert.equal(
      bmcHostKey(uuid, { redfish_address: 'http://127.0.0.1:8000', redfish_system_id: '/redfish/v1/Systems/a' }),
      bmcHostKey('another', { redfish_address: 'http://127.0.0.1:8000/', redfish_system_id: '/redfish/v1/Systems/b' }),
    );
    assert.equal(bmcHostKey(uuid, { ipmi_address: '10.0.0.6' }), 'ipmi://10.0.0.6:623');
    assert.equal(bmcHostKey(uuid, { ipmi_address: '10.0.0.6', ipmi_port: 6230 }), 'ipmi://10.0.0.6:6230');
    assert.equal(bmcHostKey(uuid, {}), `node:${uuid}`);
  });

  it('makes a fault of the Nth failed check in a row', () => {
    assert.deepEqual(afterFailure(0, settings), { failures: 1, fault: false });
    assert.deepEqual(afterFailure(1, settings), { failures: 2, fault: false });
    assert.deepEqual(afterFailure(2, settings), { failures: 3, fault: true });
    assert.deepEqual(afterFailure(7, settings), { failures: 8, fault: true });
  });

  it('adds tallies of batches', () => {
    const one = { ...EMPTY_TALLY, checked: 2, changed: 1, unchanged: 1 };
    assert.deepEqual(addTallies(one, { ...EMPTY_TALLY, checked: 1, failed: 1, locked: 3 }), {
      ...EMPTY_TALLY,
      checked: 3,
      changed: 1,
      unchanged: 1,
      failed: 1,
      locked: 3,
    });
  });
});
