// Out-of-band steps: the clean, deploy and service steps a BMC runs, per driver. Each answers a
// StepResult, so a slow one (a firmware update) says "check again in N seconds" instead of
// holding a worker.
import { done, failed, rerunAfter, runNext, type Step, type StepKind, type StepResult } from '../domain/steps.js';
import { BmcError, type BiosApplyState, type BiosSettings, type Bmc, type FirmwareUpdateState } from './types.js';

export interface DriverStep {
  definition: Step;
  kinds: readonly StepKind[];
  /** `attempt` counts the reruns so far; `state` is what the previous call handed on with RerunAfter. */
  run(bmc: Bmc, args: Record<string, unknown>, attempt: number, state: unknown): Promise<StepResult>;
}

const bmcStep = (iface: string, step: string, priority: number, extra: Partial<Step> = {}): Step => ({
  interface: iface,
  step,
  priority,
  args: {},
  abortable: false,
  reboot_requested: false,
  runner: 'bmc',
  ...extra,
});

/** Every driver's: the instance boots from its disk from now on (after the agent's install_bootloader, 60). */
const prepareInstanceBoot: DriverStep = {
  definition: bmcStep('deploy', 'prepare_instance_boot', 55, { quick: true }),
  kinds: ['deploy'],
  async run(bmc) {
    await bmc.setBootDevice('disk', { persistent: true });
    return done();
  },
};

/**
 * The fake driver's steps exercise the step engine itself: one that is not finished until its
 * third re-check, one that asks for two more steps, the two it asks for, and one that reports a
 * failure. Priority 0: they run only when asked for by name.
 */
const testStep = (step: string, run: DriverStep['run']): DriverStep => ({
  definition: bmcStep('test', step, 0, { drivers: ['fake'], abortable: true }),
  kinds: ['clean', 'deploy', 'service'],
  run,
});

const FAKE_STEPS: DriverStep[] = [
  testStep('wait_three_times', async (_bmc, args, attempt) =>
    attempt < 3 ? rerunAfter(Number(args.seconds ?? 60)) : done(),
  ),
  testStep('spawn_two', async () => runNext([FAKE_STEPS[2].definition, FAKE_STEPS[3].definition])),
  testStep('first_spawned', async () => done()),
  testStep('second_spawned', async () => done()),
  testStep('report_failure', async (_bmc, args) => failed(String(args.message ?? 'the test step failed'))),
];

/**
 * Priority 0, like the next: run when a deploy template, a manual clean or a service asks, with their
 * args. The machine reboots for the settings to take effect, so the agent is booted again after it.
 */
const biosApply: DriverStep = {
  definition: bmcStep('bios', 'apply_configuration', 0, { reboot_requested: true }),
  kinds: ['clean', 'deploy', 'service'],
  async run(bmc, args, _attempt, state) {
    if (!bmc.applyBiosSettings) throw new BmcError('this BMC cannot apply BIOS settings', 'unsupported');
    return bmc.applyBiosSettings(args.settings as BiosSettings, state as BiosApplyState | undefined);
  },
};

const firmwareUpdate: DriverStep = {
  definition: bmcStep('firmware', 'update', 0),
  kinds: ['clean', 'deploy', 'service'],
  async run(bmc, args, _attempt, state) {
    if (!bmc.updateFirmware) throw new BmcError('this BMC cannot update firmware', 'unsupported');
    const request = { imageUrl: String(args.image_url), targets: args.targets as string[] | undefined };
    return bmc.updateFirmware(request, state as FirmwareUpdateState | undefined);
  },
};

const STEPS_BY_DRIVER: Record<string, DriverStep[]> = {
  fake: [prepareInstanceBoot, ...FAKE_STEPS],
  redfish: [prepareInstanceBoot, biosApply, firmwareUpdate],
};

export function driverSteps(driver: string, kind: StepKind): DriverStep[] {
  return (STEPS_BY_DRIVER[driver] ?? [prepareInstanceBoot]).filter((s) => s.kinds.includes(kind));
}
