import type { BootMedia } from '../boot/virtual-media.js';
import type { Pool } from '../db/pool.js';
import type { BmcAccess } from '../domain/bmc-access.js';
import { createAgentActivities } from './agent.js';
import { createBmcActivities } from './bmc.js';
import { createInspectionActivities } from './inspection.js';
import { createNodeStateActivities } from './node-state.js';
import { createPowerSyncActivities } from './power-sync.js';
import { createReservationActivities } from './reservations.js';
import { createStepActivities } from './steps.js';
import { createWarmPoolActivities } from './warm-pools.js';

export interface ActivityOptions {
  /** Derives agent tokens; the API must hold the same key. */
  agentTokenKey?: string;
  /** Cleaning leaves the agent running for the next operation (Ironic's fast_track). */
  fastTrack?: boolean;
  /** The ramdisk ISO a virtual-media boot inserts. */
  ramdiskIsoUrl?: string;
  /** Per-boot virtual-media ISOs. */
  bootMedia?: BootMedia;
  /** How long a booting ramdisk may take to heartbeat. */
  agentBootTimeoutSeconds?: number;
  /** Where BMCs may be and where CA bundles come from; default: anywhere, no CA bundles. */
  bmcAccess?: BmcAccess;
}

/** Our own records: node state, the event log, step plans. Quick and idempotent (local activities). */
export type RecordActivities = ReturnType<typeof createNodeStateActivities> &
  ReturnType<typeof createStepActivities> &
  ReturnType<typeof createReservationActivities> &
  ReturnType<typeof createInspectionActivities>;
/** Calls to a node's BMC. */
export type BmcActivities = ReturnType<typeof createBmcActivities>;
/** Calls to a node's in-band agent. */
export type AgentActivities = ReturnType<typeof createAgentActivities>;
/** Power sync's batches of BMC checks. */
export type PowerSyncActivities = ReturnType<typeof createPowerSyncActivities>;
/** A warm pool's rounds: agent status calls, then the plan. */
export type WarmPoolActivities = ReturnType<typeof createWarmPoolActivities>;

/** Every activity the worker registers; workflows reach them through one proxy per group. */
export function createActivities(
  pool: Pool,
  options: ActivityOptions = {},
): RecordActivities & BmcActivities & AgentActivities & PowerSyncActivities & WarmPoolActivities {
  return {
    ...createNodeStateActivities(pool, options),
    ...createStepActivities(pool),
    ...createReservationActivities(pool),
    ...createInspectionActivities(pool),
    ...createBmcActivities(pool, options),
    ...createAgentActivities(pool, options.agentTokenKey),
    ...createPowerSyncActivities(pool, options),
    ...createWarmPoolActivities(pool, options.agentTokenKey),
  };
}
