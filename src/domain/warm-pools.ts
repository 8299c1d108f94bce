// Warm pools: how many of a pool's nodes to keep pre-booted, and which to boot or power down to
// get there. Pure: the pool's workflow gets the nodes from an activity and acts on the plan.

export interface WarmPoolTarget {
  /** Keep this many pre-booted… */
  target_count: number | null;
  /** …or this share (0..1) of the pool's usable available nodes, rounded up. */
  target_share: number | null;
}

/** An available node that matches the pool, as the pool sees it. */
export interface PoolMember {
  uuid: string;
  /** Pre-booted: its agent is up (CUSTOM_PREBOOTED). */
  warm: boolean;
  /** An operation holds it (a boot under way, a deploy starting): counted as it is, never touched. */
  busy: boolean;
  /** Not in maintenance, not retired, no last_error left for the operator: the pool may act on it. */
  usable: boolean;
}

export interface WarmPoolPlan {
  target: number;
  warm: number;
  boot: string[];
  powerOff: string[];
}

export function warmTarget(pool: WarmPoolTarget, usableNodes: number): number {
  // Less a hair, so that 0.3 × 10 (3.0000000000000004 in floating point) is 3, not 4.
  return pool.target_count ?? Math.max(0, Math.ceil((pool.target_share ?? 0) * usableNodes - 1e-9));
}

/**
 * Boots idle usable nodes while fewer than the target are warm or booting; powers down the idle
 * warm ones beyond it, the latest enrolled (members come in enrolment order). Nodes that are busy or
 * not usable are never picked: a failed boot is left for the operator rather than tried again.
 */
export function planWarmPool(pool: WarmPoolTarget, members: readonly PoolMember[]): WarmPoolPlan {
  const usable = members.filter((m) => m.usable);
  const target = warmTarget(pool, usable.length);
  const warm = members.filter((m) => m.warm).length;
  const booting = members.filter((m) => m.busy && !m.warm).length;
  const missing = target - warm - booting;
  const idle = usable.filter((m) => !m.busy);
  return {
    target,
    warm,
    boot:
      missing > 0
        ? idle
            .filter((m) => !m.warm)
            .slice(0, missing)
            .map((m) => m.uuid)
        : [],
    // A busy warm node is most likely being taken (a deploy starting): it is not one to keep.
    powerOff: idle
      .filter((m) => m.warm)
      .slice(target)
      .map((m) => m.uuid),
  };
}
