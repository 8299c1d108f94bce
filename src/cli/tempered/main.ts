#!/usr/bin/env node
// `tempered`, the operator command line: nodes, deployments, templates, tokens and events over
// the HTTP API only. `tempered <command> --help` describes each command.
import { Command, Option } from 'commander';
import { ApiClient, CliError, resolveConnection, type ConnectionFlags } from './api-client.js';
import { bashCompletion } from './completion.js';
import { waitForNodes, type Goal, type WaitTarget } from './progress.js';
import { printList, printObject, type Column, type OutputFormat } from './render.js';

interface GlobalOptions extends ConnectionFlags {
  output: OutputFormat;
}

const program = new Command('tempered')
  .description('Operate Tempered, bare-metal provisioning on Temporal, through its HTTP API')
  .option('--url <url>', 'API URL (env TEMPERED_URL, config file "url"; default http://127.0.0.1:6385)')
  .option('--token <token>', 'API token (env TEMPERED_TOKEN, config file "token")')
  .option('--config <file>', 'config file (env TEMPERED_CONFIG; default ~/.config/tempered/config.json)')
  .addOption(new Option('-o, --output <format>', 'output format').choices(['table', 'json']).default('table'))
  .showHelpAfterError();

function globals(): GlobalOptions {
  return program.opts<GlobalOptions>();
}
const api = () => new ApiClient(resolveConnection(globals()));
const output = () => globals().output;
const segment = encodeURIComponent;

/** KEY=VALUE pairs (repeatable) into an object; values that parse as JSON are taken as JSON. */
function keyValue(pair: string, previous: Record<string, unknown> = {}): Record<string, unknown> {
  const at = pair.indexOf('=');
  if (at < 1) throw new CliError(`"${pair}" is not KEY=VALUE`);
  const raw = pair.slice(at + 1);
  let value: unknown = raw;
  try {
    value = JSON.parse(raw);
  } catch {
    // a plain string
  }
  return { ...previous, [pair.slice(0, at)]: value };
}

const NODE_COLUMNS: Column<any>[] = [
  { header: 'name', value: (n) => n.name },
  { header: 'uuid', value: (n) => n.uuid },
  {
    header: 'provision state',
    value: (n) => n.provision_state + (n.target_provision_state ? ` → ${n.target_provision_state}` : ''),
  },
  { header: 'power', value: (n) => n.power_state },
  { header: 'step', value: (n) => n.deploy_step?.step ?? n.clean_step?.step },
  { header: 'maint.', value: (n) => (n.maintenance ? 'yes' : '') },
  { header: 'last error', value: (n) => n.last_error?.slice(0, 60) },
];

async function resolveNodes(idents: string[]): Promise<WaitTarget[]> {
  return Promise.all(
    idents.map(async (ident) => {
      const node = await api().get(`/v1/nodes/${segment(ident)}`);
      return { uuid: node.uuid, name: node.name ?? node.uuid };
    }),
  );
}

/** PUT a provision target on each node, then (with --wait) follow them to `goal`. */
async function provision(
  idents: string[],
  body: Record<string, unknown>,
  goal: string[],
  wait: boolean,
): Promise<void> {
  const nodes = await resolveNodes(idents);
  for (const node of nodes) {
    await api().request('PUT', `/v1/nodes/${node.uuid}/states/provision`, body);
    console.error(`${node.name}: ${body.target} accepted`);
  }
  if (wait) await waitForNodes(api(), nodes, { provision: goal });
}

const node = program.command('node').description('bare-metal nodes: list, inspect, enroll and operate them');

node
  .command('list')
  .description('list nodes')
  .option('--provision-state <state>', 'only nodes in this state')
  .option('--resource-class <class>', 'only nodes of this resource class')
  .option('--sort <key>', 'sort by this field (name, provision_state, created_at, …)')
  .option('--desc', 'sort descending')
  .option('--limit <n>', 'at most this many', '1000')
  .action(async (options) => {
    const query = new URLSearchParams({ limit: options.limit });
    if (options.provisionState) query.set('provision_state', options.provisionState);
    if (options.resourceClass) query.set('resource_class', options.resourceClass);
    if (options.sort) query.set('sort_key', options.sort);
    if (options.desc) query.set('sort_dir', 'desc');
    printList(output(), (await api().get(`/v1/nodes?${query}`)).nodes, NODE_COLUMNS);
  });

