// Inspecting lab machines: out of band from the lab's Redfish BMC, in band from the agent (and a
// fast-track agent reused), the inventory and the properties and ports it yields, MAC conflicts,
// inspection rules, and root device hints that match no disk.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { after, before, describe, it } from 'node:test';
import { startImageServer, writeDiskImage, type ImageServer } from '../../src/sim/images.js';
import { startHarness, type Harness } from '../support/harness.js';
import { assertNoSecret, historyText } from '../support/secrets.js';
import { tenantTokens } from '../support/tenants.js';
import { provisioned } from '../support/workflows.js';

const GiB = 1024 ** 3;

describe('inspection', () => {
  let h: Harness;
  let images: ImageServer;
  let imageHash: string;

  before(async () => {
    h = await startHarness({ labCount: 4, fastTrack: true });
    const image = path.join(path.dirname(h.logFile), 'disk.raw');
    imageHash = await writeDiskImage(image, 16 * 1024 ** 2);
    images = await startImageServer({ 'disk.raw': image });
    for (const uuid of h.nodeUuids) await provision(uuid, { target: 'manage' }, 'manageable');
  });
  after(async () => {
    await images?.close();
    await h?.close();
  });

  async function provision(uuid: string, body: Record<string, unknown>, expected: string) {
    const after = await provisioned(h, uuid, body);
    assert.equal(after.provision_state, expected, after.last_error);
    return after;
  }
  const patch = (uuid: string, body: unknown) => h.http('PATCH', `/v1/nodes/${uuid}`, body);
  const portsOf = async (uuid: string) =>
    ((await h.get(`/v1/ports?node=${uuid}`)).body.ports as { address: string }[]).map((p) => p.address).sort();
  const transitions = async (uuid: string) =>
    (await h.get(`/v1/nodes/${uuid}/history?kind=provision`)).body.history.map(
      (e: any) => `${e.from_state} → ${e.to_state}`,
    );

  it('inspects out of band from the BMC alone when it tells everything: no agent boots', async () => {
    const uuid = h.nodeUuids[0];
    const { machine } = h.lab!.machines[0];
    // What enrollment guessed is replaced by what the BMC says.
    assert.equal((await patch(uuid, { properties: { cpus: 1, memory_mb: 1 } })).status, 200);
    const inspected = await provision(uuid, { target: 'inspect' }, 'manageable');
    assert.equal(inspected.properties.cpus, machine.cpus.count);
    assert.equal(inspected.properties.memory_mb, machine.memoryGiB * 1024);
    assert.equal(inspected.properties.local_gb, machine.diskSizeBytes / GiB - 1, 'root disk GiB less one, as Ironic');
    assert.equal(inspected.properties.boot_mode, 'uefi');
    assert.equal(inspected.properties.cpu_arch, 'x86_64');
    assert.equal(inspected.driver_internal_info.ramdisk_boots, undefined, 'no ramdisk was booted');
    assert.deepEqual(await transitions(uuid), [
      'enroll → verifying',
      'verifying → manageable',
      'manageable → inspecting',
      'inspecting → manageable',
    ]);

    const { status, body } = await h.get(`/v1/nodes/${uuid}/inventory`);
    assert.equal(status, 200);
    assert.deepEqual(
      body.inventory.interfaces.map((nic: any) => nic.mac_address),
      machine.macs,
    );
    assert.deepEqual(
      body.inventory.disks.map((d: any) => [d.size, d.serial]),
      [[machine.diskSizeBytes, machine.diskSerial]],
    );
    assert.equal(body.plugin_data.inspected_by, 'bmc');
    assert.equal(body.plugin_data.bios_settings.ProcTurboMode, 'Enabled', 'the BIOS read out of band');
    assert.deepEqual(await portsOf(uuid), [...machine.macs].sort());
  });

  it('inspects in band when asked, then reuses the live agent (fast-track) the next time', async () => {
    const uuid = h.nodeUuids[1];
    assert.equal((await patch(uuid, { inspect_interface: 'agent' })).status, 200);
    const first = await provision(uuid, { target: 'inspect' }, 'manageable');
    assert.deepEqual((await transitions(uuid)).slice(2), [
      'manageable → inspecting',
      'inspecting → inspect wait',
      'inspect wait → inspecting',
      'inspecting → manageable',
    ]);
    assert.equal(first.driver_internal_info.ramdisk_boots, 1);
    assert.equal(first.properties.cpu_arch, 'x86_64');
    assert.equal(first.power_state, 'power on', 'fast-track keeps the agent up');

    const { body } = await h.get(`/v1/nodes/${uuid}/inventory`);
    assert.equal(body.plugin_data.inspected_by, 'agent');
    assert.ok(body.inventory.cpu.flags.includes('vmx'), 'CPU flags');
    assert.ok(
      body.inventory.interfaces.every((nic: any) => nic.has_carrier === true),
      'NIC links',
    );
    assert.deepEqual(
      body.inventory.disks.map((d: any) => [d.name, d.size, d.rotational]),
      [['/dev/vda', h.lab!.machines[1].machine.diskSizeBytes, false]],
    );
    assert.equal(body.inventory.system_vendor.manufacturer, 'Tempered');

    const second = await provision(uuid, { target: 'inspect' }, 'manageable');
    assert.equal(second.driver_internal_info.ramdisk_boots, 1, 'the live agent answered: no second boot');
    assert.ok(!(await transitions(uuid)).slice(6).includes('inspecting → inspect wait'));
    const history = await h.client.workflow.getHandle(`node/${uuid}`).fetchHistory();
    assertNoSecret('the inspection history', historyText(history), [h.credentials.password, h.config.agentTokenKey!]);
  });

  it('refuses a MAC another node has, with an event, and creates the others', async () => {
    const [uuid, other] = [h.nodeUuids[2], h.nodeUuids[3]];
    const { macs } = h.lab!.machines[2];
    const taken = (await h.get(`/v1/ports?address=${macs[1]}`)).body.ports[0];
    assert.equal((await h.http('DELETE', `/v1/ports/${taken.uuid}`)).status, 204);
    assert.equal((await h.http('POST', '/v1/ports', { address: macs[1], node_uuid: other })).status, 201);
    // And a port of its own that enrollment did not make: inspection adds it back.
    const own = (await h.get(`/v1/ports?address=${macs[0]}`)).body.ports[0];
    assert.equal((await h.http('DELETE', `/v1/ports/${own.uuid}`)).status, 204);

    await provision(uuid, { target: 'inspect' }, 'manageable');
    assert.deepEqual(await portsOf(uuid), [macs[0]]);
    assert.ok((await portsOf(other)).includes(macs[1]), 'the other node keeps its port');
    const events = (await h.get(`/v1/nodes/${uuid}/history?kind=inspection`)).body.history;
    const refused = events.filter((e: any) => e.event === 'port refused');
    assert.equal(refused.length, 1);
    assert.equal(refused[0].severity, 'error');
    assert.match(refused[0].message, new RegExp(`MAC ${macs[1]} is already a port of another node`));
    assert.ok(!refused[0].message.includes(other), 'the other node is not named to this node’s readers');
    assert.equal(
      (await h.http('DELETE', `/v1/ports/${(await h.get(`/v1/ports?address=${macs[1]}`)).body.ports[0].uuid}`)).status,
      204,
    );
  });

  it('inspects from the operator CLI and prints the inventory', async () => {
    const configFile = path.join(path.dirname(h.logFile), 'cli.json');
    writeFileSync(configFile, JSON.stringify({ url: h.apiUrl, token: h.config.adminToken }));
    const tempered = (...args: string[]) =>
      promisify(execFile)(process.execPath, ['--import', 'tsx', 'src/cli/tempered/main.ts', ...args], {
        env: { PATH: process.env.PATH, HOME: process.env.HOME, TEMPERED_CONFIG: configFile },
        timeout: 120_000,
      });
    const name = h.lab!.machines[2].name;
    await tempered('node', 'inspect', name, '--wait');
    const { stdout } = await tempered('-o', 'json', 'node', 'inventory', name);
    const shown = JSON.parse(stdout);
    assert.equal(shown.cpu.count, 4);
    assert.deepEqual(
      shown.interfaces.map((nic: any) => nic.mac_address),
      h.lab!.machines[2].macs,
    );
    assert.equal(shown.plugin_data.inspected_by, 'bmc');
  });

  it('applies inspection rules in priority order; a fail action fails the inspection', async () => {
    const uuid = h.nodeUuids[0];
    const rule = (body: unknown, token?: string) => h.http('POST', '/v1/inspection_rules', body, token);
    const tokens = await tenantTokens(h);
    const later = await rule({
      description: 'runs second',
      priority: 10,
      conditions: [{ op: 'eq', args: ['{node.resource_class}', 'lab-large'] }],
      actions: [
        { op: 'set-attribute', args: { path: '/extra/order', value: '{node.extra[order]} then low' } },
        { op: 'add-trait', args: { name: 'CUSTOM_INSPECTED' } },
      ],
    });
    assert.equal(later.status, 201, JSON.stringify(later.body));
    const first = await rule({
      priority: 100,
      conditions: [
        { op: 'gt', args: { values: ['{inventory[cpu][count]}', 2] } },
        { op: 'contains', args: { value: '{inventory[disks][0][serial]}', regex: 'disk0$' } },
        { op: '!is-empty', args: { value: '{inventory[interfaces]}' } },
      ],
      actions: [
        { op: 'set-attribute', args: { path: '/resource_class', value: 'lab-large' } },
        { op: 'set-attribute', args: { path: '/extra/order', value: 'high' } },
        { op: 'set-attribute', args: { path: '/properties/capabilities/cpus', value: '{inventory[cpu][count]}' } },
      ],
    });
    assert.equal(first.status, 201, JSON.stringify(first.body));
    const never = await rule({
      conditions: [{ op: 'lt', args: ['{inventory[memory][physical_mb]}', 1024] }],
      actions: [{ op: 'add-trait', args: { name: 'CUSTOM_TINY' } }],
    });
    assert.equal(never.status, 201);

    const inspected = await provision(uuid, { target: 'inspect' }, 'manageable');
    assert.equal(inspected.resource_class, 'lab-large');
    assert.equal(inspected.extra.order, 'high then low');
    assert.deepEqual(inspected.traits, ['CUSTOM_INSPECTED']);
    assert.equal(inspected.properties.capabilities.cpus, 4, 'a lone reference keeps its type');
    const summary = (await h.get(`/v1/nodes/${uuid}/history?kind=inspection`)).body.history.at(-1);
    assert.match(summary.message, new RegExp(`rules applied: ${first.body.uuid}, ${later.body.uuid}$`));

    // Admin only, reading included; bad rules are 400s naming the field.
    assert.equal((await rule({ actions: [{ op: 'fail', args: { message: 'x' } }] }, tokens.alice)).status, 403);
    assert.equal((await h.http('GET', '/v1/inspection_rules', undefined, tokens.alice)).status, 403);
    const refusals: [unknown, string][] = [
      [{ actions: [] }, 'actions'],
      [{ actions: [{ op: 'set-attribute', args: { path: '/driver_info/x', value: 1 } }] }, 'actions.0.args.path'],
      [
        { conditions: [{ op: 'near', args: [] }], actions: [{ op: 'add-trait', args: { name: 'CUSTOM_X' } }] },
        'conditions.0.op',
      ],
      [
        {
          conditions: [{ op: 'matches', args: { value: 'a', regex: '(' } }],
          actions: [{ op: 'fail', args: { message: 'x' } }],
        },
        'conditions.0.args.regex',
      ],
      [{ priority: -1, actions: [{ op: 'fail', args: { message: 'x' } }] }, 'priority'],
    ];
    for (const [body, field] of refusals) {
      const refused = await rule(body);
      assert.equal(refused.status, 400, JSON.stringify(body));
      assert.equal(refused.body.error.field, field, JSON.stringify(refused.body));
    }
    const listed = (await h.get('/v1/inspection_rules')).body.inspection_rules;
    assert.equal(listed.length, 3);

    const failing = await rule({
      priority: 500,
      conditions: [{ op: 'matches', args: { value: '{inventory[system_vendor][manufacturer]}', regex: '.*' } }],
      actions: [{ op: 'fail', args: { message: 'quarantine {node.name}: unknown vendor' } }],
    });
    const failed = await provision(uuid, { target: 'inspect' }, 'inspect failed');
    assert.match(failed.last_error, new RegExp(`quarantine ${inspected.name}: unknown vendor`));
    assert.equal(failed.extra.order, 'high then low', 'a failed inspection changed nothing');
    for (const r of [failing, first, later, never])
      assert.equal((await h.http('DELETE', `/v1/inspection_rules/${r.body.uuid}`)).status, 204);
    await provision(uuid, { target: 'manage' }, 'manageable');
  });

  it('shows the inventory to the node’s owner only', async () => {
    const uuid = h.nodeUuids[0];
    const tokens = await tenantTokens(h);
    assert.equal((await patch(uuid, { owner: 'acme', lessee: 'bigco' })).status, 200);
    try {
      const as = (token: string) => h.http('GET', `/v1/nodes/${uuid}/inventory`, undefined, token);
      assert.equal((await as(tokens.alice)).status, 200);
      assert.equal((await as(tokens.auditor)).status, 200);
      assert.equal((await as(tokens.bob)).status, 403, 'a lessee does not read serials and MACs');
      assert.equal((await as(tokens.eve)).status, 404);
      assert.equal((await h.get(`/v1/nodes/${h.nodeUuids[3]}/inventory`)).status, 404, 'never inspected');
    } finally {
      await patch(uuid, { owner: null, lessee: null });
    }
  });

  it('checks root device hints on the node, and a deploy whose hints match no disk fails clearly', async () => {
    const uuid = h.nodeUuids[3];
    for (const [hints, field] of [
      [{ size: 'big' }, 'properties.root_device.size'],
      [{ colour: 'blue' }, 'properties.root_device.colour'],
      ['sda', 'properties.root_device'],
    ] as const) {
      const refused = await patch(uuid, { properties: { root_device: hints } });
      assert.equal(refused.status, 400);
      assert.equal(refused.body.error.field, field, JSON.stringify(refused.body));
    }
    assert.equal((await patch(uuid, { properties: { root_device: { serial: 'no-such-serial' } } })).status, 200);
    const inspected = await provision(uuid, { target: 'inspect' }, 'inspect failed');
    assert.match(inspected.last_error, /no disk matches the root device hints \{"serial":"no-such-serial"\}/);
    await provision(uuid, { target: 'manage' }, 'manageable');

    await provision(uuid, { target: 'provide' }, 'available');
    const image = {
      image_source: images.url('disk.raw'),
      image_os_hash_algo: 'sha256',
      image_os_hash_value: imageHash,
      image_disk_format: 'raw',
    };
    assert.equal((await patch(uuid, { instance_info: image })).status, 200);
    const failed = await provision(uuid, { target: 'active' }, 'deploy failed');
    assert.match(failed.last_error, /no disk matches the root device hints \{"serial":"no-such-serial"\}; disks: vda/);

    // The hint that names the machine's disk deploys.
    const serial = h.lab!.machines[3].machine.diskSerial;
    const hinted = await patch(uuid, { properties: { ...failed.properties, root_device: { serial, size: '>= 1' } } });
    assert.equal(hinted.status, 200, JSON.stringify(hinted.body));
    await provision(uuid, { target: 'active' }, 'active');
  });
});
