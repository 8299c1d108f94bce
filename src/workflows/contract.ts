// What the API and the worker agree on: task queue, workflow IDs, search attributes and
// workflow inputs. Safe to import from workflow code (no I/O, no Node built-ins).
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';
import type { BootDevice } from '../domain/drivers.js';
import type { PowerTarget } from '../domain/power.js';
import type { RequestContext } from '../domain/context.js';
import type { ProvisionState, Verb } from '../domain/provision.js';
import type { RequestedStep } from '../domain/steps.js';

export const DEFAULT_TASK_QUEUE = 'tempered';

/** One running operation per node: the workflow ID is the lock. */
export function nodeWorkflowId(nodeUuid: string): string {
  return `node/${nodeUuid}`;
}

/** The node a workflow ID of nodeWorkflowId() names; undefined for other workflows. */
export function nodeOfWorkflowId(workflowId: string): string | undefined {
  return workflowId.startsWith('node/') ? workflowId.slice('node/'.length) : undefined;
}

/** The memo field with the id of the API request that started an operation (for its log lines). */
export const REQUEST_ID_MEMO = 'request_id';
/** The activity header carrying that request id to the activities' log lines. */
export const REQUEST_ID_HEADER = 'tempered-request-id';

export const NodeUuid = defineSearchAttributeKey('NodeUuid', SearchAttributeType.KEYWORD);
export const NodeName = defineSearchAttributeKey('NodeName', SearchAttributeType.KEYWORD);
export const Operation = defineSearchAttributeKey('Operation', SearchAttributeType.KEYWORD);
export const ProvisionStateKey = defineSearchAttributeKey('ProvisionState', SearchAttributeType.KEYWORD);
export const ReservationId = defineSearchAttributeKey('ReservationId', SearchAttributeType.KEYWORD);
export const Lessee = defineSearchAttributeKey('Lessee', SearchAttributeType.KEYWORD);
export const ResourceClass = defineSearchAttributeKey('ResourceClass', SearchAttributeType.KEYWORD);
/** The project of the caller who started the operation. */
export const Project = defineSearchAttributeKey('Project', SearchAttributeType.KEYWORD);
export const Driver = defineSearchAttributeKey('Driver', SearchAttributeType.KEYWORD);
/** The step (deploy.write_image) or phase (boot ramdisk) the operation is in: "which deploys are stuck in write_image". */
export const CurrentStep = defineSearchAttributeKey('CurrentStep', SearchAttributeType.KEYWORD);
export const SEARCH_ATTRIBUTES = [
  NodeUuid,
  NodeName,
  Operation,
  ProvisionStateKey,
  ReservationId,
  Lessee,
  ResourceClass,
  Project,
  Driver,
  CurrentStep,
];

export interface PowerInput {
  nodeUuid: string;
  target: PowerTarget;
  context: RequestContext;
}

/** A power change's one phase, its CurrentStep from the start (the API sets it): upserted again, it would cost a visibility write. */
export function powerPhase(target: PowerTarget): string {
  return `${target}: ask the BMC and wait until the machine is there`;
}

/** Read the node's boot device, after setting it when `device` is given (Ironic's management/boot_device). */
export interface BootDeviceInput {
  nodeUuid: string;
  device?: BootDevice;
  persistent?: boolean;
  context: RequestContext;
}

/** What the BMC says the next boot is: Ironic's {boot_device, persistent}; null when it does not override. */
export interface BootDeviceSetting {
  boot_device: BootDevice | null;
  persistent: boolean | null;
}

export interface ProvisionInput {
  nodeUuid: string;
  verb: Verb;
  /** The state the API saw when it accepted the verb; the first transition starts from it. */
  fromState: ProvisionState;
  context: RequestContext;
  /** Manual cleaning: these steps, in this order. */
  cleanSteps?: RequestedStep[];
  /** Servicing: these steps, in this order. */
  serviceSteps?: RequestedStep[];
  /** Run only out-of-band steps, without booting the ramdisk. */
  disableRamdisk?: boolean;
  /** The request row (instance_info, deployment record) the first transition applies: ids only in history. */
  handOver?: string;
}

/** One long-running workflow per warm pool. */
export function warmPoolWorkflowId(poolUuid: string): string {
  return `warm_pool/${poolUuid}`;
}

export interface WarmPoolInput {
  poolUuid: string;
  /** Who created the pool: the events of the boots it starts name them. */
  context: RequestContext;
}
