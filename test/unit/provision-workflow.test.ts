// provisionWorkflow and its step runner against mocked activities on Temporal's time-skipping
// test server: the branches an operator meets (a failing agent step, abort, a cancel from the
// Temporal UI, fast-track, RerunAfter's state, RunNext, a lost command report, reboot_requested),
// each in well under a second. test/integration/step-engine.test.ts runs the engine against real
// activities and PostgreSQL; these check what the workflow decides, with every answer scripted.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { Context } from '@temporalio/activity';
import { WorkflowFailedError, type WorkflowHandle } from '@temporalio/client';
import { ApplicationFailure, CancelledFailure } from '@temporalio/common';
import type { AgentActivities, BmcActivities, RecordActivities } from '../../src/activities/index.js';
import type { FinalBootChoice } from '../../src/domain/final-boot.js';
import type { PowerState, PowerTarget } from '../../src/domain/power.js';
import { nextState, type ProvisionState, type Verb } from '../../src/domain/provision.js';
import { done, rerunAfter, runNext, type Step, type StepResult } from '../../src/domain/steps.js';
import { nodeWorkflowId } from '../../src/workflows/contract.js';
import { BASELINE_PATCH, IN_BASELINE } from '../../src/workflows/patches.js';
import { powerWorkflow } from '../../src/workflows/power.js';
import { provisionWorkflow } from '../../src/workflows/provision.js';
import { abortSignal, agentCommandEndedSignal, agentHeartbeatSignal, planQuery } from '../../src/workflows/signals.js';
import { startTimeSkippingWorker, type TimeSkippingWorker } from '../support/time-skipping.js';
import { resultWithin } from '../support/workflows.js';

const step = (name: string, extra: Partial<Step> = {}): Step => ({
  interface: 'test',
  step: name,
  priority: 10,
  args: {},
  abortable: false,
  reboot_requested: false,
  runner: 'bmc',
  ...extra,
});

/** One scripted node: what each activity answers, and what the workflow asked of it, in order. */
class MockNode {
  state: ProvisionState;
  target: ProvisionState | null = null;
  lastError: string | null = null;
  power: PowerState = 'power off';
  agentAlive = false;
  keepAgent = false;
  /** Ramdisk boots heartbeat at once unless a test makes the agent silent. */
  agentHeartbeats = true;
  ramdiskInserted = false;
  plan: Step[] = [];
  agentSteps: Step[] = [];
  finalBoot: FinalBootChoice = { method: 'reboot' };
  kernelFound = true;
  kexecFails = false;
  ejectFails = false;
  /** The BMC takes power requests but the machine never gets there. */
  powerStuck = false;
  /** Power requests the BMC fails (retryably) before it takes one. */
  powerRequestFailures = 0;
  readonly calls: string[] = [];
  runBmcStep: (step: Step, attempt: number, state: unknown) => StepResult = () => done();
  startAgentStep: (step: Step) => { status: 'RUNNING' | 'SUCCEEDED' | 'FAILED'; error?: string } = () => ({
    status: 'SUCCEEDED',
  });
  commandStatus: () => { status: 'RUNNING' | 'SUCCEEDED' | 'FAILED'; error?: string } = () => ({ status: 'SUCCEEDED' });

  constructor(
    readonly uuid: string,
    from: ProvisionState,
  ) {
    this.state = from;
  }
}

type HistoryEvent = NonNullable<Awaited<ReturnType<WorkflowHandle['fetchHistory']>>['events']>[number];

/** The local activities a history ran, in order, by type (from their markers). */
function localActivities(events: HistoryEvent[]): string[] {
  return events.flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    const data = marker?.markerName === 'core_local_activity' && marker.details?.data?.payloads?.[0]?.data;
    return data ? [JSON.parse(Buffer.from(data).toString()).activity_type as string] : [];
  });
}