node
  .command('show <node>')
  .description('one node, by name or UUID (secrets read ******)')
  .action(async (ident: string) => printObject(output(), await api().get(`/v1/nodes/${segment(ident)}`)));

node
  .command('inventory <node>')
  .description("what the node's last inspection found (CPU, memory, disks, NICs, boot, vendor)")
  .action(async (ident: string) => {
    const { inventory, plugin_data } = await api().get(`/v1/nodes/${segment(ident)}/inventory`);
    printObject(output(), { ...inventory, plugin_data });
  });

node
  .command('create')
  .description('enroll a node')
  .requiredOption('--driver <driver>', 'redfish, ipmi or fake')
  .option('--name <name>', 'node name')
  .option(
    '--driver-info <key=value>',
    'driver_info entry (repeatable), e.g. redfish_address=https://10.0.0.5',
    keyValue,
  )
  .option('--property <key=value>', 'properties entry (repeatable)', keyValue)
  .option('--resource-class <class>', 'resource class')
  .option('--port <mac>', 'a NIC MAC address to register as a port (repeatable)', (mac: string, all: string[] = []) => [
    ...all,
    mac,
  ])
  .action(async (options) => {
    const created = await api().request('POST', '/v1/nodes', {
      driver: options.driver,
      ...(options.name && { name: options.name }),
      ...(options.driverInfo && { driver_info: options.driverInfo }),
      ...(options.property && { properties: options.property }),
      ...(options.resourceClass && { resource_class: options.resourceClass }),
    });
    for (const address of options.port ?? [])
      await api().request('POST', '/v1/ports', { address, node_uuid: created.uuid });
    printObject(output(), created);
  });

const VERBS: { name: string; target: string; goal: string[]; description: string }[] = [
  {
    name: 'manage',
    target: 'manage',
    goal: ['manageable'],
    description: 'verify the BMC and make the nodes manageable',
  },
  { name: 'provide', target: 'provide', goal: ['available'], description: 'clean the nodes and make them available' },
  {
    name: 'inspect',
    target: 'inspect',
    goal: ['manageable'],
    description: 'learn the hardware of manageable nodes: properties, ports, inventory, inspection rules',
  },
  {
    name: 'undeploy',
    target: 'deleted',
    goal: ['available', 'manageable'],
    description: 'tear down the instance, clean, back to available',
  },
  {
    name: 'abort',
    target: 'abort',
    goal: ['clean failed', 'deploy failed', 'inspect failed', 'manageable', 'available'],
    description: 'stop the running clean, deploy or inspection',
  },
];
for (const verb of VERBS) {
  node
    .command(`${verb.name} <nodes...>`)
    .description(verb.description)
    .option('--wait', 'follow the operation with live progress until it ends; non-zero exit on failure')
    .action((idents: string[], options) =>
      provision(idents, { target: verb.target }, verb.goal, Boolean(options.wait)),
    );
}

node
  .command('deploy <nodes...>')
  .description("write an image to the nodes and boot it (the image in the node's instance_info, or given here)")
  .option('--image <url>', 'image URL (http or https)')
  .option('--sha256 <hex>', "the image's SHA-256")
  .option('--disk-format <format>', 'raw or qcow2', 'raw')
  .option('--config-drive <json>', 'config drive as JSON: {"meta_data": …, "user_data": "…"}')
  .option('--wait', 'follow the deploy with live progress until it ends; non-zero exit on failure')
  .action(async (idents: string[], options) => {
    if (Boolean(options.image) !== Boolean(options.sha256)) throw new CliError('--image and --sha256 go together');
    if (options.image) {
      for (const ident of idents) {
        await api().request('PATCH', `/v1/nodes/${segment(ident)}`, {
          instance_info: {
            image_source: options.image,
            image_os_hash_algo: 'sha256',
            image_os_hash_value: options.sha256,
            image_disk_format: options.diskFormat,
          },
        });
      }
    }
    let configdrive: unknown;
    if (options.configDrive) {
      try {
        configdrive = JSON.parse(options.configDrive);
      } catch {
        throw new CliError('--config-drive must be JSON');
      }
    }
    await provision(
      idents,
      { target: 'active', ...(configdrive !== undefined && { configdrive }) },
      ['active'],
      Boolean(options.wait),
    );
  });

