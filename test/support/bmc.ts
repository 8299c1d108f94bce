// Assertions on BMC drivers that unit and compat tests share.
import assert from 'node:assert/strict';
import type { PowerState } from '../../src/domain/power.js';
import { BmcError, type Bmc } from '../../src/drivers/types.js';

/** Polls the BMC until it reports `expected`; the default bound covers sushy-tools' 1–11 s late resets. */
export async function waitForPower(
  bmc: Bmc,
  expected: PowerState,
  { timeoutMs = 20_000, pollMs = 250 } = {},
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let state = await bmc.getPowerState();
  while (state !== expected) {
    if (Date.now() > deadline) assert.fail(`power state stayed "${state}" for ${timeoutMs} ms, expected "${expected}"`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
    state = await bmc.getPowerState();
  }
}

export async function rejectsWithKind(promise: Promise<unknown>, kind: BmcError['kind']): Promise<BmcError> {
  const error = await promise.then(
    () => assert.fail(`expected a BmcError of kind ${kind}`),
    (caught: unknown) => caught,
  );
  assert.ok(error instanceof BmcError, `expected a BmcError, got ${String(error)}`);
  assert.equal(error.kind, kind, error.message);
  return error;
}