/** The patches a history took, in order, by id (from their markers). */
function patchIds(events: HistoryEvent[]): string[] {
  return events.flatMap((e) => {
    const marker = e.markerRecordedEventAttributes;
    if (marker?.markerName !== 'core_patch') return [];
    const data = Object.values(marker.details ?? {})[0]?.payloads?.[0]?.data;
    return data ? [JSON.parse(Buffer.from(data).toString()).id as string] : [];
  });
}

describe('provision workflow (mocked activities, time-skipping)', () => {
  let temporal: TimeSkippingWorker;
  const nodes = new Map<string, MockNode>();
  const node = (uuid: string) => nodes.get(uuid)!;
  const handleOf = (uuid: string) => temporal.testEnv.client.workflow.getHandle(nodeWorkflowId(uuid));

  const records: Partial<RecordActivities> = {
    async transitionProvision({ nodeUuid, event, error }) {
      const n = node(nodeUuid);
      const next = nextState(
        { provision_state: n.state, target_provision_state: n.target, maintenance: false, retired: false },
        event,
      );
      n.calls.push(`transition ${event} -> ${next.provision_state}`);
      [n.state, n.target, n.lastError] = [
        next.provision_state,
        next.target_provision_state,
        error ?? (event === 'done' ? null : n.lastError),
      ];
      return next;
    },
    async agentStatus(nodeUuid) {
      return { alive: node(nodeUuid).agentAlive, bootTimeoutSeconds: 600 };
    },
    async recordBoot(nodeUuid, into, _context, how = {}) {
      node(nodeUuid).calls.push(`${how.kexec ? 'kexec' : 'boot'} ${into}${how.note ? `: ${how.note}` : ''}`);
    },
    async finalBootChoice(nodeUuid) {
      return node(nodeUuid).finalBoot;
    },
    async forgetAgent(nodeUuid) {
      node(nodeUuid).agentAlive = false;
      node(nodeUuid).calls.push('forget agent');
    },
    async keepAgentAfterCleaning(nodeUuid) {
      return node(nodeUuid).keepAgent;
    },
    async recordPowerState() {},
    async beginPowerChange(nodeUuid, target) {
      node(nodeUuid).calls.push(`begin ${target}`);
    },
    async failPowerChange(nodeUuid, target, error) {
      node(nodeUuid).calls.push(`failed ${target}: ${error}`);
    },
    async planSteps({ nodeUuid, agentSteps }) {
      return [...node(nodeUuid).plan, ...agentSteps];
    },
    async recordStep({ nodeUuid, step: s, phase }) {
      node(nodeUuid).calls.push(`${phase} ${s.interface}.${s.step}`);
    },
  };

  const bmc: Partial<BmcActivities> = {
    async bmcVerify(nodeUuid) {
      return node(nodeUuid).power;
    },
    async bmcGetPowerState(nodeUuid) {
      return node(nodeUuid).power;
    },
    async bmcAwaitPowerState(nodeUuid, wanted) {
      return node(nodeUuid).power === wanted;
    },
    async bmcSetPowerState(nodeUuid: string, target: PowerTarget) {
      const n = node(nodeUuid);
      if (n.powerRequestFailures > 0) {
        n.powerRequestFailures--;
        n.calls.push(`${target} refused (${Context.current().info.isLocal ? 'local activity' : 'activity'})`);
        throw ApplicationFailure.retryable('the BMC is busy', 'BmcUnreachableError');
      }
      n.calls.push(target);
      if (n.powerStuck) return n.power;
      n.power = target === 'power off' ? 'power off' : 'power on';
      // A booted ramdisk's agent says hello, as the agent API would signal it. Awaited: the power
      // call may be a local activity, which the time-skipping server does not see, and a signal still
      // on its way would let it skip time to the heartbeat wait's end first.
      if (n.power === 'power on' && n.agentHeartbeats && n.ramdiskInserted) {
        n.agentAlive = true;
        await handleOf(nodeUuid).signal(agentHeartbeatSignal, {
          agentUrl: 'http://192.0.2.10:9999',
          at: new Date().toISOString(),
        });
      }
      return n.power;
    },
    async bmcChangePower(nodeUuid, target, { showTarget }) {
      if (showTarget) node(nodeUuid).calls.push(`begin ${target}`);
      const state = await bmc.bmcSetPowerState!(nodeUuid, target);
      // Recording "power off" ends the agent's session (savePowerState).
      if (state === 'power off') node(nodeUuid).agentAlive = false;
      return state;
    },
    async bmcPrepareRamdiskBoot(nodeUuid) {
      node(nodeUuid).ramdiskInserted = true;
      node(nodeUuid).calls.push('prepare ramdisk boot');
    },
    async bmcFinishRamdiskBoot(nodeUuid) {
      if (node(nodeUuid).ejectFails) throw ApplicationFailure.nonRetryable('the BMC refused', 'BmcError');
      node(nodeUuid).ramdiskInserted = false;
      node(nodeUuid).calls.push('finish ramdisk boot');
    },
    async bmcSetBootDevice(nodeUuid, device, persistent) {
      node(nodeUuid).calls.push(`boot device ${device}${persistent ? ' persistent' : ''}`);
    },
    async bmcRunStep(nodeUuid, _kind, s, attempt, state) {
      return node(nodeUuid).runBmcStep(s, attempt, state);
    },
  };

  const agent: Partial<AgentActivities> = {
    async agentListSteps(nodeUuid) {
      return node(nodeUuid).agentSteps;
    },
    async agentStartStep(nodeUuid, _kind, s) {
      return { commandId: `cmd-${s.step}`, ...node(nodeUuid).startAgentStep(s) };
    },
    async agentCommandStatus(nodeUuid, commandId) {
      node(nodeUuid).calls.push(`command status ${commandId}`);
      return node(nodeUuid).commandStatus();
    },
    async agentFindKernel(nodeUuid) {
      return node(nodeUuid).kernelFound
        ? { found: { root_partition_uuid: 'p2', kernel: '/boot/vmlinuz-6', cmdline: 'root=PARTUUID=p2 ro' } }
        : { found: null, reason: 'no vmlinuz' };
    },
    async agentKexec(nodeUuid) {
      if (node(nodeUuid).kexecFails) throw ApplicationFailure.nonRetryable('kexec: bad kernel', 'KexecFailed');
      node(nodeUuid).calls.push('agent kexec');
    },
  };

  before(async () => {
    temporal = await startTimeSkippingWorker({ ...records, ...bmc, ...agent }, 'provision-mock');
  });

  after(() => temporal?.stop());

  /** A power-on of a fresh manageable node, `setUp` scripting its BMC first. */
  async function startPowerOn(setUp: (n: MockNode) => void = () => {}) {
    const n = new MockNode(randomUUID(), 'manageable');
    setUp(n);
    nodes.set(n.uuid, n);
    const workflow = await temporal.testEnv.client.workflow.start(powerWorkflow, {
      workflowId: nodeWorkflowId(n.uuid),
      taskQueue: temporal.taskQueue,
      args: [
        {
          nodeUuid: n.uuid,
          target: 'power on',
          context: { user: 'tester', project: null, requestId: `req-${n.uuid}` },
        },
      ],
    });
    return { n, workflow };
  }

  async function start(
    verb: Verb,
    from: ProvisionState,
    setUp: (n: MockNode) => void = () => {},
  ): Promise<{ n: MockNode; workflow: WorkflowHandle<typeof provisionWorkflow> }> {
    const n = new MockNode(randomUUID(), from);
    setUp(n);
    nodes.set(n.uuid, n);
    const context = { user: 'tester', project: null, requestId: `req-${n.uuid}` };
    const handle = await temporal.testEnv.client.workflow.start(provisionWorkflow, {
      workflowId: nodeWorkflowId(n.uuid),
      taskQueue: temporal.taskQueue,
      args: [{ nodeUuid: n.uuid, verb, fromState: from, context }],
      workflowExecutionTimeout: '1 day',
    });
    return { n, workflow: handle };
  }

  /** Waits (real time, at most 30 s) until the workflow has brought the node to `state`; time does not skip meanwhile. */
  async function until(n: MockNode, state: ProvisionState): Promise<void> {
    await waitFor(
      () => n.state === state,
      () => `node reached "${state}" (it is "${n.state}")`,
    );
  }

  async function waitFor(reached: () => boolean | Promise<boolean>, what: () => string): Promise<void> {
    for (let i = 0; !(await reached()); i++) {
      assert.ok(i < 3000, what());
      await delay(10);
    }
  }

  /**
   * Until the ramdisk's boot has powered the machine on and that activity's end is in the history,
   * so the workflow is in its heartbeat wait. A cancel sent while the activity still runs can race
   * its completion, and the time-skipping test server then refuses the workflow's cancel of the
   * activity and never gives the workflow another task (a test-server defect; the real server does not).
   */
  async function untilBootedIntoHeartbeatWait(n: MockNode, workflow: WorkflowHandle): Promise<void> {
    await waitFor(
      async () => n.calls.includes('power on') && (await activitiesOpen(workflow)) === 0,
      () => `the ramdisk boot powered on (calls: ${n.calls.join(', ')})`,
    );
  }

  async function activitiesOpen(workflow: WorkflowHandle): Promise<number> {
    const events = (await workflow.fetchHistory()).events ?? [];
    const scheduled = events.filter((e) => e.activityTaskScheduledEventAttributes).length;
    const closed = events.filter(
      (e) =>
        e.activityTaskCompletedEventAttributes ||
        e.activityTaskFailedEventAttributes ||
        e.activityTaskTimedOutEventAttributes ||
        e.activityTaskCanceledEventAttributes,
    ).length;
    return scheduled - closed;
  }

  it('cleans with a fresh ramdisk: boots it, waits for the heartbeat, runs the plan, then rests the machine', async () => {
    const { n, workflow } = await start('provide', 'manageable', (m) => (m.plan = [step('erase')]));
    assert.equal(await resultWithin(workflow), 'available');
    assert.deepEqual(n.calls, [
      'transition provide -> cleaning',
      'transition wait -> clean wait',
      'prepare ramdisk boot',
      'boot ramdisk',
      'power off',
      'power on',
      'transition resume -> cleaning',
      'start test.erase',
      'end test.erase',
      'power off',
      'finish ramdisk boot',
      'transition done -> available',
    ]);
    assert.equal(n.agentAlive, false, 'the power off ended the agent session');
  });

  it('fast-tracks: a live agent is used without a boot, and cleaning leaves it running', async () => {
    const { n, workflow } = await start('provide', 'manageable', (m) => {
      m.agentAlive = m.keepAgent = true;
      m.power = 'power on';
      m.agentSteps = [step('erase_devices', { runner: 'agent' })];
    });
    assert.equal(await resultWithin(workflow), 'available');
    assert.deepEqual(n.calls, [
      'transition provide -> cleaning',
      'start test.erase_devices',
      'end test.erase_devices',
      'transition done -> available',
    ]);
    assert.equal(n.power, 'power on');
  });

  it('deploys on a fast-tracked agent and boots the instance', async () => {
    const { n, workflow } = await start('deploy', 'available', (m) => {
      m.agentAlive = true;
      m.agentSteps = [step('write_image', { runner: 'agent' })];
    });
    assert.equal(await resultWithin(workflow), 'active');
    assert.ok(!n.calls.includes('prepare ramdisk boot'), 'no ramdisk boot');
    assert.deepEqual(n.calls.slice(-5), [
      'finish ramdisk boot',
      'boot instance',
      'power off',
      'power on',
      'transition done -> active',
    ]);
  });

  it('takes one patch in a new operation, the baseline standing for all the others: one marker, one change-version write', async () => {
    const { workflow } = await start('deploy', 'available', (m) => {
      m.agentAlive = true;
      m.plan = [step('prepare_instance_boot', { quick: true })];
    });
    assert.equal(await resultWithin(workflow), 'active');
    const events = (await workflow.fetchHistory()).events ?? [];
    assert.deepEqual(patchIds(events), [BASELINE_PATCH]);
    const changeVersionWrites = events.filter(
      (e) => e.upsertWorkflowSearchAttributesEventAttributes?.searchAttributes?.indexedFields?.TemporalChangeVersion,
    );
    assert.equal(changeVersionWrites.length, 1);
  });

  it('keeps the baseline patch standing for the same patches: an operation begun on it replays with exactly these', () => {
    assert.deepEqual([...IN_BASELINE].sort(), [
      'boot-power-activities',
      'boot-power-guarded',
      'clean-rests-once',
      'kexec-final-boot',
      'power-calls-local',
      'power-change-one-call',
      'power-wait-in-activity',
      'quick-calls-local',
      'quick-steps-local',
      'search-attributes-when-changed',
      'temporal-ui-details',
      'verify-local',
      'verify-records-power',
    ]);
  });

  it('runs a quick out-of-band step (setting the boot device) as a local activity, the others as activities', async () => {
    const { n, workflow } = await start('deploy', 'available', (m) => {
      m.agentAlive = true;
      m.plan = [step('prepare_instance_boot', { quick: true }), step('apply_bios', { priority: 5 })];
    });
    assert.equal(await resultWithin(workflow), 'active');
    assert.ok(n.calls.includes('end test.prepare_instance_boot'), n.calls.join(', '));
    const { events } = await workflow.fetchHistory();
    assert.ok(localActivities(events ?? []).includes('bmcRunStep'), 'the quick step ran locally');
    assert.deepEqual(
      (events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []),
      ['bmcRunStep'],
      'only the other step went through the task queue',
    );
  });

  it('kexecs into the instance from a fast-tracked agent: disk set to boot next, no power change', async () => {
    const { n, workflow } = await start('deploy', 'available', (m) => {
      m.agentAlive = true;
      m.finalBoot = { method: 'kexec' };
    });
    assert.equal(await resultWithin(workflow), 'active');
    assert.ok(!n.calls.some((c) => c.startsWith('power')), n.calls.join(', '));
    assert.deepEqual(n.calls.slice(-5), [
      'boot device disk persistent',
      'agent kexec',
      'finish ramdisk boot',
      'kexec instance: /boot/vmlinuz-6 root=PARTUUID=p2 ro',
      'transition done -> active',
    ]);
  });

  it('reboots into the instance when kexec cannot work, naming why', async () => {
    const cases: [Partial<MockNode>, string][] = [
      [{ kernelFound: false }, 'boot instance: no kernel to kexec: no vmlinuz; rebooted instead'],
      [{ kexecFails: true }, 'boot instance: kexec failed (kexec: bad kernel): rebooted instead'],
      [{ finalBoot: { method: 'reboot', fallback: 'secure boot is on' } }, 'boot instance: secure boot is on'],
    ];
    for (const [setting, bootCall] of cases) {
      const { n, workflow } = await start('deploy', 'available', (m) => {
        Object.assign(m, { agentAlive: true, finalBoot: { method: 'kexec' } }, setting);
      });
      assert.equal(await resultWithin(workflow), 'active');
      assert.deepEqual(n.calls.slice(-4), [bootCall, 'power off', 'power on', 'transition done -> active']);
    }
  });

  it('never reboots an instance it kexec-ed into: a failure after the kexec fails the deploy', async () => {
    const { n, workflow } = await start('deploy', 'available', (m) => {
      Object.assign(m, { agentAlive: true, finalBoot: { method: 'kexec' }, ejectFails: true });
    });
    await assert.rejects(workflow.result(), WorkflowFailedError);
    assert.equal(n.state, 'deploy failed');
    assert.ok(!n.calls.some((c) => c.startsWith('boot instance')), n.calls.join(', '));
  });

  it('hands a RerunAfter step its state back on each attempt, in the wait state, and inserts RunNext steps right after', async () => {
    const seen: unknown[] = [];
    const { n, workflow } = await start('clean', 'manageable', (m) => {
      m.agentAlive = true;
      m.plan = [step('firmware'), step('last')];
      m.runBmcStep = (s, attempt, state) => {
        if (s.step !== 'firmware') return done();
        seen.push(state);
        return attempt < 2
          ? rerunAfter(600, { task: `/tasks/${attempt}` })
          : runNext([step('reset_bios'), step('apply_bios')]);
      };
    });
    assert.equal(await resultWithin(workflow), 'manageable');
    assert.deepEqual(seen, [undefined, { task: '/tasks/0' }, { task: '/tasks/1' }]);
    assert.deepEqual(
      n.calls.filter((c) => c.startsWith('start ') || c.includes('wait') || c.includes('resume')),
      [
        'start test.firmware',
        'transition wait -> clean wait',
        'transition resume -> cleaning',
        'transition wait -> clean wait',
        'transition resume -> cleaning',
        'start test.reset_bios',
        'start test.apply_bios',
        'start test.last',
      ],
    );
    const plan = await workflow.query(planQuery);
    assert.deepEqual(
      plan.map((s) => [s.name, s.status, s.reruns]),
      [
        ['test.firmware', 'done', 2],
        ['test.reset_bios', 'done', 0],
        ['test.apply_bios', 'done', 0],
        ['test.last', 'done', 0],
      ],
    );
  });

  it('fails on an agent step that failed, with the reason read from the agent, and powers the machine off', async () => {
    const { n, workflow } = await start('provide', 'manageable', (m) => {
      m.agentAlive = true;
      m.power = 'power on';
      m.agentSteps = [step('erase_devices', { runner: 'agent' }), step('never_runs', { runner: 'agent' })];
      m.startAgentStep = () => ({ status: 'FAILED' });
      m.commandStatus = () => ({ status: 'FAILED', error: 'erase_devices: shred exited 1' });
    });
    const failure = await resultWithin(workflow).then(
      () => assert.fail('the workflow failed'),
      (err: unknown) => err,
    );
    assert.ok(failure instanceof WorkflowFailedError);
    assert.deepEqual([n.state, n.target], ['clean failed', null]);
    assert.equal(n.lastError, 'clean step test.erase_devices failed: erase_devices: shred exited 1');
    assert.ok(!n.calls.includes('start test.never_runs'), 'nothing ran after the failed step');
    assert.deepEqual(n.calls.slice(-2), ['power off', 'finish ramdisk boot']);
    assert.deepEqual([n.power, n.agentAlive], ['power off', false]);
  });

  it('awaits a long agent command until its report, and finds the end itself when the report is lost', async () => {
    const reported = await start('clean', 'manageable', (m) => {
      m.agentAlive = true;
      m.agentSteps = [step('burn_in', { runner: 'agent' })];
      m.startAgentStep = () => ({ status: 'RUNNING' });
    });
    const reportedHandle = reported.workflow;
    await until(reported.n, 'clean wait');
    await reportedHandle.signal(agentCommandEndedSignal, { commandId: 'cmd-burn_in', status: 'SUCCEEDED' });
    assert.equal(await resultWithin(reportedHandle), 'manageable');
    assert.ok(!reported.n.calls.some((c) => c.startsWith('command status')), 'the report ended the wait');

    const lost = await start('clean', 'manageable', (m) => {
      m.agentAlive = true;
      m.agentSteps = [step('burn_in', { runner: 'agent' })];
      m.startAgentStep = () => ({ status: 'RUNNING' });
      let checks = 0;
      m.commandStatus = () => (++checks < 3 ? { status: 'RUNNING' } : { status: 'SUCCEEDED' });
    });
    const lostHandle = lost.workflow;
    assert.equal(await resultWithin(lostHandle), 'manageable');
    assert.equal(lost.n.calls.filter((c) => c === 'command status cmd-burn_in').length, 3);
    const { closeTime, startTime } = await lostHandle.describe();
    // 30 s, then 60 s, then 60 s of workflow time: the slow checks back off.
    assert.ok((closeTime!.getTime() - startTime.getTime()) / 1000 >= 150);
  });

  it('aborts an abortable step in its wait at once, ending in clean failed without failing the workflow', async () => {
    const { n, workflow } = await start('provide', 'manageable', (m) => {
      m.agentAlive = true;
      m.plan = [step('slow', { abortable: true }), step('after')];
      m.runBmcStep = () => rerunAfter(86_400);
    });
    await until(n, 'clean wait');
    await workflow.signal(abortSignal, { user: 'operator', requestId: 'req-abort' });
    assert.equal(await resultWithin(workflow), 'clean failed');
    assert.equal(n.lastError, 'aborted on request while clean wait');
    assert.ok(!n.calls.includes('start test.after'));
    assert.equal(n.calls.filter((c) => c === 'start test.slow').length, 1, 'the step was not run again');
    assert.deepEqual(n.calls.slice(-3), ['transition abort -> clean failed', 'power off', 'finish ramdisk boot']);
    assert.equal(n.agentAlive, false);
  });

  it('lets a step that is not abortable finish its wait, then aborts in the wait state', async () => {
    const { n, workflow } = await start('provide', 'manageable', (m) => {
      m.agentAlive = true;
      m.plan = [step('firmware'), step('after')];
      m.runBmcStep = () => rerunAfter(3600);
    });
    await until(n, 'clean wait');
    await workflow.signal(abortSignal, { user: 'operator', requestId: 'req-abort' });
    assert.equal(await resultWithin(workflow), 'clean failed');
    assert.equal(n.lastError, 'aborted on request while clean wait');
    const { closeTime, startTime } = await workflow.describe();
    assert.ok((closeTime!.getTime() - startTime.getTime()) / 1000 >= 3600, 'the hour-long wait was kept');
    assert.ok(!n.calls.includes('start test.after'));
  });

  it('aborts a deploy while the ramdisk boots, in wait call-back', async () => {
    const { n, workflow } = await start('deploy', 'available', (m) => {
      m.agentHeartbeats = false;
      m.agentSteps = [step('write_image', { runner: 'agent' })];
    });
    await untilBootedIntoHeartbeatWait(n, workflow);
    await workflow.signal(abortSignal, { user: 'operator', requestId: 'req-abort' });
    assert.equal(await resultWithin(workflow), 'deploy failed');
    assert.equal(n.lastError, 'aborted on request while wait call-back');
    assert.ok(!n.calls.includes('start test.write_image'));
    assert.equal(n.power, 'power off');
  });

  it('fails when the booted ramdisk never heartbeats', async () => {
    const { n, workflow } = await start('provide', 'manageable', (m) => (m.agentHeartbeats = false));
    await assert.rejects(resultWithin(workflow), WorkflowFailedError);
    assert.equal(n.state, 'clean failed');
    assert.equal(n.lastError, 'the agent did not heartbeat within 600 s of booting the ramdisk');
  });

  it('on a cancel from the Temporal UI, fails the node with the reason and powers it off', async () => {
    const { n, workflow } = await start('provide', 'manageable', (m) => (m.agentHeartbeats = false));
    await untilBootedIntoHeartbeatWait(n, workflow);
    await workflow.cancel();
    const failure = await resultWithin(workflow).then(
      () => assert.fail('the workflow was cancelled'),
      (err: unknown) => err,
    );
    assert.ok(failure instanceof WorkflowFailedError && failure.cause instanceof CancelledFailure);
    assert.deepEqual([n.state, n.lastError], ['clean failed', 'the operation was cancelled']);
    assert.deepEqual(n.calls.slice(-3), ['transition fail -> clean failed', 'power off', 'finish ramdisk boot']);
    assert.equal(n.agentAlive, false);
  });

  it('boots the ramdisk again after a step that asked for a reboot', async () => {
    const { n, workflow } = await start('clean', 'manageable', (m) => {
      m.agentAlive = true;
      m.plan = [step('apply_bios', { reboot_requested: true }), step('after')];
    });
    assert.equal(await resultWithin(workflow), 'manageable');
    const after = n.calls.slice(n.calls.indexOf('end test.apply_bios'));
    assert.deepEqual(after.slice(0, 4), [
      'end test.apply_bios',
      'transition wait -> clean wait',
      'prepare ramdisk boot',
      'boot ramdisk',
    ]);
    assert.ok(after.indexOf('start test.after') > after.indexOf('transition resume -> cleaning'));
  });

  it('fails a power change the machine never completes after 300 s, recording why', async () => {
    const { n, workflow } = await startPowerOn((m) => {
      m.powerStuck = true;
    });
    const failure = await resultWithin(workflow).then(
      () => assert.fail('the power change succeeded'),
      (err: unknown) => err,
    );
    assert.ok(failure instanceof WorkflowFailedError);
    assert.match(String(failure.cause?.message), /BMC did not reach "power on" within 300 s/);
    assert.deepEqual(n.calls.slice(0, 2), ['begin power on', 'power on']);
    assert.equal(n.calls.at(-1), 'failed power on: BMC did not reach "power on" within 300 s');
    const description = await workflow.describe();
    const seconds = (description.closeTime!.getTime() - description.startTime.getTime()) / 1000;
    assert.ok(seconds >= 300, `the workflow waited out the timeout (${seconds} s of workflow time)`);
  });

  it("asks again through an ordinary activity, with its retries, when a power call's one local try fails", async () => {
    const { n, workflow } = await startPowerOn((m) => {
      m.powerRequestFailures = 2;
    });
    assert.equal(await resultWithin(workflow), 'power on');
    // Each try shows the target again (a no-op on the node) before it asks the BMC.
    assert.deepEqual(n.calls, [
      'begin power on',
      'power on refused (local activity)',
      'begin power on',
      'power on refused (activity)',
      'begin power on',
      'power on',
    ]);
    const { events } = await workflow.fetchHistory();
    const scheduled = (events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []);
    assert.deepEqual(scheduled, ['bmcChangePower'], 'one ordinary activity, retried once');
  });

  it('changes power in one local activity, which also records the state the BMC reached at once', async () => {
    const { n, workflow } = await startPowerOn();
    assert.equal(await resultWithin(workflow), 'power on');
    assert.deepEqual(n.calls, ['begin power on', 'power on']);
    const { events } = await workflow.fetchHistory();
    assert.deepEqual(localActivities(events ?? []), ['bmcChangePower']);
    assert.equal(
      (events ?? []).filter((e) => e.activityTaskScheduledEventAttributes).length,
      0,
      'no ordinary activity',
    );
  });

  it('verifies (manage): asks the BMC in a local try and ends manageable, in one workflow task', async () => {
    const { n, workflow } = await start('manage', 'enroll');
    assert.equal(await resultWithin(workflow), 'manageable');
    assert.deepEqual(n.calls, ['transition manage -> verifying', 'transition done -> manageable']);
    const { events } = await workflow.fetchHistory();
    // The credentials check records the power state it read: no call of its own for that.
    assert.deepEqual(localActivities(events ?? []), ['transitionProvision', 'bmcVerify', 'transitionProvision']);
    assert.deepEqual(
      (events ?? []).flatMap((e) => e.activityTaskScheduledEventAttributes?.activityType?.name ?? []),
      [],
      'no ordinary activity',
    );
    assert.equal((events ?? []).filter((e) => e.workflowTaskCompletedEventAttributes).length, 1);
  });
});
