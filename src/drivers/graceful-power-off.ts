// Graceful power off with a forced fallback, for any driver, as an out-of-band step: the OS gets
// `forceAfterSeconds` to shut down after the soft request, then the power is cut. Between checks
// the workflow sleeps durably, so a machine that ignores ACPI costs no worker time.
import { done, rerunAfter, type StepResult } from '../domain/steps.js';
import type { Bmc } from './types.js';

export interface GracefulPowerOffState {
  /** When the soft power off was asked for, in ms since the epoch. */
  requestedAtMs: number;
}

const CHECK_EVERY_SECONDS = 5;

export async function powerOffGracefully(
  bmc: Bmc,
  forceAfterSeconds: number,
  state: GracefulPowerOffState | undefined,
  now = Date.now(),
): Promise<StepResult<GracefulPowerOffState>> {
  if ((await bmc.getPowerState()) === 'power off') return done();
  if (!state) {
    await bmc.setPowerState('soft power off');
    return rerunAfter(Math.min(CHECK_EVERY_SECONDS, forceAfterSeconds), { requestedAtMs: now });
  }
  const remainingSeconds = forceAfterSeconds - (now - state.requestedAtMs) / 1000;
  // Forcing is idempotent, so a check after the deadline simply forces again until the power is off.
  if (remainingSeconds <= 0) await bmc.setPowerState('power off');
  return rerunAfter(Math.max(1, Math.min(CHECK_EVERY_SECONDS, Math.ceil(remainingSeconds))), state);
}
