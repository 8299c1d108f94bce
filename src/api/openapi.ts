// The OpenAPI 3.1 document of both listeners, built from the very zod schemas the routes parse
// with (request side) and src/api/response-schemas.ts (response side), so it cannot drift from
// what is validated. test/integration/openapi.test.ts checks every mounted route is here.
import { z } from 'zod';
import { createDocument, type ZodOpenApiOperationObject, type ZodOpenApiPathsObject } from 'zod-openapi';
import { commandResultBody, heartbeatBody, lookupQuery } from './agent.js';
import { allocationListQuery, createAllocation } from './allocations.js';
import { templateFields } from './deploy-templates.js';
import { createWarmPool, warmPoolListQuery } from './warm-pools.js';
import { inspectionRuleFields } from '../domain/inspection-rules.js';
import { ipxeQuery } from './ipxe.js';
import { MAX_API_VERSION } from './ironic.js';
import {
  changeReservation,
  changeSchedule,
  createReservation,
  createSchedule,
  reservationListQuery,
} from './reservations.js';
import * as responses from './response-schemas.js';
import {
  bootDeviceRequest,
  createDeployment,
  createNode,
  createPort,
  deploymentListQuery,
  eventListQuery,
  historyQuery,
  jsonObject,
  jsonPatch,
  maintenanceRequest,
  nodeListQuery,
  nodeShowQuery,
  pageQuery,
  portListQuery,
  powerRequest,
  provisionRequest,
  traitsRequest,
} from './schemas.js';
import { createToken } from './tokens.js';

type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

interface Operation {
  summary: string;
  tag: string;
  query?: z.ZodObject;
  body?: z.ZodType;
  /** The success status and, when it has one, its JSON body. */
  status: number;
  result?: z.ZodType;
  /** Answered without an API token (version discovery, the agents' listener, booting machines). */
  open?: boolean;
  /** Further answers beyond the common ones (e.g. a 409 with a body of its own). */
  extra?: ZodOpenApiOperationObject['responses'];
  description?: string;
}

/** What each path parameter names. */
const PATH_PARAMETERS: Record<string, string> = {
  node: 'Node UUID or name',
  trait: 'Trait name, e.g. CUSTOM_GPU',
  port: 'Port UUID',
  deployment: 'Deployment UUID',
  template: 'Deploy template UUID or name',
  allocation: 'Allocation UUID or name',
  reservation: 'Reservation UUID',
  schedule: 'Reservation schedule UUID',
  token: 'Token UUID (never the token itself)',
  driver: 'Driver name, e.g. redfish',
  rule: 'Inspection rule UUID',
  pool: 'Warm pool UUID or name',
  file: 'swagger-ui.css, swagger-ui-bundle.js or favicon-32x32.png',
};

const json = (schema: z.ZodType) => ({ content: { 'application/json': { schema } } });
const problem = (description: string) => ({ description, ...json(responses.errorBody) });

/** A node PATCH body: RFC 6902 operations or an RFC 7386 merge patch. */
const patchBody = z.union([
  jsonPatch,
  jsonObject.meta({ description: 'An RFC 7386 merge patch of the writable fields.' }),
]);

function operation(path: string, method: Method, op: Operation): ZodOpenApiOperationObject {
  const names = [...path.matchAll(/\{(\w+)\}/g)].map((m) => m[1]);
  const pathParams = names.length
    ? z.object(Object.fromEntries(names.map((n) => [n, z.string().meta({ description: PATH_PARAMETERS[n] ?? n })])))
    : undefined;
  const changes = method !== 'get';
  return {
    operationId: `${method}${path.replace(/\{(\w+)\}/g, 'By_$1').replace(/[^A-Za-z0-9]+(.)?/g, (_m, c?: string) => (c ?? '').toUpperCase())}`,
    summary: op.summary,
    ...(op.description && { description: op.description }),
    tags: [op.tag],
    ...(op.open && { security: [] }),
    ...((pathParams || op.query) && {
      requestParams: { ...(pathParams && { path: pathParams }), ...(op.query && { query: op.query }) },
    }),
    ...(op.body && { requestBody: { required: true, ...json(op.body) } }),
    responses: {
      [op.status]: { description: 'Success', ...(op.result && json(op.result)) },
      ...((op.query || op.body || pathParams) && { 400: problem('Invalid input; `error.field` names it') }),
      ...(!op.open && { 401: problem('No API token, or an invalid or revoked one') }),
      ...(!op.open && changes && { 403: problem('The caller’s role or project may not do this') }),
      ...(pathParams && { 404: problem('Not found, or not visible to the caller') }),
      ...(changes && { 409: problem('Not possible now: a state or lock conflict, or a duplicate') }),
      ...op.extra,
      default: problem('Any other error: 406 microversion, 413 body too large, 503 service away (Retry-After)'),
    },
  };
}

