// Response shapes, for the OpenAPI document (src/api/openapi.ts) and the tests that check real
// responses against it. Objects are loose: a client must accept fields added later.
import { z } from 'zod';
import { EVENT_KINDS } from '../db/events.js';
import { ALLOCATION_STATES } from '../db/allocations.js';
import { POWER_STATES } from '../domain/power.js';
import { PROVISION_STATES } from '../domain/provision.js';
import { RESERVATION_STATUSES } from '../domain/reservations.js';
import { STEP_RUNNERS } from '../domain/steps.js';
import { ROLES } from '../domain/policy.js';

const time = z.iso.datetime({ offset: true });
const nullableTime = time.nullable();
const nullableText = z.string().nullable();
const jsonObject = z.record(z.string(), z.unknown());
const provisionState = z.enum(PROVISION_STATES as [string, ...string[]]);

const links = z.array(z.looseObject({ rel: z.string(), href: z.string() })).meta({ id: 'Links' });

export const errorBody = z
  .looseObject({
    error: z.looseObject({
      code: z.string().meta({ description: 'Stable, machine-readable: invalid_input, not_found, illegal_state…' }),
      message: z.string(),
      field: z.string().optional().meta({ description: 'The input that was refused, as a dotted path (query.limit).' }),
    }),
    error_message: z.string().optional().meta({ description: "Ironic's shape: a JSON string with faultstring." }),
  })
  .meta({ id: 'Error', description: 'Every 4xx and 5xx answer.' });

/** `{ <key>: [...], next? }`: `next` is the following page's URL, present when there may be one. */
export function page(key: string, item: z.ZodType, id: string) {
  return z
    .looseObject({ [key]: z.array(item), next: z.string().optional() })
    .meta({ id, description: `A page of ${key}; follow \`next\` for more.` });
}

export const node = z
  .looseObject({
    uuid: z.uuid(),
    name: nullableText,
    driver: z.string(),
    driver_info: jsonObject.meta({ description: 'Secrets are shown as "******".' }),
    driver_internal_info: jsonObject,
    properties: jsonObject,
    instance_info: jsonObject,
    network_data: jsonObject,
    extra: jsonObject,
    resource_class: nullableText,
    traits: z.array(z.string()),
    owner: nullableText,
    lessee: nullableText,
    provision_state: provisionState,
    target_provision_state: provisionState.nullable(),
    power_state: z.enum(POWER_STATES).nullable(),
    target_power_state: nullableText,
    maintenance: z.boolean(),
    maintenance_reason: nullableText,
    fault: nullableText,
    retired: z.boolean(),
    retired_reason: nullableText,
    last_error: nullableText,
    clean_step: jsonObject.nullable(),
    deploy_step: jsonObject.nullable(),
    service_step: jsonObject.nullable(),
    deployed_by: nullableText,
    boot_interface: z.string(),
    deploy_interface: z.string(),
    allocation_uuid: z.uuid().nullable(),
    instance_uuid: nullableText,
    created_at: time,
    updated_at: nullableTime,
    provision_updated_at: nullableTime,
    links,
  })
  .meta({ id: 'Node' });

/** A node as `fields=` picks it: any subset of the fields. */
export const nodeFieldsView = node.partial().meta({ id: 'NodeFields' });

export const stepStatus = z
  .looseObject({
    name: z.string().meta({ description: 'interface.step, e.g. deploy.write_image' }),
    priority: z.number(),
    runner: z.enum(STEP_RUNNERS),
    status: z.enum(['pending', 'running', 'waiting', 'done', 'failed']),
    reruns: z.number().int(),
  })
  .meta({ id: 'StepStatus' });

export const nodeStates = z
  .looseObject({
    power_state: z.enum(POWER_STATES).nullable(),
    target_power_state: nullableText,
    provision_state: provisionState,
    target_provision_state: provisionState.nullable(),
    last_error: nullableText,
    maintenance: z.boolean(),
    provision_updated_at: nullableTime,
    steps: z.array(stepStatus).nullable().meta({ description: 'The running operation’s plan; null when none runs.' }),
  })
  .meta({ id: 'NodeStates' });

