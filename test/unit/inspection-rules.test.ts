// Inspection rules and inspected properties: every condition, every action, references to what
// was found, and the validation an admin meets.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  applyInspectionRules,
  inspectionRuleFields,
  type InspectionRule,
  type RuleNode,
} from '../../src/domain/inspection-rules.js';
import { hardwareInventorySchema, inspectedProperties, type HardwareInventory } from '../../src/domain/inventory.js';

const GiB = 1024 ** 3;

const inventory: HardwareInventory = {
  cpu: { count: 32, model_name: 'AMD EPYC 7313', architecture: 'x86_64', flags: ['svm', 'avx2'] },
  memory: { total: 256 * GiB, physical_mb: 262144 },
  disks: [
    { name: '/dev/sda', size: 480 * GiB, model: 'SSD', vendor: 'ATA', serial: 'S1', wwn: null, rotational: false },
    { name: '/dev/sdb', size: 4000 * GiB, model: 'HDD', vendor: 'ATA', serial: 'H1', wwn: null, rotational: true },
  ],
  interfaces: [{ name: 'eno1', mac_address: '3c:ec:ef:00:00:01', has_carrier: true }],
  boot: { current_boot_mode: 'uefi' },
  system_vendor: { manufacturer: 'Dell Inc.', product_name: 'PowerEdge R6525', serial_number: 'ABC' },
};
const node: RuleNode = {
  uuid: 'n',
  name: 'rack1-u07',
  driver: 'redfish',
  resource_class: null,
  properties: { cpus: 32 },
  extra: {},
  traits: ['CUSTOM_OLD'],
};

let next = 0;
const rule = (fields: unknown): InspectionRule => ({ ...inspectionRuleFields.parse(fields), uuid: `r${++next}` });
const apply = (...rules: InspectionRule[]) => applyInspectionRules(rules, node, { inventory, plugin_data: {} });
const holds = (condition: unknown) =>
  apply(rule({ conditions: [condition], actions: [{ op: 'add-trait', args: { name: 'CUSTOM_YES' } }] })).matched
    .length === 1;

