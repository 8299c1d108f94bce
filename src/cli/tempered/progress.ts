// --wait: follows the nodes' operations through GET /v1/nodes/{id}/states until each settles,
// showing the running plan (step N of M, current step, elapsed): a bar per node on a terminal,
// a line per change otherwise (logs, CI).
import { MultiBar, Presets, type SingleBar } from 'cli-progress';
import { CliError, type ApiClient } from './api-client.js';

const POLL_MS = 500;
const UNSEEN_FAILURE_MS = 5000;

export interface WaitTarget {
  uuid: string;
  name: string;
}

/** What a node must reach: provision states that mean success, or a power state. */
export type Goal = { provision: string[] } | { power: string };

interface States {
  provision_state: string;
  target_provision_state: string | null;
  power_state: string | null;
  target_power_state: string | null;
  last_error: string | null;
  steps: { name: string; status: string }[] | null;
}

interface Progress {
  done: number;
  total: number;
  step: string;
}

/** Step N of M of the running plan, and the step that runs (or the state, between plans). */
export function planProgress(states: States): Progress {
  const steps = states.steps ?? [];
  const running = steps.findIndex((s) => s.status === 'running' || s.status === 'waiting');
  const done = steps.filter((s) => s.status === 'done').length;
  if (running >= 0)
    return { done, total: steps.length, step: `step ${running + 1}/${steps.length} ${steps[running].name}` };
  return { done, total: Math.max(steps.length, 1), step: steps.length ? `${done}/${steps.length} steps done` : '' };
}

/**
 * undefined while it runs; else whether it reached the goal. `begun`: the operation was seen
 * running (a power change shows its target only once its workflow has begun).
 */
function settled(states: States, goal: Goal, begun: boolean): boolean | undefined {
  if ('power' in goal) {
    if (states.target_power_state) return undefined;
    if (states.power_state === goal.power) return true;
    return begun && states.last_error ? false : undefined;
  }
  if (states.target_provision_state) return undefined;
  const failed = states.provision_state === 'error' || states.provision_state.endsWith(' failed');
  if (failed) return false;
  return goal.provision.includes(states.provision_state) ? true : states.last_error ? false : undefined;
}

export async function waitForNodes(api: ApiClient, targets: WaitTarget[], goal: Goal): Promise<void> {
  const started = Date.now();
  const elapsed = () => `${Math.round((Date.now() - started) / 1000)}s`;
  const interactive = Boolean(process.stderr.isTTY);
  const bars = interactive
    ? new MultiBar(
        { format: '{name} [{bar}] {value}/{total} {state} {step} {elapsed}', hideCursor: true, clearOnComplete: false },
        Presets.shades_classic,
      )
    : undefined;
  const bar = new Map<string, SingleBar>();
  const lastLine = new Map<string, string>();
  const failures: string[] = [];
  const begun = new Set<string>();
  let pending = [...targets];

  try {
    while (pending.length) {
      const still: WaitTarget[] = [];
      for (const target of pending) {
        const states = await api.get<States>(`/v1/nodes/${target.uuid}/states`);
        const progress = planProgress(states);
        const state = 'power' in goal ? (states.power_state ?? 'unknown') : states.provision_state;
        const payload = { name: target.name, state, step: progress.step, elapsed: elapsed() };
        if (bars) {
          if (!bar.has(target.uuid)) bar.set(target.uuid, bars.create(progress.total, progress.done, payload));
          bar.get(target.uuid)!.setTotal(progress.total);
          bar.get(target.uuid)!.update(progress.done, payload);
        } else {
          const line = `${target.name}  ${state}  ${progress.step}`.trimEnd();
          if (lastLine.get(target.uuid) !== line) console.error(`${line}  (${payload.elapsed})`);
          lastLine.set(target.uuid, line);
        }
        if (states.target_power_state || states.target_provision_state) begun.add(target.uuid);
        // A change that failed before it was ever seen running still ends the wait after a while.
        const outcome = settled(states, goal, begun.has(target.uuid) || Date.now() - started > UNSEEN_FAILURE_MS);
        if (outcome === false)
          failures.push(`${target.name}: ${state}${states.last_error ? `: ${states.last_error}` : ''}`);
        if (outcome === undefined) still.push(target);
      }
      pending = still;
      if (pending.length) await new Promise((r) => setTimeout(r, POLL_MS));
    }
  } finally {
    bars?.stop();
  }
  if (failures.length) throw new CliError(`failed after ${elapsed()}:\n  ${failures.join('\n  ')}`);
  console.error(`done in ${elapsed()}`);
}
