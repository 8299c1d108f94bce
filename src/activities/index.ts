import type { Pool } from '../db/pool.js';
import { createAgentActivities } from './agent.js';
import { createBmcActivities } from './bmc.js';
import { createNodeStateActivities } from './node-state.js';
import { createStepActivities } from './steps.js';

export interface ActivityOptions {
  /** Derives agent tokens; the API must hold the same key. */
  agentTokenKey?: string;
  /** Cleaning leaves the agent running for the next operation (Ironic's fast_track). */
  fastTrack?: boolean;
  /** The ramdisk ISO a virtual-media boot inserts. */
  ramdiskIsoUrl?: string;
  /** How long a booting ramdisk may take to heartbeat. */
  agentBootTimeoutSeconds?: number;
}

export function createActivities(pool: Pool, options: ActivityOptions = {}) {
  return {
    ...createNodeStateActivities(pool, options),
    ...createBmcActivities(pool, options),
    ...createAgentActivities(pool, options.agentTokenKey),
    ...createStepActivities(pool),
  };
}

export type Activities = ReturnType<typeof createActivities>;
