// Activities of the step engine's bookkeeping: the plan of a clean, deploy or service, and its progress
// on the node and in the event log. Running a step belongs to the BMC or the agent activities.
import { ApplicationFailure } from '@temporalio/common';
import { templatesForTraits } from '../db/deploy-templates.js';
import { recordEvent } from '../db/events.js';
import { updateNode } from '../db/nodes.js';
import { inTransaction, type Pool } from '../db/pool.js';
import type { RequestContext } from '../domain/context.js';
import {
  orderSteps,
  overlaySteps,
  RESERVED_STEPS,
  reservedStep,
  stepName,
  type RequestedStep,
  type Step,
  type StepKind,
} from '../domain/steps.js';
import { driverSteps } from '../drivers/steps.js';
import { onceEventOrigin } from './node-state.js';
import { requireNode } from './nodes.js';

/** A template's step is a BMC step, unless it names a reserved one. */
const TEMPLATE_STEP_DEFAULTS = { abortable: false, reboot_requested: false, runner: 'bmc' } as const;

export interface StepPlanRequest {
  nodeUuid: string;
  kind: StepKind;
  /** Manual cleaning and servicing: these steps, in this order; otherwise every enabled step. */
  requested?: RequestedStep[];
  /** The steps the node's agent offers; none when the operation runs without the ramdisk. */
  agentSteps: Step[];
  /** False when the ramdisk is disabled, so only out-of-band steps can run. */
  withRamdisk: boolean;
}

export interface StepProgress {
  nodeUuid: string;
  kind: StepKind;
  step: Step;
  phase: 'start' | 'end';
  context: RequestContext;
}

export function createStepActivities(pool: Pool) {
  return {
    /**
     * The plan: automated runs every enabled step (driver, agent, then deploy templates of the
     * node's traits overlaid) by priority; manual runs the requested steps in the order given.
     */
    async planSteps({ nodeUuid, kind, requested, agentSteps, withRamdisk }: StepPlanRequest): Promise<Step[]> {
      const node = await requireNode(pool, nodeUuid);
      const available = [...driverSteps(node.driver, kind).map((s) => s.definition), ...agentSteps];
      if (requested) {
        available.push(...RESERVED_STEPS);
        const byName = new Map(available.map((s) => [stepName(s), s]));
        return requested.map((r) => {
          const known = byName.get(stepName(r));
          if (!known) {
            throw ApplicationFailure.nonRetryable(
              `unknown ${kind} step ${stepName(r)}${withRamdisk ? '' : ' (the ramdisk is disabled: only out-of-band steps run)'}`,
              'UnknownStep',
            );
          }
          return { ...known, args: { ...known.args, ...r.args } };
        });
      }
      // As in Ironic, a deploy asking for traits (the deployment API's instance_info.traits) gets their
      // templates only; otherwise every trait of the node counts.
      const requestedTraits = node.instance_info.traits as string[] | undefined;
      const templates = kind === 'deploy' ? await templatesForTraits(pool, requestedTraits ?? node.traits) : [];
      const templateSteps = templates.flatMap((t) =>
        // deploy.wait in a template is the reserved wait, which the workflow runs itself.
        t.steps.map((s): Step => ({ ...(reservedStep(s) ?? TEMPLATE_STEP_DEFAULTS), ...s })),
      );
      return orderSteps(overlaySteps(available, templateSteps), node.driver);
    },

    /** Whether a requested step is neither the node's driver's nor a reserved one: only an agent can run it. */
    async stepsNeedAgent({ nodeUuid, kind, requested }: Omit<StepPlanRequest, 'agentSteps'>): Promise<boolean> {
      const node = await requireNode(pool, nodeUuid);
      const known = new Set(
        [...driverSteps(node.driver, kind).map((s) => s.definition), ...RESERVED_STEPS].map(stepName),
      );
      return (requested ?? []).some((step) => !known.has(stepName(step)));
    },

    async recordStep({ nodeUuid, kind, step, phase, context }: StepProgress): Promise<void> {
      const field = `${kind}_step` as const;
      const shown = { interface: step.interface, step: step.step, priority: step.priority, runner: step.runner };
      // The event's verb says what happened: "start deploy step", "finish clean step".
      const verb = `${phase === 'start' ? 'start' : 'finish'} ${kind} step`;
      await inTransaction(pool, async (client) => {
        await updateNode(client, nodeUuid, { [field]: phase === 'start' ? shown : null });
        await recordEvent(
          client,
          { node_uuid: nodeUuid, kind: 'provision', verb, message: stepName(step) },
          onceEventOrigin(context),
        );
      });
    },
  };
}