const POWER: Record<string, { target: string; settles: string }> = {
  on: { target: 'power on', settles: 'power on' },
  off: { target: 'power off', settles: 'power off' },
  reboot: { target: 'rebooting', settles: 'power on' },
};
node
  .command('power <node> <action>')
  .description('power on, off or reboot a node')
  .option('--wait', 'wait until the BMC reports the new state')
  .action(async (ident: string, action: string, options) => {
    const power = POWER[action];
    if (!power) throw new CliError(`power action must be one of: ${Object.keys(POWER).join(', ')}`);
    const [target] = await resolveNodes([ident]);
    await api().request('PUT', `/v1/nodes/${target.uuid}/states/power`, { target: power.target });
    console.error(`${target.name}: ${power.target} accepted`);
    const goal: Goal = { power: power.settles };
    if (options.wait) await waitForNodes(api(), [target], goal);
  });

node
  .command('history <node>')
  .description("the node's events, oldest first")
  .option('--limit <n>', 'at most this many', '1000')
  .action(async (ident: string, options) => {
    const { history } = await api().get(`/v1/nodes/${segment(ident)}/history?limit=${segment(options.limit)}`);
    printList(output(), history, [
      { header: 'time', value: (e: any) => e.created_at },
      { header: 'kind', value: (e: any) => e.kind },
      { header: 'event', value: (e: any) => e.event },
      { header: 'from → to', value: (e: any) => (e.to_state ? `${e.from_state ?? ''} → ${e.to_state}` : '') },
      { header: 'user', value: (e: any) => e.user },
      { header: 'message', value: (e: any) => e.message?.slice(0, 60) },
    ]);
  });

const deployment = program.command('deployment').description("deployments: a tenant's image on a node");
const DEPLOYMENT_COLUMNS: Column<any>[] = [
  { header: 'uuid', value: (d) => d.uuid },
  { header: 'node', value: (d) => d.node_name ?? d.node_uuid },
  { header: 'status', value: (d) => d.status },
  { header: 'image', value: (d) => d.image_source },
  { header: 'by', value: (d) => d.created_by },
  { header: 'last error', value: (d) => d.last_error?.slice(0, 60) },
];
deployment
  .command('list')
  .description('the deployments of the nodes you can see')
  .option('--node <node>', 'only this node')
  .action(async (options) => {
    const query = options.node ? `?node=${segment(options.node)}` : '';
    printList(output(), (await api().get(`/v1/deployments${query}`)).deployments, DEPLOYMENT_COLUMNS);
  });
deployment
  .command('show <uuid>')
  .description('one deployment with its live status and, while it runs, its steps')
  .action(async (uuid: string) => printObject(output(), await api().get(`/v1/deployments/${segment(uuid)}`)));
deployment
  .command('create')
  .description('deploy an image on a node')
  .requiredOption('--node <node>', 'node name or UUID')
  .requiredOption('--image <url>', 'image URL')
  .requiredOption('--sha256 <hex>', "the image's SHA-256")
  .option(
    '--ssh-key <key>',
    'an OpenSSH public key for the config drive (repeatable)',
    (key: string, all: string[] = []) => [...all, key],
  )
  .option('--wait', 'follow the deploy with live progress until it ends')
  .action(async (options) => {
    const created = await api().request('POST', '/v1/deployments', {
      node: options.node,
      image_source: options.image,
      os_hash_algo: 'sha256',
      os_hash_value: options.sha256,
      ...(options.sshKey && { ssh_keys: options.sshKey }),
    });
    printObject(output(), created);
    if (options.wait)
      await waitForNodes(api(), [{ uuid: created.node_uuid, name: created.node_name ?? created.node_uuid }], {
        provision: ['active'],
      });
  });