const nodeList = responses.page('nodes', z.union([responses.node, responses.nodeFieldsView]), 'NodePage');
const eventPage = responses.page('events', responses.event, 'EventPage');

/** Every route of both listeners: path → method → what it takes and answers. */
const ROUTES: Record<string, Partial<Record<Method, Operation>>> = {
  '/': {
    get: {
      summary: 'Version discovery (Ironic)',
      tag: 'Discovery',
      status: 200,
      result: responses.versionRoot,
      open: true,
    },
  },
  '/v1': {
    get: {
      summary: 'The v1 API and its resources',
      tag: 'Discovery',
      status: 200,
      result: responses.versionV1,
      open: true,
    },
  },
  '/v1/openapi.json': {
    get: { summary: 'This document', tag: 'Discovery', status: 200, result: jsonObject, open: true },
  },
  '/docs': {
    get: { summary: 'The rendered API reference (HTML)', tag: 'Discovery', status: 200, open: true },
  },
  '/docs/assets/{file}': {
    get: { summary: 'The reference page’s scripts and styles', tag: 'Discovery', status: 200, open: true },
  },
  '/healthz': {
    get: {
      summary: 'Liveness: the API answers and reaches PostgreSQL',
      tag: 'Operations',
      status: 200,
      result: responses.health,
      open: true,
    },
  },
  '/metrics': {
    get: { summary: 'Prometheus metrics of the API process (text format)', tag: 'Operations', status: 200, open: true },
  },

  '/v1/auth/tokens': {
    post: {
      summary: 'Create an API token (admin)',
      tag: 'Tokens',
      body: createToken,
      status: 201,
      result: responses.createdToken,
    },
    get: {
      summary: 'List API tokens (admin)',
      tag: 'Tokens',
      query: pageQuery,
      status: 200,
      result: responses.page('tokens', responses.token, 'TokenPage'),
    },
  },
  '/v1/auth/tokens/{token}': {
    delete: { summary: 'Revoke an API token (admin)', tag: 'Tokens', status: 204 },
  },

  '/v1/nodes': {
    post: { summary: 'Enroll a node', tag: 'Nodes', body: createNode, status: 201, result: responses.node },
    get: {
      summary: 'List nodes (always detailed; `fields=` picks fields)',
      tag: 'Nodes',
      query: nodeListQuery,
      status: 200,
      result: nodeList,
    },
  },
  '/v1/nodes/detail': {
    get: {
      summary: 'List nodes (Ironic’s detailed list; the same as /v1/nodes)',
      tag: 'Nodes',
      query: nodeListQuery,
      status: 200,
      result: nodeList,
    },
  },
  '/v1/nodes/{node}': {
    get: {
      summary: 'Show a node',
      tag: 'Nodes',
      query: nodeShowQuery,
      status: 200,
      result: z.union([responses.node, responses.nodeFieldsView]),
    },
    patch: {
      summary: 'Change a node (JSON Patch or merge patch); secrets are write-only',
      tag: 'Nodes',
      body: patchBody,
      status: 200,
      result: responses.node,
    },
    delete: { summary: 'Delete a node (enroll, manageable, available or failed states)', tag: 'Nodes', status: 204 },
  },
  '/v1/nodes/{node}/validate': {
    get: {
      summary: 'Would each interface work with the stored configuration',
      tag: 'Nodes',
      status: 200,
      result: responses.nodeValidation,
    },
  },
  '/v1/nodes/{node}/states': {
    get: {
      summary: 'Power and provision state, with the running operation’s step plan',
      tag: 'Nodes',
      status: 200,
      result: responses.nodeStates,
    },
  },
  '/v1/nodes/{node}/states/power': {
    put: { summary: 'Power on, off or reboot (runs a workflow)', tag: 'Nodes', body: powerRequest, status: 202 },
  },
  '/v1/nodes/{node}/states/provision': {
    put: {
      summary: 'Run a provision verb: manage, provide, clean, deploy (active), undeploy (deleted), abort…',
      tag: 'Nodes',
      body: provisionRequest,
      status: 202,
      description: 'Accepted: poll GET /v1/nodes/{node}/states until target_provision_state is null.',
    },
  },
  '/v1/nodes/{node}/management/boot_device': {
    get: {
      summary: 'The boot device the BMC reports',
      tag: 'Nodes',
      status: 200,
      result: responses.bootDevice,
      extra: { 502: problem('The BMC failed') },
    },
    put: {
      summary: 'Set the next (or persistent) boot device',
      tag: 'Nodes',
      body: bootDeviceRequest,
      status: 204,
      extra: { 502: problem('The BMC failed') },
    },
  },
  '/v1/nodes/{node}/management/boot_device/supported': {
    get: {
      summary: 'Boot devices the node’s driver can set',
      tag: 'Nodes',
      status: 200,
      result: responses.supportedBootDevices,
    },
  },
  '/v1/nodes/{node}/maintenance': {
    put: { summary: 'Set maintenance, with an optional reason', tag: 'Nodes', body: maintenanceRequest, status: 202 },
    delete: { summary: 'Clear maintenance (and the fault)', tag: 'Nodes', status: 202 },
  },
  '/v1/nodes/{node}/traits': {
    get: { summary: 'A node’s traits', tag: 'Nodes', status: 200, result: responses.traits },
    put: { summary: 'Replace a node’s traits', tag: 'Nodes', body: traitsRequest, status: 204 },
    delete: { summary: 'Remove every trait', tag: 'Nodes', status: 204 },
  },
  '/v1/nodes/{node}/traits/{trait}': {
    put: { summary: 'Add a trait', tag: 'Nodes', status: 204 },
    delete: { summary: 'Remove a trait', tag: 'Nodes', status: 204 },
  },
  '/v1/nodes/{node}/history': {
    get: {
      summary: 'A node’s event history, newest first',
      tag: 'Nodes',
      query: historyQuery,
      status: 200,
      result: responses.page('history', responses.event, 'HistoryPage'),
    },
  },
  '/v1/nodes/{node}/allocation': {
    get: { summary: 'The allocation holding a node', tag: 'Allocations', status: 200, result: responses.allocation },
  },

  '/v1/nodes/{node}/inventory': {
    get: {
      summary: 'What inspection found (404 until inspected)',
      tag: 'Inspection',
      status: 200,
      result: responses.inventory,
    },
  },
  '/v1/inspection_rules': {
    post: {
      summary: 'Create an inspection rule (admin)',
      tag: 'Inspection',
      body: inspectionRuleFields,
      status: 201,
      result: responses.inspectionRule,
    },
    get: {
      summary: 'List inspection rules (admin)',
      tag: 'Inspection',
      query: pageQuery,
      status: 200,
      result: responses.page('inspection_rules', responses.inspectionRule, 'InspectionRulePage'),
    },
  },
  '/v1/inspection_rules/{rule}': {
    get: {
      summary: 'Show an inspection rule (admin)',
      tag: 'Inspection',
      status: 200,
      result: responses.inspectionRule,
    },
    patch: {
      summary: 'Change an inspection rule (admin)',
      tag: 'Inspection',
      body: patchBody,
      status: 200,
      result: responses.inspectionRule,
    },
    delete: { summary: 'Delete an inspection rule (admin)', tag: 'Inspection', status: 204 },
  },

  '/v1/ports': {
    post: {
      summary: 'Create a port (a NIC’s MAC address)',
      tag: 'Ports',
      body: createPort,
      status: 201,
      result: responses.port,
    },
    get: {
      summary: 'List ports',
      tag: 'Ports',
      query: portListQuery,
      status: 200,
      result: responses.page('ports', responses.port, 'PortPage'),
    },
  },
  '/v1/ports/{port}': {
    get: { summary: 'Show a port', tag: 'Ports', status: 200, result: responses.port },
    delete: { summary: 'Delete a port', tag: 'Ports', status: 204 },
  },

  '/v1/deployments': {
    post: {
      summary: 'Deploy an image on a node (by node, allocation or traits)',
      tag: 'Deployments',
      body: createDeployment,
      status: 201,
      result: responses.deployment,
    },
    get: {
      summary: 'List deployments',
      tag: 'Deployments',
      query: deploymentListQuery,
      status: 200,
      result: responses.page('deployments', responses.deployment, 'DeploymentPage'),
    },
  },
  '/v1/deployments/{deployment}': {
    get: {
      summary: 'Show a deployment, with its step plan while it runs',
      tag: 'Deployments',
      status: 200,
      result: responses.deployment,
    },
    delete: { summary: 'Undeploy (runs a workflow)', tag: 'Deployments', status: 202 },
  },

  '/v1/deploy_templates': {
    post: {
      summary: 'Create a deploy template (admin)',
      tag: 'Deploy templates',
      body: templateFields,
      status: 201,
      result: responses.deployTemplate,
    },
    get: {
      summary: 'List deploy templates',
      tag: 'Deploy templates',
      query: pageQuery,
      status: 200,
      result: responses.page('deploy_templates', responses.deployTemplate, 'DeployTemplatePage'),
    },
  },
  '/v1/deploy_templates/{template}': {
    get: { summary: 'Show a deploy template', tag: 'Deploy templates', status: 200, result: responses.deployTemplate },
    patch: {
      summary: 'Change a deploy template (admin)',
      tag: 'Deploy templates',
      body: patchBody,
      status: 200,
      result: responses.deployTemplate,
    },
    delete: { summary: 'Delete a deploy template (admin)', tag: 'Deploy templates', status: 204 },
  },

  '/v1/allocations': {
    post: {
      summary: 'Allocate a node by resource class and traits',
      tag: 'Allocations',
      body: createAllocation,
      status: 201,
      result: responses.allocation,
    },
    get: {
      summary: 'List allocations',
      tag: 'Allocations',
      query: allocationListQuery,
      status: 200,
      result: responses.page('allocations', responses.allocation, 'AllocationPage'),
    },
  },
  '/v1/allocations/{allocation}': {
    get: { summary: 'Show an allocation', tag: 'Allocations', status: 200, result: responses.allocation },
    patch: {
      summary: 'Rename an allocation or change its extra',
      tag: 'Allocations',
      body: patchBody,
      status: 200,
      result: responses.allocation,
    },
    delete: { summary: 'Delete an allocation, freeing its node', tag: 'Allocations', status: 204 },
  },

  '/v1/reservations': {
    post: {
      summary: 'Reserve nodes for a lessee over a time window',
      tag: 'Reservations',
      body: createReservation,
      status: 201,
      result: responses.reservation,
      extra: {
        409: {
          description: 'Not enough free nodes in the window, or a conflict',
          ...json(z.union([responses.capacityRefusal, responses.errorBody])),
        },
      },
    },
    get: {
      summary: 'List reservations',
      tag: 'Reservations',
      query: reservationListQuery,
      status: 200,
      result: responses.page('reservations', responses.reservation, 'ReservationPage'),
    },
  },
  '/v1/reservations/{reservation}': {
    get: { summary: 'Show a reservation', tag: 'Reservations', status: 200, result: responses.reservation },
    patch: {
      summary: 'Move a reservation’s end',
      tag: 'Reservations',
      body: changeReservation,
      status: 200,
      result: responses.reservation,
      extra: {
        409: {
          description: 'Not enough free nodes for the extension, or the reservation has ended',
          ...json(z.union([responses.capacityRefusal, responses.errorBody])),
        },
      },
    },
    delete: { summary: 'Cancel a reservation', tag: 'Reservations', status: 202, result: responses.reservation },
  },
  '/v1/reservations/{reservation}/events': {
    get: { summary: 'A reservation’s events', tag: 'Reservations', query: pageQuery, status: 200, result: eventPage },
  },
  '/v1/reservation_schedules': {
    post: {
      summary: 'Create a recurring reservation (a Temporal Schedule)',
      tag: 'Reservations',
      body: createSchedule,
      status: 201,
      result: responses.reservationSchedule,
    },
    get: {
      summary: 'List reservation schedules',
      tag: 'Reservations',
      query: pageQuery,
      status: 200,
      result: responses.page('reservation_schedules', responses.reservationSchedule, 'ReservationSchedulePage'),
    },
  },
  '/v1/reservation_schedules/{schedule}': {
    get: {
      summary: 'Show a reservation schedule',
      tag: 'Reservations',
      status: 200,
      result: responses.reservationSchedule,
    },
    patch: {
      summary: 'Pause or resume a reservation schedule',
      tag: 'Reservations',
      body: changeSchedule,
      status: 200,
      result: responses.reservationSchedule,
    },
    delete: { summary: 'Delete a reservation schedule', tag: 'Reservations', status: 204 },
  },

  '/v1/warm_pools': {
    post: {
      summary: 'Keep a count or share of a class’s available nodes pre-booted',
      tag: 'Warm pools',
      body: createWarmPool,
      status: 201,
      result: responses.warmPool,
    },
    get: {
      summary: 'List warm pools',
      tag: 'Warm pools',
      query: warmPoolListQuery,
      status: 200,
      result: responses.page('warm_pools', responses.warmPool, 'WarmPoolPage'),
    },
  },
  '/v1/warm_pools/{pool}': {
    get: {
      summary: 'Show a warm pool, with its target and how many are warm',
      tag: 'Warm pools',
      status: 200,
      result: responses.warmPool,
    },
    patch: {
      summary: 'Change a warm pool’s name, traits, target or check interval',
      tag: 'Warm pools',
      body: patchBody,
      status: 200,
      result: responses.warmPool,
    },
    delete: { summary: 'Delete a warm pool (its nodes stay as they are)', tag: 'Warm pools', status: 204 },
  },
  '/v1/warm_pools/{pool}/nodes': {
    get: {
      summary: 'The pool’s nodes and which are warm',
      tag: 'Warm pools',
      status: 200,
      result: responses.warmPoolNodes,
    },
  },

  '/v1/events': {
    get: {
      summary: 'The event log, newest first',
      tag: 'Events',
      query: eventListQuery,
      status: 200,
      result: eventPage,
    },
  },
  '/v1/drivers': {
    get: { summary: 'BMC drivers and what each can do', tag: 'Drivers', status: 200, result: responses.driverList },
  },
  '/v1/drivers/{driver}': {
    get: { summary: 'Show a driver', tag: 'Drivers', status: 200, result: responses.driver },
  },
  '/v1/drivers/{driver}/properties': {
    get: {
      summary: 'A driver’s driver_info keys (Ironic’s shape)',
      tag: 'Drivers',
      status: 200,
      result: responses.driverProperties,
    },
  },

  '/v1/lookup': {
    get: {
      summary: 'Agent: find my node by my MAC addresses',
      tag: 'Agent listener',
      query: lookupQuery,
      status: 200,
      result: responses.agentLookup,
      open: true,
    },
  },
  '/v1/heartbeat/{node}': {
    post: {
      summary: 'Agent: heartbeat (agent token required)',
      tag: 'Agent listener',
      body: heartbeatBody,
      status: 202,
      open: true,
    },
  },
  '/v1/command_result/{node}': {
    post: {
      summary: 'Agent: push an asynchronous command’s result',
      tag: 'Agent listener',
      body: commandResultBody,
      status: 202,
      open: true,
    },
  },
  '/v1/boot/ipxe': {
    get: {
      summary: 'iPXE script for a network-booting machine (text/plain)',
      tag: 'Agent listener',
      query: ipxeQuery,
      status: 200,
      open: true,
    },
  },
};