export const nodeValidation = z
  .record(z.string(), z.looseObject({ result: z.boolean().nullable(), reason: nullableText }))
  .meta({ id: 'NodeValidation', description: 'Per interface: would the stored configuration work.' });

export const bootDevice = z
  .looseObject({ boot_device: nullableText, persistent: z.boolean().nullable() })
  .meta({ id: 'BootDevice' });
export const supportedBootDevices = z.looseObject({ supported_boot_devices: z.array(z.string()) });
export const traits = z.looseObject({ traits: z.array(z.string()) });

export const event = z
  .looseObject({
    uuid: z.uuid(),
    created_at: time,
    node_uuid: z.uuid().nullable(),
    kind: z.enum(EVENT_KINDS),
    event: nullableText.meta({ description: 'What happened within the kind: deploy, power on, set…' }),
    from_state: nullableText,
    to_state: nullableText,
    severity: z.enum(['info', 'error']),
    user: nullableText,
    project: nullableText,
    request_id: nullableText,
    workflow_id: nullableText,
    message: nullableText,
  })
  .meta({ id: 'Event' });

export const port = z
  .looseObject({
    uuid: z.uuid(),
    address: z.string(),
    node_uuid: z.uuid(),
    pxe_enabled: z.boolean(),
    extra: jsonObject,
    created_at: time,
    updated_at: nullableTime,
    links,
  })
  .meta({ id: 'Port' });

export const deployTemplate = z
  .looseObject({
    uuid: z.uuid(),
    name: z.string(),
    steps: z.array(
      z.looseObject({ interface: z.string(), step: z.string(), args: jsonObject, priority: z.number().int() }),
    ),
    extra: jsonObject,
    created_at: time,
    updated_at: nullableTime,
    links,
  })
  .meta({ id: 'DeployTemplate' });

export const deployment = z
  .looseObject({
    uuid: z.uuid(),
    node_uuid: z.uuid(),
    node_name: nullableText,
    created_by: nullableText,
    project: nullableText,
    image_source: z.string(),
    traits: z.array(z.string()),
    status: z.enum(['deploying', 'active', 'quarantined', 'failed', 'deleting', 'deleted', 'superseded']),
    last_error: nullableText,
    steps: z.array(stepStatus).nullable().optional(),
    created_at: time,
    updated_at: nullableTime,
    deleted_at: nullableTime,
    links,
  })
  .meta({ id: 'Deployment' });

export const token = z
  .looseObject({
    uuid: z.uuid(),
    project_id: z.string(),
    user_id: z.string(),
    role: z.enum(ROLES),
    created_at: time,
    revoked_at: nullableTime,
  })
  .meta({ id: 'Token' });
export const createdToken = token
  .extend({ token: z.string().meta({ description: 'Shown this once only.' }) })
  .meta({ id: 'CreatedToken' });

export const allocation = z
  .looseObject({
    uuid: z.uuid(),
    name: nullableText,
    state: z.enum(ALLOCATION_STATES),
    resource_class: nullableText,
    traits: z.array(z.string()),
    candidate_nodes: z.array(z.string()),
    node_uuid: z.uuid().nullable(),
    owner: nullableText,
    extra: jsonObject,
    last_error: nullableText,
    reservation_uuid: z.uuid().nullable(),
    created_at: time,
    updated_at: nullableTime,
    links,
  })
  .meta({ id: 'Allocation' });

const reservationRequest = {
  owner: z.string(),
  lessee: z.string(),
  resource_class: z.string(),
  traits: z.array(z.string()),
  count: z.number().int(),
  deploy: jsonObject.nullable(),
  created_by: z.string(),
  created_at: time,
  links,
};

export const reservation = z
  .looseObject({
    ...reservationRequest,
    uuid: z.uuid(),
    start_at: time,
    end_at: time,
    status: z.enum(RESERVATION_STATUSES),
    shortfall: z.number().int(),
    last_error: nullableText,
    schedule_uuid: z.uuid().nullable(),
    updated_at: nullableTime,
    allocations: z.array(z.looseObject({ uuid: z.uuid(), node_uuid: z.uuid().nullable() })),
  })
  .meta({ id: 'Reservation' });

