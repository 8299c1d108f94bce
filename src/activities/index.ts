import type { Pool } from '../db/pool.js';
import { createBmcActivities } from './bmc.js';
import { createNodeStateActivities } from './node-state.js';

export function createActivities(pool: Pool) {
  return { ...createNodeStateActivities(pool), ...createBmcActivities(pool) };
}

export type Activities = ReturnType<typeof createActivities>;