deployment
  .command('delete <uuid>')
  .description('undeploy')
  .action(async (uuid: string) => {
    await api().request('DELETE', `/v1/deployments/${segment(uuid)}`);
    console.error(`${uuid}: undeploy accepted`);
  });

const template = program.command('template').description('deploy templates: CUSTOM_* traits mapped to steps');
template
  .command('list')
  .description('list deploy templates')
  .action(async () =>
    printList(output(), (await api().get('/v1/deploy_templates')).deploy_templates, [
      { header: 'name', value: (t: any) => t.name },
      { header: 'uuid', value: (t: any) => t.uuid },
      {
        header: 'steps',
        value: (t: any) => t.steps.map((s: any) => `${s.interface}.${s.step}:${s.priority}`).join(' '),
      },
    ]),
  );
template
  .command('show <template>')
  .description('one deploy template')
  .action(async (ident: string) => printObject(output(), await api().get(`/v1/deploy_templates/${segment(ident)}`)));

const token = program.command('token').description('API tokens (admin)');
token
  .command('create')
  .description('make a token; it is shown once')
  .requiredOption('--project <project>', 'project id')
  .requiredOption('--user <user>', 'user id')
  .addOption(new Option('--role <role>', 'role').choices(['member', 'reader', 'admin']).default('member'))
  .action(async (options) =>
    printObject(
      output(),
      await api().request('POST', '/v1/auth/tokens', {
        project_id: options.project,
        user_id: options.user,
        role: options.role,
      }),
    ),
  );
token
  .command('list')
  .description('list tokens (never their secrets)')
  .action(async () => {
    const body = await api().get('/v1/auth/tokens');
    printList(output(), body.tokens, [
      { header: 'uuid', value: (t: any) => t.uuid },
      { header: 'project', value: (t: any) => t.project_id },
      { header: 'user', value: (t: any) => t.user_id },
      { header: 'role', value: (t: any) => t.role },
      { header: 'created', value: (t: any) => t.created_at },
    ]);
  });
token
  .command('revoke <uuid>')
  .description('revoke a token at once')
  .action(async (uuid: string) => {
    await api().request('DELETE', `/v1/auth/tokens/${segment(uuid)}`);
    console.error(`${uuid}: revoked`);
  });

const EVENT_COLUMNS: Column<any>[] = [
  { header: 'time', value: (e) => e.created_at },
  { header: 'node', value: (e) => e.node_uuid },
  { header: 'kind', value: (e) => e.kind },
  { header: 'event', value: (e) => e.event },
  { header: 'from → to', value: (e) => (e.to_state ? `${e.from_state ?? ''} → ${e.to_state}` : '') },
  { header: 'user', value: (e) => e.user },
  { header: 'message', value: (e) => e.message?.slice(0, 60) },
];
program
  .command('events')
  .description('the event log, oldest first')
  .option('--node <node>', 'only this node')
  .option('--kind <kind>', 'power, provision, maintenance, fault or auth')
  .option('--follow', 'keep printing new events as they happen (Ctrl-C stops)')
  .action(async (options) => {
    const query = new URLSearchParams({ limit: '1000' });
    if (options.node) query.set('node', options.node);
    if (options.kind) query.set('kind', options.kind);
    const print = (events: any[]) => {
      if (output() === 'json') for (const e of events) console.log(JSON.stringify(e));
      else for (const e of events) console.log(EVENT_COLUMNS.map((c) => c.value(e) ?? '').join('  '));
    };
    let marker: string | undefined;
    for (;;) {
      if (marker) query.set('marker', marker);
      const { events } = await api().get(`/v1/events?${query}`);
      if (!options.follow)
        return output() === 'json'
          ? console.log(JSON.stringify(events, null, 2))
          : printList('table', events, EVENT_COLUMNS);
      print(events);
      marker = events.at(-1)?.uuid ?? marker;
      if (events.length < 1000) await new Promise((r) => setTimeout(r, 1000));
    }
  });

program
  .command('completion')
  .description('print a bash completion script: source <(tempered completion)')
  .action(() => console.log(bashCompletion(program)));

program.parseAsync().catch((err: unknown) => {
  console.error(`tempered: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(err instanceof CliError ? err.exitCode : 1);
});
