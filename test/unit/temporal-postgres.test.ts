// The config `npm run temporal:postgres` writes from the Temporal server module's template, checked
// on the parts of that template it changes (go.temporal.io/server v1.29.1,
// config/development-postgres12.yaml, its comments left out): the tests never build or run that server.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  assertTemporalPostgresPort,
  dynamicConfigYaml,
  serverConfig,
  TEMPORAL_POSTGRES_PORTS,
  temporalPostgresPorts,
} from '../../src/cli/temporal-postgres-config.js';

const TEMPLATE = `log:
  stdout: true
  level: info

persistence:
  defaultStore: postgres-default
  visibilityStore: postgres-visibility
  numHistoryShards: 4
  datastores:
    postgres-default:
      sql:
        pluginName: "postgres12"
        databaseName: "temporal"
        connectAddr: "127.0.0.1:5432"
        connectProtocol: "tcp"
        user: "temporal"
        password: "temporal"
        maxConns: 20
        maxIdleConns: 20
        maxConnLifetime: "1h"
    postgres-visibility:
      sql:
        pluginName: "postgres12"
        databaseName: "temporal_visibility"
        connectAddr: "127.0.0.1:5432"
        connectProtocol: "tcp"
        user: "temporal"
        password: "temporal"
        maxConns: 2
        maxIdleConns: 2
        maxConnLifetime: "1h"

global:
  membership:
    maxJoinDuration: 30s
    broadcastAddress: "127.0.0.1"
  pprof:
    port: 7936
  metrics:
    prometheus:
      framework: "tally"
      timerType: "histogram"
      listenAddress: "127.0.0.1:8000"

services:
  frontend:
    rpc:
      grpcPort: 7233
      membershipPort: 6933
      bindOnLocalHost: true
      httpPort: 7243

  matching:
    rpc:
      grpcPort: 7235
      membershipPort: 6935
      bindOnLocalHost: true

  history:
    rpc:
      grpcPort: 7234
      membershipPort: 6934
      bindOnLocalHost: true

  worker:
    rpc:
      grpcPort: 7239
      membershipPort: 6939
      bindOnLocalHost: true

clusterMetadata:
  enableGlobalNamespace: false
  failoverVersionIncrement: 10
  masterClusterName: "active"
  currentClusterName: "active"
  clusterInformation:
    active:
      enabled: true
      initialFailoverVersion: 1
      rpcName: "frontend"
      rpcAddress: "localhost:7233"

dynamicConfigClient:
  filepath: "config/dynamicconfig/development-sql.yaml"
  pollInterval: "10s"
`;

const DB = { host: '127.0.0.1', port: '41000', user: 'postgres', password: 'secret' };
const numbers = (config: string, key: string) =>
  [...config.matchAll(new RegExp(`${key}: "?(?:127\\.0\\.0\\.1:)?(\\d+)`, 'g'))].map((m) => Number(m[1]));

describe('temporal:postgres config', () => {
  it('moves every service port with the frontend port, and lists them all', () => {
    const config = serverConfig(TEMPLATE, DB, 20000);
    const moved = [
      ...numbers(config, 'grpcPort'),
      ...numbers(config, 'membershipPort'),
      ...numbers(config, 'httpPort'),
      ...numbers(config, '  port'),
      ...numbers(config, 'listenAddress'),
    ].sort((a, b) => a - b);
    assert.deepEqual(
      moved,
      temporalPostgresPorts(20000).sort((a, b) => a - b),
    );
    assert.match(config, /rpcAddress: "127\.0\.0\.1:20000"/);
    assert.deepEqual(numbers(config, 'connectAddr'), [41000, 41000]);
  });

  it('keeps a user and password as given, quoted for YAML', () => {
    const config = serverConfig(TEMPLATE, { ...DB, user: 'o"neil', password: 'a$&b\\c' }, 7233);
    assert.equal(config.match(/user: (.*)/g)?.length, 2);
    assert.ok(config.includes('user: "o\\"neil"'));
    assert.ok(config.includes('password: "a$&b\\\\c"'));
  });

  it('refuses a template without a setting it changes, naming it', () => {
    assert.throws(
      () => serverConfig(TEMPLATE.replace(/maxConns: 2\n/, ''), DB, 7233),
      /no the visibility store's maxConns and maxIdleConns to set/,
    );
    assert.throws(() => serverConfig(TEMPLATE.replace('numHistoryShards: 4', ''), DB, 7233), /no numHistoryShards/);
  });

  it('runs 16 history shards, logs warnings only, and gives visibility 10 connections', () => {
    const config = serverConfig(TEMPLATE, DB, 7233);
    assert.match(config, /numHistoryShards: 16\n/);
    assert.match(config, /^log:\n  stdout: true\n  level: warn$/m);
    assert.match(config, /databaseName: "temporal_visibility"\n(?:.*\n)*?\s+maxConns: 10\n\s+maxIdleConns: 10\n/);
    assert.deepEqual(numbers(config, 'maxConns'), [20, 10]);
  });

  it("keeps the dev server's settings and runs one task queue partition", () => {
    const yaml = dynamicConfigYaml();
    assert.match(yaml, /^system\.enableActivityEagerExecution:\n  - value: true$/m);
    assert.match(yaml, /^matching\.numTaskqueueReadPartitions:\n  - value: 1$/m);
    assert.match(yaml, /^matching\.numTaskqueueWritePartitions:\n  - value: 1$/m);
  });

  it('refuses a port that would put a membership port beyond PostgreSQL smallint, naming the range', () => {
    const { min, max } = TEMPORAL_POSTGRES_PORTS;
    assert.doesNotThrow(() => assertTemporalPostgresPort(7233));
    assert.doesNotThrow(() => assertTemporalPostgresPort(max));
    assert.ok(Math.max(...temporalPostgresPorts(max).slice(0, 4)) <= 32767);
    assert.throws(() => assertTemporalPostgresPort(max + 1), new RegExp(`--port must be between ${min} and ${max}`));
    assert.throws(() => assertTemporalPostgresPort(40000), /smallint/);
  });
});
