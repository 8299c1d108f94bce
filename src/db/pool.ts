import pg from 'pg';

export type Pool = pg.Pool;
export type PoolClient = pg.PoolClient;
export type Queryable = pg.Pool | pg.PoolClient;

export interface PoolOptions {
  max?: number;
  /** How long getting a connection may take before the query fails (PG_CONNECT_TIMEOUT_MS). */
  connectTimeoutMs?: number;
  /**
   * How long one statement may run, and a transaction may sit idle, before PostgreSQL ends it
   * (PG_STATEMENT_TIMEOUT_MS): no request or activity holds row locks for long.
   */
  statementTimeoutMs?: number;
  /** Told of connections that broke (a restarted or unreachable server); the pool makes new ones. */
  onConnectionError?: (err: Error) => void;
}

export const DEFAULT_PG_CONNECT_TIMEOUT_MS = 5_000;
export const DEFAULT_PG_STATEMENT_TIMEOUT_MS = 30_000;

export function createPool(databaseUrl: string, options: PoolOptions = {}): pg.Pool {
  const statementTimeout = options.statementTimeoutMs ?? DEFAULT_PG_STATEMENT_TIMEOUT_MS;
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: options.max ?? 20,
    connectionTimeoutMillis: options.connectTimeoutMs ?? DEFAULT_PG_CONNECT_TIMEOUT_MS,
    statement_timeout: statementTimeout,
    idle_in_transaction_session_timeout: statementTimeout,
  });
  const onError = options.onConnectionError ?? (() => undefined);
  // Without these, a connection the server drops (restart, killed backend) is an unhandled 'error'
  // event, which ends the process: idle ones report through the pool, checked-out ones on themselves.
  pool.on('error', onError);
  pool.on('connect', (client) => client.on('error', onError));
  return pool;
}

/** SQLSTATE classes and codes of a database that is away or restarting, rather than of a bad query. */
const UNAVAILABLE_CODES = new Set(['57P01', '57P02', '57P03', '53300']);
const UNAVAILABLE_NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EHOSTUNREACH',
]);
const UNAVAILABLE_MESSAGES = [
  'Connection terminated',
  'timeout exceeded when trying to connect',
  'Client has encountered a connection error',
  'Connection ended unexpectedly',
  'Client was closed and is not queryable',
];

/** Whether `err` says the database cannot be reached now (worth retrying later), not that a query was wrong. */
export function isDatabaseUnavailable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  const code = (err as { code?: unknown }).code;
  if (
    typeof code === 'string' &&
    (UNAVAILABLE_CODES.has(code) || code.startsWith('08') || UNAVAILABLE_NETWORK_CODES.has(code))
  )
    return true;
  if (err instanceof AggregateError && err.errors.some(isDatabaseUnavailable)) return true;
  return UNAVAILABLE_MESSAGES.some((message) => err.message.includes(message));
}

/** Runs `work` in one transaction on one connection. */
export async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  let broken: Error | undefined;
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (err) {
    // A connection that broke cannot roll back; the server has already dropped its transaction.
    await client.query('ROLLBACK').catch((rollbackErr: Error) => (broken = rollbackErr));
    throw err;
  } finally {
    // A broken connection is thrown away, not handed to the next caller.
    client.release(broken);
  }
}
