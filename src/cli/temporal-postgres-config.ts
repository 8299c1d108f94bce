// What `npm run temporal:postgres` writes for the Temporal server: its config, from the server
// module's config/development-postgres12.yaml, and its dynamic config (which docker-compose.yml
// mounts too, as docker/temporal-dynamic-config.yaml); the ports it may take.
import { TEMPORAL_DYNAMIC_CONFIG } from './temporal-server.js';

export const HISTORY_SHARDS = 16;
const VISIBILITY_CONNECTIONS = 10;

/** The ports the module's development-postgres12.yaml gives the services; --port moves them all by its distance from 7233. */
const TEMPLATE_FRONTEND_PORT = 7233;
const TEMPLATE_MEMBERSHIP_PORTS = [6933, 6934, 6935, 6939];
const TEMPLATE_METRICS_PORT = 8000;
const TEMPLATE_OTHER_PORTS = [7233, 7234, 7235, 7239, 7243, 7936 /* pprof */, TEMPLATE_METRICS_PORT];
/** The server release whose template these describe (scripts/temporal-postgres.sh builds it). */
const TEMPLATE_VERSION = 'go.temporal.io/server v1.29.1';
/** The server stores its membership ports in a PostgreSQL smallint: none may be above 32767. */
const MAX_MEMBERSHIP_PORT = 32767;
export const TEMPORAL_POSTGRES_PORTS = {
  min: TEMPLATE_FRONTEND_PORT - Math.min(...TEMPLATE_MEMBERSHIP_PORTS, ...TEMPLATE_OTHER_PORTS) + 1024,
  max: MAX_MEMBERSHIP_PORT - Math.max(...TEMPLATE_MEMBERSHIP_PORTS) + TEMPLATE_FRONTEND_PORT,
};

/** Every port the server listens on when its frontend is on `port`. */
export function temporalPostgresPorts(port: number): number[] {
  return [...TEMPLATE_MEMBERSHIP_PORTS, ...TEMPLATE_OTHER_PORTS].map((p) => p + port - TEMPLATE_FRONTEND_PORT);
}

/** Refuses a frontend port that would put one of the services' ports out of the allowed range. */
export function assertTemporalPostgresPort(port: number): void {
  const { min, max } = TEMPORAL_POSTGRES_PORTS;
  if (port < min || port > max)
    throw new Error(
      `--port must be between ${min} and ${max}: the other services' ports move with it ` +
        `(${temporalPostgresPorts(port).join(', ')} for ${port}), and Temporal stores its ` +
        `membership ports as a PostgreSQL smallint (at most ${MAX_MEMBERSHIP_PORT})`,
    );
}

/** One change serverConfig makes to the template; `what` names it when the template lacks it. */
interface TemplateEdit {
  what: string;
  pattern: RegExp;
  replace: (match: string, ...groups: string[]) => string;
}

/**
 * The module's development-postgres12.yaml with our shards, database, ports, logging and
 * visibility pool. A template without one of the settings it changes is refused, naming it.
 */
export function serverConfig(
  template: string,
  db: { host: string; port: string; user: string; password: string },
  port: number,
): string {
  const portOffset = port - TEMPLATE_FRONTEND_PORT;
  const edits: TemplateEdit[] = [
    {
      what: 'numHistoryShards',
      pattern: /numHistoryShards: \d+/,
      replace: () => `numHistoryShards: ${HISTORY_SHARDS}`,
    },
    // The template logs every info line to stdout; warnings and errors are what an operator reads.
    { what: 'log level', pattern: /^(log:\n(?: {2}.*\n)*? {2}level: )\w+$/m, replace: (_, head) => `${head}warn` },
    // Every start and close of a workflow writes visibility: the template's 2 connections made
    // bursts of operations queue for them with the cores idle. 10 is the auto-setup image's default.
    {
      what: "the visibility store's maxConns and maxIdleConns",
      // Each line of the block on its own (` +.*\n`): a pattern whose lines could span newlines
      // backtracks for ever on a template without the setting.
      pattern: /(postgres-visibility:\n(?: +.*\n)*? +maxConns: )\d+\n( +maxIdleConns: )\d+\n/,
      replace: (_, conns, idle) => `${conns}${VISIBILITY_CONNECTIONS}\n${idle}${VISIBILITY_CONNECTIONS}\n`,
    },
    {
      what: 'connectAddr',
      pattern: /connectAddr: "127\.0\.0\.1:5432"/g,
      replace: () => `connectAddr: ${JSON.stringify(`${db.host}:${db.port}`)}`,
    },
    // A JSON string is a YAML double-quoted scalar: any user or password stays as given.
    { what: 'user', pattern: /user: "temporal"/g, replace: () => `user: ${JSON.stringify(db.user)}` },
    { what: 'password', pattern: /password: "temporal"/g, replace: () => `password: ${JSON.stringify(db.password)}` },
    // Every service port moves with the frontend's, so a second server can run beside the dev one.
    {
      what: 'service ports',
      pattern: /(grpcPort|membershipPort|httpPort|port): (\d{4})\b/g,
      replace: (_, key, value) => `${key}: ${Number(value) + portOffset}`,
    },
    {
      what: 'rpcAddress',
      pattern: new RegExp(`rpcAddress: "localhost:${TEMPLATE_FRONTEND_PORT}"`),
      replace: () => `rpcAddress: "127.0.0.1:${port}"`,
    },
    {
      what: "the metrics' listenAddress",
      pattern: new RegExp(`listenAddress: "127\\.0\\.0\\.1:${TEMPLATE_METRICS_PORT}"`),
      replace: () => `listenAddress: "127.0.0.1:${TEMPLATE_METRICS_PORT + portOffset}"`,
    },
  ];
  return edits.reduce((config, { what, pattern, replace }) => {
    if (config.search(pattern) === -1)
      throw new Error(`the Temporal server's config template has no ${what} to set (written for ${TEMPLATE_VERSION})`);
    return config.replace(pattern, replace);
  }, template);
}

/**
 * Tempered's server settings (the dev server's), and one task queue partition where the server's
 * default is four. Measured with 200 power changes at once on 2 cores: with four, a workflow task
 * waited up to 7 s in a partition's backlog for a poller while the cores were half idle (24 changes/s);
 * with one, 46–51/s at 90 % busy. A queue past a few hundred tasks/s across many workers wants more.
 */
const DYNAMIC_CONFIG = {
  ...TEMPORAL_DYNAMIC_CONFIG,
  'matching.numTaskqueueReadPartitions': 1,
  'matching.numTaskqueueWritePartitions': 1,
};

/** The settings in the dynamic config file's shape: each key a list of values. */
export function dynamicConfigYaml(): string {
  return Object.entries(DYNAMIC_CONFIG)
    .map(([key, value]) => `${key}:\n  - value: ${JSON.stringify(value)}\n`)
    .join('');
}