export const capacityRefusal = z
  .looseObject({
    error: z.looseObject({
      code: z.literal('insufficient_capacity'),
      message: z.string(),
      nodes: z.number().int(),
      reserved: z.number().int(),
      shortfall: z.number().int(),
    }),
  })
  .meta({ id: 'CapacityRefusal' });

export const reservationSchedule = z
  .looseObject({
    ...reservationRequest,
    uuid: z.uuid(),
    cron: nullableText,
    every_seconds: z.number().int().nullable(),
    duration_seconds: z.number().int(),
    paused: z.boolean().optional(),
    note: nullableText.optional(),
    next_runs: z.array(time).optional(),
    recent_runs: z.array(time).optional(),
    missing: z.string().optional().meta({ description: 'Set when Temporal has no such schedule.' }),
  })
  .meta({ id: 'ReservationSchedule' });

export const driver = z
  .looseObject({
    name: z.string(),
    description: z.string(),
    capabilities: z.record(z.string(), z.boolean()),
    boot_devices: z.array(z.string()),
    notes: z.array(z.string()),
    driver_info: z.array(
      z.looseObject({
        name: z.string(),
        required: z.boolean(),
        secret: z.boolean(),
        type: z.string(),
        description: z.string(),
        range: z.array(z.number()).optional(),
        choices: z.array(z.string()).optional(),
        max_bytes: z.number().int().optional(),
      }),
    ),
    links,
  })
  .meta({ id: 'Driver' });
export const driverList = z.looseObject({
  drivers: z.array(driver),
  capabilities: z.record(z.string(), z.string()),
});
export const driverProperties = z
  .record(z.string(), z.string())
  .meta({ description: "Ironic's shape: each driver_info key with its description." });

const versionEntry = z
  .looseObject({ id: z.string(), links, status: z.string(), min_version: z.string(), version: z.string() })
  .meta({ id: 'ApiVersion' });
export const versionRoot = z.looseObject({
  name: z.string(),
  description: z.string(),
  default_version: versionEntry,
  versions: z.array(versionEntry),
});
export const versionV1 = z.looseObject({
  id: z.literal('v1'),
  links,
  media_types: z.array(z.looseObject({ base: z.string(), type: z.string() })),
  version: versionEntry,
});

export const inventory = z
  .looseObject({
    inventory: jsonObject.meta({ description: 'What inspection found, in Ironic’s inventory shape.' }),
    plugin_data: jsonObject,
  })
  .meta({ id: 'Inventory' });

export const inspectionRule = z
  .looseObject({
    uuid: z.uuid(),
    description: nullableText,
    priority: z.number().int(),
    conditions: z.array(z.looseObject({ op: z.string(), args: z.unknown() })),
    actions: z.array(z.looseObject({ op: z.string(), args: z.unknown() })),
    created_at: time,
    updated_at: nullableTime,
    links,
  })
  .meta({ id: 'InspectionRule' });

export const warmPool = z
  .looseObject({
    uuid: z.uuid(),
    name: nullableText,
    resource_class: z.string(),
    traits: z.array(z.string()),
    target_count: z.number().int().nullable(),
    target_share: z.number().nullable(),
    check_interval_seconds: z.number().int(),
    owner: nullableText,
    status: z.looseObject({ target: z.number().int(), warm: z.number().int() }),
    workflow_id: z.string(),
    created_at: time,
    updated_at: nullableTime,
    links,
  })
  .meta({ id: 'WarmPool' });

export const warmPoolNodes = z.looseObject({
  nodes: z.array(
    z.looseObject({ uuid: z.uuid(), name: nullableText, warm: z.boolean(), busy: z.boolean(), usable: z.boolean() }),
  ),
});

export const health = z.looseObject({ status: z.literal('ok') });

export const agentLookup = z.looseObject({
  node: z.looseObject({
    uuid: z.uuid(),
    name: nullableText,
    properties: jsonObject,
    instance_info: jsonObject,
    driver_internal_info: jsonObject,
  }),
  config: z.looseObject({
    heartbeat_timeout: z.number(),
    heartbeat_interval: z.number(),
    agent_token: z.string().meta({ description: 'Given once, to the first lookup; "******" after.' }),
    agent_token_required: z.boolean(),
  }),
});
