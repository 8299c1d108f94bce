// The PostgreSQL pool of a process (API, worker), with its settings, logging connections that
// break: the pool replaces them, and the process carries on through a database restart.
import type { Config } from '../config.js';
import { createPool, type Pool } from '../db/pool.js';
import type { Logger } from '../logger.js';

export function openPool(config: Config, logger: Logger): Pool {
  return createPool(config.databaseUrl, {
    max: config.pgPoolSize,
    connectTimeoutMs: config.pgConnectTimeoutMs,
    statementTimeoutMs: config.pgStatementTimeoutMs,
    onConnectionError: (err) =>
      logger.warn(
        { err: { message: err.message, code: (err as { code?: string }).code } },
        'a PostgreSQL connection broke; it is replaced on next use',
      ),
  });
}
