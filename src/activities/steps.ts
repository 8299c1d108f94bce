// Activities of the step engine: the plan, running out-of-band steps, and recording progress.
import { ApplicationFailure } from '@temporalio/common';
import { templatesForTraits } from '../db/deploy-templates.js';
import { insertEvent } from '../db/events.js';
import { updateNode } from '../db/nodes.js';
import { inTransaction, type Pool } from '../db/pool.js';
import { orderSteps, overlaySteps, stepName, type Step, type StepKind, type StepResult } from '../domain/steps.js';
import { driverSteps } from '../drivers/steps.js';
import type { RequestContext, RequestedStep } from '../workflows/contract.js';
import { connectBmc } from './bmc.js';
import { eventOrigin } from './node-state.js';
import { requireNode } from './nodes.js';

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
    async planSteps(
      nodeUuid: string,
      kind: StepKind,
      requested: RequestedStep[] | undefined,
      agentSteps: Step[],
      withAgent: boolean,
    ): Promise<Step[]> {
      const node = await requireNode(pool, nodeUuid);
      const available = [...driverSteps(node.driver, kind).map((s) => s.definition), ...agentSteps];
      if (requested) {
        const byName = new Map(available.map((s) => [stepName(s), s]));
        return requested.map((r) => {
          const known = byName.get(stepName(r));
          if (!known) {
            throw ApplicationFailure.nonRetryable(
              `unknown ${kind} step ${stepName(r)}${withAgent ? '' : ' (the ramdisk is disabled: only out-of-band steps run)'}`,
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
        t.steps.map((s): Step => ({ abortable: false, reboot_requested: false, runner: 'bmc', ...s })),
      );
      return orderSteps(overlaySteps(available, templateSteps), node.driver);
    },

    async recordStep({ nodeUuid, kind, step, phase, context }: StepProgress): Promise<void> {
      const field = kind === 'clean' ? 'clean_step' : 'deploy_step';
      const shown = { interface: step.interface, step: step.step, priority: step.priority, runner: step.runner };
      await inTransaction(pool, async (client) => {
        await updateNode(client, nodeUuid, { [field]: phase === 'start' ? shown : null });
        await insertEvent(client, {
          node_uuid: nodeUuid,
          kind: 'provision',
          verb: `${kind} step ${phase}`,
          message: stepName(step),
          ...eventOrigin(context),
        });
      });
    },

    async bmcRunStep(nodeUuid: string, kind: StepKind, step: Step, attempt: number, state: unknown): Promise<StepResult> {
      const node = await requireNode(pool, nodeUuid);
      const implementation = driverSteps(node.driver, kind).find((s) => stepName(s.definition) === stepName(step));
      if (!implementation) {
        throw ApplicationFailure.nonRetryable(`driver ${node.driver} has no ${kind} step ${stepName(step)}`, 'UnknownStep');
      }
      return connectBmc(node, (bmc) => implementation.run(bmc, step.args, attempt, state));
    },
  };
}