const AGENT_LISTENER_NOTE =
  'Operations tagged "Agent listener" are served on the agents\u2019 own listener (AGENT_API_PORT, meant for the ' +
  'provisioning network), not on the tenant API.';

function buildDocument() {
  const paths: ZodOpenApiPathsObject = Object.fromEntries(
    Object.entries(ROUTES).map(([path, methods]) => [
      path,
      Object.fromEntries(
        Object.entries(methods).map(([method, op]) => [method, operation(path, method as Method, op)]),
      ),
    ]),
  );
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'Tempered API',
      version: MAX_API_VERSION,
      description:
        'Bare-metal provisioning on Temporal, in OpenStack Ironic\u2019s resource names. The version is the newest ' +
        `Ironic microversion answered. ${AGENT_LISTENER_NOTE}`,
    },
    security: [{ bearer: [] }],
    components: {
      securitySchemes: {
        bearer: { type: 'http', scheme: 'bearer', description: 'An API token (tmp_…); X-Auth-Token works too.' },
      },
    },
    paths,
  });
}

let built: ReturnType<typeof buildDocument> | undefined;

/** The document, built once (the schemas do not change while the process runs). */
export function openApiDocument(): ReturnType<typeof buildDocument> {
  built ??= buildDocument();
  return built;
}