describe('inspection rules', () => {
  it('checks each condition against what was found, and ! inverts', () => {
    assert.ok(holds({ op: 'eq', args: ['{inventory[cpu][count]}', 32] }));
    assert.ok(holds({ op: 'gt', args: { values: ['{inventory[memory][physical_mb]}', 131072] } }));
    assert.ok(holds({ op: 'lt', args: ['{inventory[disks][0][size]}', '{inventory[disks][1][size]}'] }));
    assert.ok(holds({ op: 'contains', args: { value: '{inventory[system_vendor][manufacturer]}', regex: 'Dell' } }));
    assert.ok(!holds({ op: 'matches', args: { value: '{inventory[system_vendor][manufacturer]}', regex: 'Dell' } }));
    assert.ok(holds({ op: 'matches', args: { value: '{inventory[cpu][model_name]}', regex: 'AMD EPYC \\d+' } }));
    assert.ok(
      holds({ op: 'one-of', args: { value: '{inventory[cpu][architecture]}', values: ['x86_64', 'aarch64'] } }),
    );
    assert.ok(holds({ op: 'is-true', args: { value: '{inventory[interfaces][0][has_carrier]}' } }));
    assert.ok(holds({ op: 'is-false', args: { value: '{inventory[disks][0][rotational]}' } }));
    assert.ok(holds({ op: 'is-none', args: { value: '{inventory[disks][0][wwn]}' } }));
    assert.ok(holds({ op: 'is-empty', args: { value: '{node.extra}' } }));
    assert.ok(holds({ op: '!is-empty', args: { value: '{inventory[cpu][flags]}' } }));
    assert.ok(holds({ op: 'is-none', args: { value: '{inventory[no][such][thing]}' } }), 'a missing path is none');
  });

  it('runs the actions of matching rules in the order given, each seeing the one before', () => {
    const outcome = apply(
      rule({
        conditions: [{ op: 'contains', args: { value: '{inventory[cpu][flags]}', regex: 'svm' } }],
        actions: [
          { op: 'set-attribute', args: { path: '/resource_class', value: 'amd-{inventory[cpu][count]}' } },
          { op: 'set-attribute', args: { path: '/properties/capabilities/vendor', value: 'dell' } },
          { op: 'remove-trait', args: { name: 'CUSTOM_OLD' } },
        ],
      }),
      rule({
        conditions: [{ op: 'eq', args: ['{node.resource_class}', 'amd-32'] }],
        actions: [
          { op: 'add-trait', args: { name: 'CUSTOM_AMD' } },
          { op: 'set-attribute', args: { path: '/extra/disks', value: '{inventory[disks]}' } },
        ],
      }),
      rule({ conditions: [{ op: 'eq', args: [1, 2] }], actions: [{ op: 'fail', args: { message: 'never' } }] }),
    );
    assert.equal(outcome.failure, undefined);
    assert.equal(outcome.node.resource_class, 'amd-32');
    assert.deepEqual(outcome.node.properties, { cpus: 32, capabilities: { vendor: 'dell' } });
    assert.deepEqual(outcome.node.traits, ['CUSTOM_AMD']);
    assert.deepEqual(outcome.node.extra.disks, inventory.disks, 'a lone reference keeps its type');
    assert.deepEqual(node.traits, ['CUSTOM_OLD'], 'the node given is not changed');
  });

  it('stops at a fail action, with nothing of the rules applied', () => {
    const outcome = apply(
      rule({ actions: [{ op: 'set-attribute', args: { path: '/resource_class', value: 'x' } }] }),
      rule({ actions: [{ op: 'fail', args: { message: '{node.name} has {inventory[cpu][count]} CPUs' } }] }),
    );
    assert.match(outcome.failure!, /rack1-u07 has 32 CPUs$/);
    assert.equal(outcome.node, node);
  });

  it('refuses rules that write elsewhere than resource_class, properties and extra, or do not parse', () => {
    const refused = (fields: unknown) => {
      const result = inspectionRuleFields.safeParse(fields);
      return result.success ? undefined : result.error.issues[0].path.join('.');
    };
    const fail = [{ op: 'fail', args: { message: 'm' } }];
    assert.equal(
      refused({ actions: [{ op: 'set-attribute', args: { path: '/driver_info/x', value: 1 } }] }),
      'actions.0.args.path',
    );
    assert.equal(
      refused({ actions: [{ op: 'set-attribute', args: { path: '/provision_state', value: 1 } }] }),
      'actions.0.args.path',
    );
    assert.equal(refused({ actions: [{ op: 'add-trait', args: { name: 'lower' } }] }), 'actions.0.args.name');
    assert.equal(refused({ actions: [{ op: 'explode', args: {} }] }), 'actions.0.op');
    assert.equal(refused({ conditions: [{ op: 'eq', args: [1] }], actions: fail }), 'conditions.0.args');
    assert.equal(
      refused({ conditions: [{ op: 'matches', args: { value: 1, regex: '[' } }], actions: fail }),
      'conditions.0.args.regex',
    );
    assert.equal(refused({ conditions: [{ op: 'eq', args: [1, 1], loop: [] }], actions: fail }), 'conditions.0');
    assert.equal(refused({ actions: [] }), 'actions');
    assert.equal(refused({ priority: 10000, actions: fail }), 'priority');
  });
});

describe('inspected properties', () => {
  it('takes CPUs, memory, architecture, boot mode and the root disk less one GiB, as Ironic', () => {
    assert.deepEqual(inspectedProperties(inventory, undefined), {
      cpus: 32,
      memory_mb: 262144,
      cpu_arch: 'x86_64',
      boot_mode: 'uefi',
      local_gb: 479,
    });
    assert.equal(inspectedProperties(inventory, { rotational: true }).local_gb, 3999, 'the hinted disk');
    assert.throws(() => inspectedProperties(inventory, { serial: 'nope' }), /no disk matches the root device hints/);
    const diskless = { ...inventory, disks: [] };
    assert.equal(inspectedProperties(diskless, undefined).local_gb, undefined, 'no disk: no local_gb');
  });
});

describe("an agent's inventory", () => {
  it('is checked like outside input: MACs are MACs, text is short and has no NUL', () => {
    const reported = (change: (copy: any) => void) => {
      const copy = structuredClone(inventory) as any;
      change(copy);
      const result = hardwareInventorySchema.safeParse(copy);
      return result.success ? result.data : result.error.issues[0].path.join('.');
    };
    const upper = reported((c) => (c.interfaces[0].mac_address = '3C:EC:EF:00:00:01'));
    assert.equal(typeof upper === 'object' && upper.interfaces[0].mac_address, '3c:ec:ef:00:00:01');
    assert.equal(
      reported((c) => (c.interfaces[0].mac_address = 'not-a-mac')),
      'interfaces.0.mac_address',
    );
    assert.equal(
      reported((c) => (c.disks[0].serial = 'a\u0000b')),
      'disks.0.serial',
    );
    assert.equal(
      reported((c) => (c.disks[0].size = -1)),
      'disks.0.size',
    );
    assert.equal(
      reported((c) => (c.interfaces = Array(65).fill(c.interfaces[0]))),
      'interfaces',
    );
  });
});
